package render

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"encoding/json"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
)

// The fakes a step case runs against: vela's kube, oam and builtin
// providers as the step uses them, and the istio-canary provider's answers
// as the case writes them (contract_test.go runs the cases that give their
// live state against the real provider instead).

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
		"istio-canary/ping": func(map[string]any, cue.Value) (*fakeResult, error) {
			if tc.ProviderError != "" {
				return nil, fmt.Errorf("%s", tc.ProviderError)
			}
			return &fakeResult{Returns: map[string]any{}}, nil
		},
		"istio-canary/plan": func(p map[string]any, _ cue.Value) (*fakeResult, error) {
			if tc.ProviderError != "" {
				return nil, fmt.Errorf("%s", tc.ProviderError)
			}
			comp := fmt.Sprint(p["component"])
			ans, ok := tc.Plan[comp]
			if !ok {
				return nil, fmt.Errorf("the case has no plan answer for component %s", comp)
			}
			return &fakeResult{Returns: ans}, nil
		},
		"istio-canary/analyze": func(map[string]any, cue.Value) (*fakeResult, error) {
			if tc.Analyze == nil {
				return nil, fmt.Errorf("the case has no analyze answer")
			}
			return &fakeResult{Returns: tc.Analyze}, nil
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
