package status

import (
	"os"
	"path/filepath"
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
)

// fixtureClients are fake clients loaded with fixture objects.
type fixtureClients struct {
	Clients
	kube  *k8sfake.Clientset
	dyn   *dynamicfake.FakeDynamicClient
	istio *istiofake.Clientset
}

// loadFixtures loads testdata/fixtures/common.yaml and <state>.yaml into fake clients.
func loadFixtures(t *testing.T, state string) fixtureClients {
	t.Helper()
	var apps, deps, vss []runtime.Object
	for _, file := range []string{"common.yaml", state + ".yaml"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "fixtures", file))
		require.NoError(t, err)
		for i, doc := range strings.Split(string(raw), "\n---\n") {
			var meta struct{ Kind string }
			require.NoError(t, yaml.Unmarshal([]byte(doc), &meta), "%s doc %d", file, i)
			switch meta.Kind {
			case "Application":
				u := &unstructured.Unstructured{}
				require.NoError(t, yaml.Unmarshal([]byte(doc), &u.Object), "%s doc %d", file, i)
				apps = append(apps, u)
			case "Deployment":
				d := &appsv1.Deployment{}
				require.NoError(t, yaml.UnmarshalStrict([]byte(doc), d), "%s doc %d", file, i)
				deps = append(deps, d)
			case "VirtualService":
				vs := &networkingv1.VirtualService{}
				require.NoError(t, yaml.Unmarshal([]byte(doc), vs), "%s doc %d", file, i)
				vss = append(vss, vs)
			default:
				t.Fatalf("%s doc %d: unexpected kind %q", file, i, meta.Kind)
			}
		}
	}
	f := fixtureClients{
		kube:  k8sfake.NewClientset(deps...),
		dyn:   newFakeDynamic(apps...),
		istio: istiofake.NewSimpleClientset(vss...),
	}
	f.Clients = Clients{Kube: f.kube, Dynamic: f.dyn, Istio: f.istio}
	return f
}

func newFakeDynamic(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{ApplicationGVR: "ApplicationList"}, objs...)
}
