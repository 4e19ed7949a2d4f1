// Package canarytest has an in-memory cluster for the tests that play many
// canary steps, the fuzz targets above all: client-go's fake clientsets pass
// every call through reactors and an object tracker, which took most of an
// execution's time.
//
// The cluster serves the calls that the provider and those tests make, and
// no other: Deployments (apps/v1), VirtualServices and DestinationRules
// (networking.istio.io/v1). It answers them as client-go's fake clientsets,
// which the unit tests use, do: a write stores a copy of the object as given
// (no generation, resourceVersion or creationTimestamp of its own), a read
// returns a copy, a list is sorted by name. Unlike the fakes, a write
// returns the caller's object rather than another copy of what it stored.
//
// Any other call panics or fails, so that a test that starts to make one
// learns it at once.
package canarytest

import (
	"sync"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// Cluster is an API server in memory.
type Cluster struct {
	mu               sync.Mutex
	deployments      *store[*appsv1.Deployment]
	virtualServices  *store[*networkingv1.VirtualService]
	destinationRules *store[*networkingv1.DestinationRule]
	calls            []Call
}

// Call is one call made through the cluster's clients.
type Call struct {
	Verb      string // get, list, create, update, patch
	Resource  string // deployments, virtualservices, destinationrules
	Namespace string
	// Name is the object's; "" for a list.
	Name string
	// Subresource is "status" for UpdateStatus.
	Subresource string
}

// NewCluster holds copies of objs, which must be Deployments,
// VirtualServices or DestinationRules of the versions the cluster serves.
func NewCluster(t testing.TB, objs ...runtime.Object) *Cluster {
	t.Helper()
	c := &Cluster{
		deployments:      newStore(schema.GroupResource{Group: "apps", Resource: "deployments"}, (*appsv1.Deployment).DeepCopy),
		virtualServices:  newStore(schema.GroupResource{Group: "networking.istio.io", Resource: "virtualservices"}, (*networkingv1.VirtualService).DeepCopy),
		destinationRules: newStore(schema.GroupResource{Group: "networking.istio.io", Resource: "destinationrules"}, (*networkingv1.DestinationRule).DeepCopy),
	}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *appsv1.Deployment:
			_, err = c.deployments.create(o.Namespace, o)
		case *networkingv1.VirtualService:
			_, err = c.virtualServices.create(o.Namespace, o)
		case *networkingv1.DestinationRule:
			_, err = c.destinationRules.create(o.Namespace, o)
		default:
			t.Fatalf("canarytest: the cluster cannot hold a %T", o)
		}
		if err != nil {
			t.Fatalf("canarytest: add %T: %v", o, err)
		}
	}
	return c
}

// Kube is a client of the cluster's Deployments.
func (c *Cluster) Kube() kubernetes.Interface { return kubeClient{c: c} }

// Istio is a client of the cluster's VirtualServices and DestinationRules.
func (c *Cluster) Istio() istioclient.Interface { return istioClient{c: c} }

// Calls lists the calls made since the cluster was made or the calls were
// cleared, in order.
func (c *Cluster) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

// ClearCalls forgets the calls made so far.
func (c *Cluster) ClearCalls() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = c.calls[:0]
}

// serve records a call and runs it with the cluster locked.
func serve[T any](c *Cluster, call Call, run func() (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
	return run()
}

// orEmpty returns an empty object, not nil, with an error, as the clients
// that client-go generates do.
func orEmpty[T any](o *T, err error) (*T, error) {
	if err != nil {
		return new(T), err
	}
	return o, nil
}
