package status

import (
	"path/filepath"
	"testing"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8sfake "k8s.io/client-go/kubernetes/fake"

	"github.com/istio-canary/istio-canary/internal/status/statustest"
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
	dir := filepath.Join("testdata", "fixtures")
	fakes := statustest.Load(t, ApplicationGVR, filepath.Join(dir, "common.yaml"), filepath.Join(dir, state+".yaml"))
	return fixtureClients{
		Clients: Clients{Kube: fakes.Kube, Dynamic: fakes.Dynamic, Istio: fakes.Istio},
		kube:    fakes.Kube,
		dyn:     fakes.Dynamic,
		istio:   fakes.Istio,
	}
}
