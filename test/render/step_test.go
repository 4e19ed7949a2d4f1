package render

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// A workflow step has no single rendering: vela compiles the step's template
// with `parameter` and `context`, then its CueX resolver repeatedly finds the
// next provider call (a struct with #do and #provider) and fills in what the
// provider returns, until no call is left or one stops the step. The
// simulator below does the same against fakes and records the calls.

// stubPackages are the vela/* packages the steps import, built from
// testdata/vela/<name>/*.cue.
func stubPackages(t *testing.T) []*build.Instance {
	t.Helper()
	pkgs, err := loadStubPackages("vela", "builtin", "kube", "oam")
	require.NoError(t, err)
	return pkgs
}

// compileStep builds the step's template with its parameter and context, as
// vela's custom task loader does (template + "parameter: ..." + "context: ...").
func compileStep(t *testing.T, def *definition, properties, ctx map[string]any) (cue.Value, error) {
	t.Helper()
	if properties == nil {
		properties = map[string]any{}
	}
	src := def.Template + "\nparameter: " + mustJSON(t, properties) + "\ncontext: " + mustJSON(t, ctx) + "\n"
	f, err := parser.ParseFile(def.Name+".cue", src, parser.ParseComments)
	if err != nil {
		return cue.Value{}, err
	}
	bi := build.NewContext().NewInstance("", nil)
	bi.Imports = stubPackages(t)
	if err := bi.AddSyntax(f); err != nil {
		return cue.Value{}, err
	}
	v := cuecontext.New().BuildInstance(bi)
	if !v.Exists() {
		return v, v.Err()
	}
	return v, nil
}

// call is one provider call a step or a trait made.
type call struct {
	Path     string `json:"path"`
	Provider string `json:"provider"`
	Do       string `json:"do"`
	Params   any    `json:"params,omitempty"`
	// Patch is $params.patch as CUE with its comments, as vela reads it
	// (Syntax with Docs): the +patchStrategy comments must survive.
	Patch   string `json:"patch,omitempty"`
	Returns any    `json:"returns,omitempty"`
}

// stepRun is what one evaluation of a step did.
type stepRun struct {
	Calls []call `json:"calls"`
	// Phase is how the evaluation ended: succeeded, wait, failed, suspended
	// (builtin actions) or error (a failed call or a broken template: vela
	// retries the step, then fails the workflow).
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	// Unresolved lists the errors left inside the final value that vela does
	// not look at (it only checks the root); a non-empty list means part of
	// the step silently did not happen.
	Unresolved []string `json:"unresolved,omitempty"`

	final cue.Value // the value at the end, for debugging
}

// action is what a builtin call asks of the workflow.
type action int

const (
	actNone action = iota
	actWait
	actFail
	actSuspend
)

// fakeResult is a fake provider's answer: the JSON object to fill into
// $returns (nil: nothing), the action, and its message.
type fakeResult struct {
	Returns map[string]any
	Action  action
	Message string
	// Record replaces Returns in the recorded call (to keep golden files short).
	Record any
	// Flag marks the step as waiting without stopping the evaluation
	// (oam.#ApplyComponent of a component that is not healthy yet).
	Flag string
}

// fakeFn answers a call. params is the JSON of the call's $params, v the call
// struct (for the providers that read CUE, like component-apply's patch).
type fakeFn func(params map[string]any, v cue.Value) (*fakeResult, error)

// internal marks the providers vela runs in-process, as GenericProviderFn:
// those marshal the whole call struct to JSON, so all of it must be concrete.
// The native ones (oam component-render/-apply, kube patch) read $params as
// CUE; external providers (istio-canary) get the JSON of $params.
var wholeValueJSON = map[string]bool{
	"kube/apply": true, "kube/read": true,
	"builtin/wait": true, "builtin/fail": true, "builtin/message": true, "builtin/suspend": true,
	"oam/load": true,
}

// runStep evaluates a step once, as the CueX resolver (kubevela/pkg
// cue/cuex.Compiler.Resolve) does.
func runStep(t *testing.T, def *definition, properties, ctx map[string]any, fakes map[string]fakeFn) (run *stepRun) {
	t.Helper()
	run = &stepRun{Calls: []call{}}
	// vela's task runner recovers from panics in the evaluation (cue's
	// Value.Path panics on values reached through a let, for one) and fails
	// the step with this message.
	defer func() {
		if r := recover(); r != nil {
			run.Phase, run.Message = "error", fmt.Sprintf("invalid cue task for evaluation: %v", r)
		}
	}()
	val, err := compileStep(t, def, properties, ctx)
	if err != nil {
		run.Phase, run.Message = "error", "compile: "+err.Error()
		return run
	}
	executed := map[string]bool{}
	var flagged string
	for {
		next := nextCall(val, executed)
		if next == nil {
			break
		}
		prd, do := callKey(*next)
		c := call{Path: next.Path().String(), Provider: prd, Do: do}
		key := prd + "/" + do
		fake, ok := fakes[key]
		if !ok {
			run.Calls = append(run.Calls, c)
			run.Phase, run.Message = "error", fmt.Sprintf("no provider function %s (the simulator has no fake for it)", key)
			return run
		}
		paramsVal := next.LookupPath(cue.ParsePath("$params"))
		var params map[string]any
		if wholeValueJSON[key] {
			if _, err := next.MarshalJSON(); err != nil {
				run.Calls = append(run.Calls, c)
				run.Phase, run.Message = "error", fmt.Sprintf("%s: %v", c.Path, err)
				return run
			}
		}
		pb, err := paramsVal.MarshalJSON()
		if err != nil {
			run.Calls = append(run.Calls, c)
			run.Phase, run.Message = "error", fmt.Sprintf("%s: $params: %v", c.Path, err)
			return run
		}
		require.NoError(t, json.Unmarshal(pb, &params))
		c.Params = params
		if p := paramsVal.LookupPath(cue.ParsePath("patch")); p.Exists() {
			c.Patch = cueSyntax(t, p)
		}
		if prd == "istio-canary" && providerDecodesStrictly {
			if bad := nonIntegerNumber(pb); bad != "" {
				c.Returns = map[string]any{"err": "decode $params: json: cannot unmarshal number " + bad + " into Go value of type int"}
				run.Calls = append(run.Calls, c)
				val = val.FillPath(next.Path(), fillReturns(t, *next, key, c.Returns.(map[string]any)))
				executed[next.Path().String()] = true
				continue
			}
		}
		res, err := fake(params, *next)
		if err != nil {
			run.Calls = append(run.Calls, c)
			run.Phase, run.Message = "error", fmt.Sprintf("%s: %s: %v", c.Path, key, err)
			return run
		}
		if res.Record != nil {
			c.Returns = res.Record
		} else if res.Returns != nil {
			c.Returns = res.Returns
		}
		run.Calls = append(run.Calls, c)
		switch res.Action {
		case actWait:
			run.Phase, run.Message = "wait", res.Message
			return run
		case actFail:
			run.Phase, run.Message = "failed", res.Message
			return run
		case actSuspend:
			run.Phase, run.Message = "suspended", res.Message
			return run
		}
		if res.Flag != "" && flagged == "" {
			flagged = res.Flag
		}
		if res.Returns != nil {
			val = val.FillPath(next.Path(), fillReturns(t, *next, key, res.Returns))
		}
		executed[next.Path().String()] = true
	}
	run.final = val
	if err := val.Err(); err != nil {
		run.Phase, run.Message = "error", strings.Join(cueErrorLines(err), "; ")
		return run
	}
	if err := val.Validate(); err != nil {
		for _, e := range splitErrors(err) {
			run.Unresolved = append(run.Unresolved, e)
		}
	}
	if flagged != "" {
		run.Phase, run.Message = "wait", flagged
		return run
	}
	run.Phase = "succeeded"
	return run
}

// fillReturns fills a call's $returns as vela does. An external provider's
// JSON answer is decoded into map[string]any, so its numbers reach CUE as
// float64 (floats in CUE: 10 marshals back as 1E+1); the in-process
// providers return Go objects whose integers stay integers.
func fillReturns(t *testing.T, call cue.Value, key string, returns map[string]any) cue.Value {
	t.Helper()
	b, err := json.Marshal(returns)
	require.NoError(t, err)
	if strings.HasPrefix(key, "istio-canary/") {
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		return call.FillPath(cue.ParsePath("$returns"), m)
	}
	v := call.Context().CompileBytes(b)
	require.NoError(t, v.Err())
	return call.FillPath(cue.ParsePath("$returns"), v)
}

// providerDecodesStrictly mirrors providers/server: it decodes $params with
// encoding/json straight into its Go types, so a number CUE writes as 1E+1
// does not fit an int field and the call answers {"err": "decode $params:
// ..."}. Set it to false once the server decodes such numbers (and drop the
// knownBug of canary-rollout/ten-instance-batches).
const providerDecodesStrictly = false

// nonIntegerNumber returns the first number in the JSON that Go's
// encoding/json will not decode into an int (1E+1, 2.0), or "". The
// provider's $params hold no floats, so such a number fails its decoding.
func nonIntegerNumber(js []byte) string {
	dec := json.NewDecoder(strings.NewReader(string(js)))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if n, ok := tok.(json.Number); ok && strings.ContainsAny(n.String(), ".eE") {
			return n.String()
		}
	}
}

func splitErrors(err error) []string {
	out := cueErrorLines(err)
	sort.Strings(out)
	return out
}

// cueErrorLines lists the errors in err, each with its path.
func cueErrorLines(err error) []string {
	var out []string
	for _, e := range cueerrors.Errors(err) {
		msg := e.Error()
		if p := strings.Join(e.Path(), "."); p != "" && !strings.HasPrefix(msg, p) {
			msg = p + ": " + msg
		}
		out = append(out, msg)
	}
	return out
}

// cueSyntax formats a value as CUE with its comments, the way vela hands a
// patch to its strategic unify (Syntax with Docs and resolved references).
func cueSyntax(t *testing.T, v cue.Value) string {
	t.Helper()
	n := v.Syntax(cue.Docs(true), cue.ResolveReferences(true))
	var b []byte
	var err error
	if e, ok := n.(ast.Expr); ok {
		b, err = format.Node(e)
	} else {
		b, err = format.Node(n)
	}
	require.NoError(t, err)
	return strings.ReplaceAll(string(b), "\t", "  ")
}

// stepCase is one testdata/<step>/<case>.yaml: the step's properties and
// what the fakes answer.
type stepCase struct {
	Description string         `json:"description"`
	Properties  map[string]any `json:"properties,omitempty"`
	// Context is merged over testdata/step-context.yaml.
	Context map[string]any `json:"context,omitempty"`
	// Application replaces testdata/bookinfo.yaml: the components
	// oam.#LoadComponets returns, by name.
	Application map[string]any `json:"application,omitempty"`
	// NoSecret makes kube.#Read of the provider's Secret answer not found.
	NoSecret bool `json:"noSecret,omitempty"`
	// Plan and Scale are the istio-canary provider's answers, by component.
	Plan  map[string]map[string]any `json:"plan,omitempty"`
	Scale map[string]map[string]any `json:"scale,omitempty"`
	// PlanError makes every plan call fail (provider unreachable).
	PlanError string `json:"planError,omitempty"`
	// Unhealthy components make oam.#ApplyComponent flag the step as waiting.
	Unhealthy []string `json:"unhealthy,omitempty"`
	// Live replaces testdata/step-live.yaml: the Deployments in the cluster,
	// which the traits' kube.#List reads when a component renders.
	Live []map[string]any `json:"live,omitempty"`
	// Want is how the evaluation must end.
	Want struct {
		Phase string `json:"phase"`
		// MessageMentions must all be in the message (for failed: name the field).
		MessageMentions []string `json:"messageMentions,omitempty"`
	} `json:"want"`
	// KnownBug marks a case that does not end as Want says because of a bug
	// in the definition (say which, and the fix): the test then asserts that
	// it still does not, so that fixing it makes the test fail: remove
	// knownBug, -update.
	KnownBug string `json:"knownBug,omitempty"`
}

// providerSecret is the provider's token Secret as kube.#Read returns it.
var providerSecret = map[string]any{
	"apiVersion": "v1",
	"kind":       "Secret",
	"metadata":   map[string]any{"name": "istio-canary-provider", "namespace": "vela-system"},
	"type":       "Opaque",
	"data":       map[string]any{"token": "c2VjcmV0LXRva2Vu"},
}

// stepFakes builds the fake providers of a case.
func stepFakes(t *testing.T, defs map[string]*definition, tc stepCase, app map[string]any, ctx map[string]any, live *cluster) map[string]fakeFn {
	appName, _ := ctx["appName"].(string)
	namespace, _ := ctx["namespace"].(string)
	components := appComponents(app)
	unhealthy := map[string]bool{}
	for _, n := range tc.Unhealthy {
		unhealthy[n] = true
	}
	// render is vela's component render for the fake oam provider: the
	// component with its traits, then the call's patch (workload, and
	// traits[<output name>]) applied with vela's strategic unify.
	render := func(params map[string]any, v cue.Value) (map[string]any, error) {
		comp, _ := params["value"].(map[string]any)
		wl, outputs, err := renderComponent(defs, appName, namespace, components, live, comp)
		if err != nil {
			return nil, fmt.Errorf("render component %v: %w", comp["name"], err)
		}
		patch := v.LookupPath(cue.ParsePath("$params.patch"))
		if patch.Exists() {
			if p := patch.LookupPath(cue.ParsePath("workload")); p.Exists() {
				if wl, err = patchObject(wl, p); err != nil {
					return nil, fmt.Errorf("patch workload: %w", err)
				}
			}
			for name, o := range outputs {
				if p := patch.LookupPath(cue.MakePath(cue.Str("traits"), cue.Str(name))); p.Exists() {
					if outputs[name], err = patchObject(o.(map[string]any), p); err != nil {
						return nil, fmt.Errorf("patch outputs.%s: %w", name, err)
					}
				}
			}
		}
		ret := map[string]any{"output": wl}
		if len(outputs) > 0 {
			ret["outputs"] = outputs
		}
		return ret, nil
	}
	return map[string]fakeFn{
		"kube/read": func(p map[string]any, _ cue.Value) (*fakeResult, error) {
			obj, _ := p["value"].(map[string]any)
			meta, _ := obj["metadata"].(map[string]any)
			if obj["kind"] == "Secret" && meta["name"] == "istio-canary-provider" && meta["namespace"] == "vela-system" && !tc.NoSecret {
				return &fakeResult{Returns: map[string]any{"value": providerSecret}}, nil
			}
			return &fakeResult{Returns: map[string]any{"value": obj, "err": fmt.Sprintf("%s %q not found", strings.ToLower(fmt.Sprint(obj["kind"]))+"s", meta["name"])}}, nil
		},
		"kube/apply": func(p map[string]any, _ cue.Value) (*fakeResult, error) {
			obj, _ := p["value"].(map[string]any)
			if obj == nil || obj["kind"] == nil || obj["apiVersion"] == nil {
				return nil, fmt.Errorf("apply: value is not a Kubernetes object: %v", obj)
			}
			return &fakeResult{Returns: map[string]any{"value": obj}}, nil
		},
		"oam/load": func(map[string]any, cue.Value) (*fakeResult, error) {
			var names []string
			for n := range app {
				names = append(names, n)
			}
			sort.Strings(names)
			return &fakeResult{Returns: map[string]any{"value": app}, Record: map[string]any{"value": "the components " + strings.Join(names, ", ") + " (see the case)"}}, nil
		},
		"oam/component-render": func(p map[string]any, v cue.Value) (*fakeResult, error) {
			out, err := render(p, v)
			if err != nil {
				return nil, err
			}
			return &fakeResult{Returns: out}, nil
		},
		"oam/component-apply": func(p map[string]any, v cue.Value) (*fakeResult, error) {
			out, err := render(p, v)
			if err != nil {
				return nil, err
			}
			res := &fakeResult{Returns: out}
			comp, _ := p["value"].(map[string]any)
			if unhealthy[fmt.Sprint(comp["name"])] {
				res.Flag = "wait healthy"
			}
			return res, nil
		},
		"builtin/wait": func(p map[string]any, _ cue.Value) (*fakeResult, error) {
			msg, _ := p["message"].(string)
			if cont, _ := p["continue"].(bool); cont {
				return &fakeResult{}, nil
			}
			return &fakeResult{Action: actWait, Message: msg}, nil
		},
		"builtin/fail": func(p map[string]any, _ cue.Value) (*fakeResult, error) {
			msg, _ := p["message"].(string)
			return &fakeResult{Action: actFail, Message: msg}, nil
		},
		"builtin/suspend": func(p map[string]any, _ cue.Value) (*fakeResult, error) {
			msg, _ := p["message"].(string)
			return &fakeResult{Action: actSuspend, Message: msg}, nil
		},
		"builtin/message": func(map[string]any, cue.Value) (*fakeResult, error) {
			return &fakeResult{}, nil
		},
		"istio-canary/plan": func(p map[string]any, _ cue.Value) (*fakeResult, error) {
			if tc.PlanError != "" {
				return nil, fmt.Errorf("%s", tc.PlanError)
			}
			comp := fmt.Sprint(p["component"])
			ans, ok := tc.Plan[comp]
			if !ok {
				return nil, fmt.Errorf("the case has no plan answer for component %s", comp)
			}
			return &fakeResult{Returns: ans}, nil
		},
		"istio-canary/scale": func(p map[string]any, _ cue.Value) (*fakeResult, error) {
			comp := fmt.Sprint(p["component"])
			ans, ok := tc.Scale[comp]
			if !ok {
				return nil, fmt.Errorf("the case has no scale answer for component %s", comp)
			}
			return &fakeResult{Returns: ans}, nil
		},
	}
}

// renderComponent renders a component as the fake oam provider: the
// Deployment vela's webservice renders for its image and port, with the
// component's traits that this repo defines rendered on it (expose is
// emulated: it only adds the Service output canary-traffic looks for). The
// traits see the Application's components and the live cluster, as vela's.
func renderComponent(defs map[string]*definition, appName, namespace string, components []any, live *cluster, comp map[string]any) (map[string]any, map[string]any, error) {
	name := fmt.Sprint(comp["name"])
	props, _ := comp["properties"].(map[string]any)
	container := map[string]any{"name": name, "image": props["image"]}
	if port, ok := props["port"]; ok {
		container["ports"] = []any{map[string]any{"containerPort": port}}
	}
	c := &component{
		Context: map[string]any{
			"name": name, "appName": appName, "namespace": namespace, "appRevision": appName + "-v1", "appRevisionNum": 1,
			"components": components,
		},
		Workload: map[string]any{
			"apiVersion": "apps/v1",
			"kind":       "Deployment",
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app.oam.dev/component": name}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app.oam.dev/name": appName, "app.oam.dev/component": name}},
					"spec":     map[string]any{"containers": []any{container}},
				},
			},
		},
		Outputs: map[string]any{},
		Cluster: live,
	}
	traits, _ := comp["traits"].([]any)
	for _, tr := range traits {
		tm, _ := tr.(map[string]any)
		typ := fmt.Sprint(tm["type"])
		tprops, _ := tm["properties"].(map[string]any)
		if typ == "expose" {
			c.Outputs["service"] = map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name}}
			continue
		}
		d, ok := defs[typ]
		if !ok {
			return nil, nil, fmt.Errorf("trait %s: no definition", typ)
		}
		if _, err := renderTrait(d, tprops, c); err != nil {
			return nil, nil, err
		}
	}
	return c.Workload, c.Outputs, nil
}

// patchObject applies a patch to a rendered object; the result must be
// concrete, as vela needs it to be to apply it.
func patchObject(obj map[string]any, patch cue.Value) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	patched, err := strategyUnify(cuecontext.New().CompileBytes(b), patch)
	if err != nil {
		return nil, err
	}
	return compileObject(patched)
}

// TestStepGolden evaluates every case of every workflow step once and
// compares the calls it made with the golden file.
func TestStepGolden(t *testing.T) {
	defs := allDefinitions(t)
	steps := sortedNames(defs, "workflow-step")
	require.NotEmpty(t, steps, "no workflow-step definitions")
	var baseCtx map[string]any
	readYAML(t, filepath.Join("testdata", "step-context.yaml"), &baseCtx)
	var bookinfo map[string]any
	readYAML(t, filepath.Join("testdata", "bookinfo.yaml"), &bookinfo)
	var seedLive []map[string]any
	readYAML(t, filepath.Join("testdata", "step-live.yaml"), &seedLive)
	for _, name := range steps {
		t.Run(name, func(t *testing.T) {
			files := caseFiles(t, name)
			require.NotEmpty(t, files, "step %s has no cases in testdata/%s", name, name)
			for _, file := range files {
				t.Run(caseName(file), func(t *testing.T) {
					var tc stepCase
					readYAML(t, file, &tc)
					require.NotEmpty(t, tc.Description, "%s: say what the case is about in description", file)
					require.NotEmpty(t, tc.Want.Phase, "%s: want.phase", file)
					ctx := deepMerge(baseCtx, tc.Context)
					app := bookinfo
					if tc.Application != nil {
						app = tc.Application
					}
					live := &cluster{Deployments: seedLive}
					if tc.Live != nil {
						live.Deployments = tc.Live
					}
					run := runStep(t, defs[name], tc.Properties, ctx, stepFakes(t, defs, tc, app, ctx, live))
					asWanted := run.Phase == tc.Want.Phase && len(run.Unresolved) == 0
					for _, m := range tc.Want.MessageMentions {
						asWanted = asWanted && strings.Contains(run.Message, m)
					}
					switch {
					case tc.KnownBug != "" && asWanted:
						t.Errorf("the known bug looks fixed (the step ends as wanted): remove knownBug from the case and run -update")
					case tc.KnownBug != "":
						t.Logf("known bug, the step ends %s (%s) instead of %s: %s", run.Phase, run.Message, tc.Want.Phase, tc.KnownBug)
					default:
						assert.Equal(t, tc.Want.Phase, run.Phase, "phase (message: %s)", run.Message)
						for _, m := range tc.Want.MessageMentions {
							assert.Contains(t, run.Message, m)
						}
						assert.Empty(t, run.Unresolved, "errors inside the step's value that vela would not report")
					}
					checkStepOrder(t, run)
					out, err := yaml.Marshal(run)
					require.NoError(t, err)
					checkGolden(t, goldenPath(file), out)
				})
			}
		})
	}
}

// checkStepOrder asserts the order DESIGN.md decision 5 asks for, for every
// component: the instances are applied before any route, routes before the
// subsets, subsets before the old version is scaled; nothing after a call
// that stops the step.
func checkStepOrder(t *testing.T, run *stepRun) {
	t.Helper()
	first := map[string]int{}
	last := map[string]int{}
	for i, c := range run.Calls {
		kind := ""
		switch {
		case c.Provider == "oam" && c.Do == "component-apply":
			kind = "apply"
		case c.Provider == "kube" && c.Do == "apply":
			obj, _ := c.Params.(map[string]any)["value"].(map[string]any)
			kind = "apply " + fmt.Sprint(obj["kind"])
		case c.Provider == "istio-canary":
			kind = c.Do
		default:
			continue
		}
		if _, ok := first[kind]; !ok {
			first[kind] = i
		}
		last[kind] = i
	}
	// order: a must be done before b starts; required: b needs an a before it.
	order := func(a, b string, required bool) {
		if _, ok := first[b]; !ok {
			return
		}
		if _, ok := last[a]; !ok {
			if required {
				t.Errorf("%s happens without any %s before it", b, a)
			}
			return
		}
		assert.Less(t, last[a], first[b], "every %s must come before the first %s", a, b)
	}
	order("plan", "apply", true)
	order("apply Deployment", "apply VirtualService", true)
	order("apply VirtualService", "apply DestinationRule", false)
	order("apply VirtualService", "scale", false)
	order("apply DestinationRule", "scale", false)
}
