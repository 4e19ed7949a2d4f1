package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"
	"sigs.k8s.io/yaml"

	"github.com/istio-canary/istio-canary/providers/canary"
	"github.com/istio-canary/istio-canary/providers/server"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// providerServer serves the real plan and scale functions, as the provider
// command wires them, over fake clientsets loaded from testdata/<state>.yaml.
func providerServer(t *testing.T, state string) (testServer, *k8sfake.Clientset, *istiofake.Clientset) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", state+".yaml"))
	require.NoError(t, err)
	var kubeObjs, istioObjs []runtime.Object
	for i, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct{ Kind string }
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta))
		switch meta.Kind {
		case "Deployment":
			d := &appsv1.Deployment{}
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), d), "doc %d", i)
			kubeObjs = append(kubeObjs, d)
		case "VirtualService":
			vs := &networkingv1.VirtualService{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), vs), "doc %d", i)
			istioObjs = append(istioObjs, vs)
		case "DestinationRule":
			dr := &networkingv1.DestinationRule{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), dr), "doc %d", i)
			istioObjs = append(istioObjs, dr)
		default:
			t.Fatalf("doc %d: unexpected kind %q", i, meta.Kind)
		}
	}
	kube, istio := k8sfake.NewSimpleClientset(kubeObjs...), istiofake.NewSimpleClientset(istioObjs...)
	clients := canary.Clients{Kube: kube, Istio: istio, Workflows: workflowruntest.Applications(t, workflowruntest.SeedApplication)}

	logger, _ := ktesting.NewTestContext(t)
	s, err := server.New(server.Options{IsInputError: canary.IsInputError, Logger: logger})
	require.NoError(t, err)
	server.Register(s, "plan", clients.Plan)
	server.Register(s, "scale", clients.Scale)
	return serve(t, s), kube, istio
}

func writes(actions ...[]k8stesting.Action) []string {
	var out []string
	for _, list := range actions {
		for _, a := range list {
			if v := a.GetVerb(); v != "get" && v != "list" && v != "watch" {
				out = append(out, v+" "+a.GetResource().Resource)
			}
		}
	}
	return out
}

// TestProviderPlanOverHTTP sends plan the request body the canary-rollout
// step sends in step 1 of the seed.
func TestProviderPlanOverHTTP(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "plan-step1.json"))
	require.NoError(t, err)

	t.Run("plan", func(t *testing.T) {
		ts, kube, istio := providerServer(t, "seed-step1")
		got := ts.post(t, "/plan", string(body))
		require.NotContains(t, got, "err")
		require.NotContains(t, got, "retry")
		require.Equal(t, true, got["planned"])
		require.Equal(t, true, got["ready"])
		require.Equal(t, true, got["route"])
		require.Equal(t, false, got["done"])
		require.Equal(t, map[string]any{"name": "reviews-v1", "replicas": float64(1)}, got["retire"])
		routes := got["virtualService"].(map[string]any)["spec"].(map[string]any)["http"].([]any)[0].(map[string]any)["route"].([]any)
		require.Len(t, routes, 2)
		require.Equal(t, "v1", routes[0].(map[string]any)["destination"].(map[string]any)["subset"])
		require.Equal(t, float64(90), routes[0].(map[string]any)["weight"])
		require.Equal(t, "v2", routes[1].(map[string]any)["destination"].(map[string]any)["subset"])
		require.Equal(t, float64(10), routes[1].(map[string]any)["weight"])
		require.Empty(t, writes(kube.Actions(), istio.Actions()), "plan writes nothing")
	})

	t.Run("bad input answers err", func(t *testing.T) {
		ts, kube, istio := providerServer(t, "seed-step1")
		bad := strings.Replace(string(body), `"weight": 90`, `"weight": 80`, 1)
		require.NotEqual(t, string(body), bad)
		got := ts.post(t, "/plan", bad)
		require.Len(t, got, 1)
		require.Contains(t, got["err"], "traffic.weightedTargets: the weights for component reviews add up to 90")
		require.Empty(t, writes(kube.Actions(), istio.Actions()))
	})

	t.Run("a caller for another namespace cannot read with a bad name", func(t *testing.T) {
		ts, kube, istio := providerServer(t, "seed-step1")
		bad := strings.Replace(string(body), `"namespace": "default"`, `"namespace": "default,kube-system"`, 1)
		got := ts.post(t, "/plan", bad)
		require.Contains(t, got["err"], "namespace:")
		require.Empty(t, kube.Actions())
		require.Empty(t, istio.Actions())
	})
}

// scaleBody is the retire call step canary-1 makes with the plan of
// plan-step1.json: the plan's own $params, and the version and replicas.
func scaleBody(t *testing.T, name string, replicas string, edits ...func(map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "plan-step1.json"))
	require.NoError(t, err)
	var params map[string]any
	require.NoError(t, json.Unmarshal(raw, &params))
	params["name"] = name
	params["replicas"] = json.RawMessage(replicas)
	for _, e := range edits {
		e(params)
	}
	body, err := json.Marshal(params)
	require.NoError(t, err)
	return string(body)
}

func TestProviderScaleOverHTTP(t *testing.T) {
	t.Run("scale writes once", func(t *testing.T) {
		ts, kube, istio := providerServer(t, "seed-step1")
		require.Equal(t, map[string]any{"done": true, "changed": true}, ts.post(t, "/scale", scaleBody(t, "reviews-v1", "1")))
		require.Equal(t, []string{"patch deployments"}, writes(kube.Actions(), istio.Actions()))
		require.Equal(t, map[string]any{"done": true, "changed": false}, ts.post(t, "/scale", scaleBody(t, "reviews-v1", "1")))
		require.Equal(t, []string{"patch deployments"}, writes(kube.Actions(), istio.Actions()), "no second write")
	})

	// The curl that once scaled an idle Application's stable version to 40.
	t.Run("a forged call is refused and writes nothing", func(t *testing.T) {
		ts, kube, istio := providerServer(t, "seed-step1")
		for _, body := range []string{
			`{"namespace":"seedv","app":"seed-info","component":"reviews","name":"reviews-7b3f2de0f1","replicas":40}`,
			scaleBody(t, "reviews-v1", "40"),
			scaleBody(t, "reviews-v1", "1", func(p map[string]any) { p["namespace"] = "seedv" }),
			scaleBody(t, "reviews-v1", "1", func(p map[string]any) { p["app"] = "seed-info" }),
			scaleBody(t, "reviews-v1", "1", func(p map[string]any) { p["step"] = "approve" }),
		} {
			got := ts.post(t, "/scale", body)
			require.Len(t, got, 1, body)
			require.Contains(t, got["err"], "refused: ", body)
		}
		require.Empty(t, writes(kube.Actions(), istio.Actions()))
	})

	t.Run("negative replicas answer err", func(t *testing.T) {
		ts, kube, _ := providerServer(t, "seed-step1")
		got := ts.post(t, "/scale", scaleBody(t, "reviews-v1", "-1"))
		require.Contains(t, got["err"], "replicas: -1 is negative")
		require.Empty(t, kube.Actions())
	})

	t.Run("replicas of the wrong type answer err", func(t *testing.T) {
		ts, kube, _ := providerServer(t, "seed-step1")
		got := ts.post(t, "/scale", scaleBody(t, "reviews-v1", `"1"`))
		require.Contains(t, got["err"], "decode $params")
		require.Empty(t, kube.Actions())
	})
}
