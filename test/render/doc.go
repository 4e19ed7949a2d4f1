// Package render holds the golden tests of the addon's X-Definitions
// (definitions/*.cue).
//
// The tests render every definition the way KubeVela v1.11 does, with
// cuelang.org/go only:
//
//   - traits: the body of the file's `template` block (with the file's
//     imports) is compiled together with `parameter: <JSON of the trait
//     properties>` and a `context` (component reviews of app book-info in
//     namespace default, context.output = the workload rendered so far,
//     context.outputs = the outputs of earlier traits); a non-empty `errs`
//     list or a value that does not validate fails the rendering, else
//     `outputs.<name>` are the trait's objects and `patch` is unified into the
//     workload; outputs and the patched workload must be concrete.
//   - workflow steps: a small simulator of KubeVela's CueX resolver runs the
//     step's provider calls (`#do`/`#provider` structs) against fakes given
//     per test case and records the calls made.
//
// Inputs live in testdata/<definition>/<case>.yaml, the expected rendering in
// <case>.golden.yaml next to it; `go test ./test/render/ -update` rewrites the
// golden files.
package render
