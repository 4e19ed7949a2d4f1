package render

import (
	"encoding/json"
	"fmt"
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
	"github.com/stretchr/testify/require"
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
		run.Unresolved = append(run.Unresolved, splitErrors(err)...)
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
	n := v.Syntax(cue.Docs(true), cue.ResolveReferences(true)) //nolint:staticcheck // as vela re-exports a patch
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
