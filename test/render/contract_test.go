package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"cuelang.org/go/cue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/providers/canary"
	"github.com/istio-canary/istio-canary/providers/server"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// The step cases answer the provider's calls with what the case writes.
// TestStepContract checks those answers against the provider's: it runs
// every case that names its live state (live:) again, with the plan and
// scale calls sent to the real provider (providers/server and
// providers/canary over fake clientsets holding the live objects), as vela
// sends them: POST /<#do> with the JSON of $params, the JSON object of the
// reply filled into $returns. Both runs must end alike (phase and message)
// and make the same calls in the same order, with the same parameters to
// the provider. The objects in the answers may differ in detail (labels
// vela stamps, defaulted fields), as the step passes them on unread. So a
// field the steps read that the Go code renames or drops, or a decision the
// provider no longer makes as the case says, fails here while the fakes
// still answer as before. A guard on a field the provider always sets with
// the object it guards (route with virtualService) cannot be told apart
// here: canary-rollout/routes-held checks it with the case's answers.
func TestStepContract(t *testing.T) {
	defs := allDefinitions(t)
	ran := 0
	for _, name := range sortedNames(defs, "workflow-step") {
		for _, file := range caseFiles(t, name) {
			s := loadStepCase(t, file)
			if s.tc.Live == "" {
				continue
			}
			ran++
			t.Run(name+"/"+caseName(file), func(t *testing.T) {
				fakes := stepFakes(t, defs, s.tc, s.app, s.ctx, s.traitCluster())
				want := runStep(t, defs[name], s.tc.Properties, s.ctx, fakes)

				endpoint := realProvider(t, s, name)
				for _, do := range []string{"ping", "plan", "scale"} {
					fakes["istio-canary/"+do] = endpoint.call(do)
				}
				got := runStep(t, defs[name], s.tc.Properties, s.ctx, fakes)

				checkWant(t, s.tc, got)
				assert.Equal(t, want.Phase, got.Phase, "phase")
				assert.Equal(t, want.Message, got.Message, "message")
				compareCalls(t, want.Calls, got.Calls)
			})
		}
	}
	require.NotZero(t, ran, "no step case names its live state")
}

// compareCalls asserts that two runs made the same calls, and the same
// calls to the provider: the scale a plan leads to, say.
func compareCalls(t *testing.T, fake, real []call) {
	t.Helper()
	if !assert.Equal(t, callList(fake), callList(real), "the calls, in order: with the case's answers, with the real provider's") {
		return
	}
	for i, c := range fake {
		if c.Provider == "istio-canary" {
			for _, d := range differences(c.Params, real[i].Params, "$params") {
				t.Errorf("%s: %s", c.Path, d)
			}
		}
	}
}

func callList(calls []call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = fmt.Sprintf("%s %s/%s", c.Path, c.Provider, c.Do)
	}
	return out
}

// differences lists where two JSON values differ, by path.
func differences(a, b any, path string) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		if !assert.ObjectsAreEqualValues(a, b) {
			return []string{fmt.Sprintf("%s: %s with the case's answers, %s with the real provider's", path, jsonText(a), jsonText(b))}
		}
		return nil
	}
	var out []string
	keys := maps.Clone(am)
	maps.Copy(keys, bm)
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		out = append(out, differences(am[k], bm[k], path+"."+k)...)
	}
	return out
}

func jsonText(v any) string {
	if v == nil {
		return "nothing"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// providerEndpoint is the real provider served on a local port.
type providerEndpoint struct{ url string }

// realProvider serves the provider as its command wires it, over fake
// clientsets that hold the live objects, and the Application of the case
// running the step of type stepType.
func realProvider(t *testing.T, s stepSetup, stepType string) providerEndpoint {
	t.Helper()
	return realProviderWith(t, s, stepType, nil)
}

// realProviderWith is realProvider that also serves analyze, when withAnalysis
// is given: it gets the provider's clients and returns the analysis part.
func realProviderWith(t *testing.T, s stepSetup, stepType string, withAnalysis func(canary.Clients) *canary.Analysis) providerEndpoint {
	t.Helper()
	var kubeObjs, istioObjs []runtime.Object
	for _, o := range s.live {
		var typed runtime.Object
		objs := &kubeObjs
		switch o["kind"] {
		case "Deployment":
			typed = &appsv1.Deployment{}
		case "VirtualService":
			typed, objs = &networkingv1.VirtualService{}, &istioObjs
		case "DestinationRule":
			typed, objs = &networkingv1.DestinationRule{}, &istioObjs
		default:
			t.Fatalf("the real provider's cluster holds no %v", o["kind"])
		}
		require.NoError(t, json.Unmarshal([]byte(mustJSON(t, o)), typed), "%v", o["kind"])
		*objs = append(*objs, typed)
	}
	kube := k8sfake.NewSimpleClientset(kubeObjs...)
	clients := canary.Clients{Kube: kube, Istio: istiofake.NewSimpleClientset(istioObjs...),
		Workflows: workflowruntest.Applications(t, mustJSON(t, s.application(stepType)))}
	if withAnalysis != nil {
		clients.Analysis = withAnalysis(clients)
	}
	logger, _ := ktesting.NewTestContext(t)
	srv, err := server.New(server.Options{IsInputError: canary.IsInputError, Logger: logger})
	require.NoError(t, err)
	server.Register(srv, "ping", clients.Ping)
	server.Register(srv, "plan", clients.Plan)
	server.Register(srv, "scale", clients.Scale)
	server.Register(srv, "analyze", clients.Analyze)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return providerEndpoint{url: ts.URL}
}

// application is the Application of a case as the API server holds it
// while its workflow runs the case's step (of type stepType, with the
// case's properties): the provider checks every call against it.
func (s stepSetup) application(stepType string) map[string]any {
	var components []any
	for _, name := range slices.Sorted(maps.Keys(s.app)) {
		components = append(components, s.app[name])
	}
	step := map[string]any{"name": s.ctx["stepName"], "type": stepType}
	if len(s.tc.Properties) > 0 {
		step["properties"] = s.tc.Properties
	}
	return map[string]any{
		"apiVersion": "core.oam.dev/v1beta1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": s.ctx["appName"], "namespace": s.ctx["namespace"]},
		"spec": map[string]any{
			"components": components,
			"workflow":   map[string]any{"steps": []any{step}},
		},
		"status": map[string]any{"workflow": map[string]any{
			"appRevision": s.ctx["appRevision"], "status": "executing", "startTime": "2026-11-29T21:00:00Z",
		}},
	}
}

// call answers a step's call to function do as vela's external-provider
// client does: the body is the JSON of $params as CUE writes it, the HTTP
// status is ignored, and the reply must be a JSON object.
func (p providerEndpoint) call(do string) fakeFn {
	return func(_ map[string]any, v cue.Value) (*fakeResult, error) {
		body, err := v.LookupPath(cue.ParsePath("$params")).MarshalJSON()
		if err != nil {
			return nil, err
		}
		resp, err := http.Post(p.url+"/"+do, "application/json", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		var returns map[string]any
		if err := json.Unmarshal(raw, &returns); err != nil || returns == nil {
			return nil, fmt.Errorf("the reply is not a JSON object: %q", raw)
		}
		return &fakeResult{Returns: returns}, nil
	}
}
