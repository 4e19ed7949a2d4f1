// Package statustest loads YAML fixtures into fake clients for the tests of
// the status view and of its command. It does not import package status, so
// that package's own tests can use it too.
package statustest

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

// Fakes are fake clients holding fixture objects.
type Fakes struct {
	Kube    *k8sfake.Clientset
	Dynamic *dynamicfake.FakeDynamicClient
	Istio   *istiofake.Clientset
}

// Load decodes the Applications (served as applications, the resource
// given), Deployments, ConfigMaps and VirtualServices in the multi-document
// YAML files into fake clients. Any other kind fails the test.
func Load(t testing.TB, applications schema.GroupVersionResource, files ...string) Fakes {
	t.Helper()
	var apps, kube, vss []runtime.Object
	for _, file := range files {
		raw, err := os.ReadFile(file)
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
				kube = append(kube, d)
			case "ConfigMap":
				cm := &corev1.ConfigMap{}
				require.NoError(t, yaml.UnmarshalStrict([]byte(doc), cm), "%s doc %d", file, i)
				kube = append(kube, cm)
			case "VirtualService":
				vs := &networkingv1.VirtualService{}
				require.NoError(t, yaml.Unmarshal([]byte(doc), vs), "%s doc %d", file, i)
				vss = append(vss, vs)
			default:
				t.Fatalf("%s doc %d: unexpected kind %q", file, i, meta.Kind)
			}
		}
	}
	return Fakes{
		Kube:    k8sfake.NewClientset(kube...),
		Dynamic: NewDynamic(applications, apps...),
		Istio:   istiofake.NewSimpleClientset(vss...),
	}
}

// NewDynamic is a fake dynamic client that can list the applications resource.
func NewDynamic(applications schema.GroupVersionResource, objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{applications: "ApplicationList"}, objs...)
}
