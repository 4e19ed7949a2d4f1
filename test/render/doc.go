// Package render holds the golden tests of the addon's X-Definitions
// (definitions/*.cue), run with cuelang.org/go only, no cluster.
//
// Traits render the way KubeVela v1.11 does (its trait definition's
// Complete): the body of the file's `template` block,
// with the file's imports, is compiled together with `parameter: <JSON of the
// trait properties>` and `context: <JSON>` (component reviews of app
// book-info in namespace default, testdata/context.yaml; context.output is
// the workload rendered so far, context.outputs the outputs of the traits
// rendered before, context.components the Application's components) by
// vela's WorkloadCompiler: its `vela/kube` import resolves to a stub of
// kubevela/pkg's cuex kube package (testdata/vela-workload), and its provider
// calls are resolved as cuex.Compiler.Resolve does, kube.#List answered from
// the live Deployments the case gives. A non-empty `errs` list or a value
// that does not validate fails the rendering with vela's message; otherwise
// `outputs.<name>` are the trait's objects and `patch` is unified into the
// workload; both must be concrete, as vela needs them to be to apply them. A
// case can list traits that render before the one under test and traits
// listed after it (only seen in context.components); the golden file holds
// the provider calls made, with their parameters.
//
// Workflow steps have no single rendering: vela compiles the step with its
// parameter and context, then its CueX resolver repeatedly takes the first
// struct with a #do field (depth first, children before parents, fields
// ordered by @step, paths with "#" skipped), calls the provider and fills
// $returns, until no call is left or one stops the step. runStep does the
// same against fakes: kube read/apply, oam load/render/apply (the component
// rendered with this repo's traits, then the call's patch applied with vela's
// strategic unify), builtin wait/fail/message/suspend, and the istio-canary
// provider's plan/scale answers given by the case. It keeps vela's details
// that matter: provider answers reach CUE as float64 (an external provider's
// JSON) or as integers (in-process providers), in-process calls need the
// whole call struct concrete, panics fail the step. The calls made, with
// their parameters and answers, and how the evaluation ends are the golden
// file. The `vela/kube`, `vela/builtin` and `vela/oam` imports resolve to
// stubs in testdata/vela, loaded as vela loads its internal packages;
// TestStubsMatchKubeVela compares their contract, and that of the traits'
// stubs, with the real ones. The component a step renders sees the live
// Deployments of testdata/live/<state>.yaml (the objects in the cluster).
//
// A step case that names its live state says that its plan and scale
// answers are the provider's for those objects: TestStepContract runs it
// again against the real provider (providers/server over fake clientsets
// holding the objects, called over HTTP with the JSON of $params), and both
// runs must make the same calls and end alike.
//
// Layout: testdata/<definition>/<case>.yaml is the input (its fields are
// documented on traitCase and stepCase), <case>.golden.yaml the rendering.
//
//	go test ./test/render/                       # compare
//	go test ./test/render/ -update               # rewrite the golden files (review the diff)
//	go test ./test/render/ -definitions <dir>    # try changed definitions elsewhere
//
// An invalid case states what its error must mention; a step case states the
// phase it must end in.
package render
