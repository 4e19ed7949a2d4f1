package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/istio-canary/istio-canary/internal/status"
)

// fakeClients loads testdata/book-info.yaml into fake clients.
func fakeClients(t *testing.T) status.Clients {
	t.Helper()
	raw, err := os.ReadFile("testdata/book-info.yaml")
	require.NoError(t, err)
	var apps, deps, vss []runtime.Object
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var meta struct{ Kind string }
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta))
		switch meta.Kind {
		case "Application":
			u := &unstructured.Unstructured{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), &u.Object))
			apps = append(apps, u)
		case "Deployment":
			d := &appsv1.Deployment{}
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), d))
			deps = append(deps, d)
		case "VirtualService":
			vs := &networkingv1.VirtualService{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), vs))
			vss = append(vss, vs)
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
	}
	return status.Clients{
		Kube: k8sfake.NewClientset(deps...),
		Dynamic: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{status.ApplicationGVR: "ApplicationList"}, apps...),
		Istio: istiofake.NewSimpleClientset(vss...),
	}
}
