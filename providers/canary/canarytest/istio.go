package canarytest

import (
	"context"
	"errors"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	networkingv1client "istio.io/client-go/pkg/clientset/versioned/typed/networking/v1"
	networkingv1beta1client "istio.io/client-go/pkg/clientset/versioned/typed/networking/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// istioClient serves networking.istio.io/v1 VirtualServices and
// DestinationRules. The embedded interface is nil: any other group panics.
type istioClient struct {
	istioclient.Interface
	c *Cluster
}

func (i istioClient) NetworkingV1() networkingv1client.NetworkingV1Interface {
	return networkingV1{c: i.c}
}

// NetworkingV1beta1 is there because the router takes its getters up front,
// to read through them only where v1 is not served, which never happens here.
func (i istioClient) NetworkingV1beta1() networkingv1beta1client.NetworkingV1beta1Interface {
	return networkingV1beta1{}
}

// networkingV1 serves VirtualServices and DestinationRules; any other
// resource panics.
type networkingV1 struct {
	networkingv1client.NetworkingV1Interface
	c *Cluster
}

func (n networkingV1) VirtualServices(namespace string) networkingv1client.VirtualServiceInterface {
	return virtualServices{c: n.c, ns: namespace}
}

func (n networkingV1) DestinationRules(namespace string) networkingv1client.DestinationRuleInterface {
	return destinationRules{c: n.c, ns: namespace}
}

// virtualServices serves Get, Create and Update; any other call panics.
type virtualServices struct {
	networkingv1client.VirtualServiceInterface
	c  *Cluster
	ns string
}

func (v virtualServices) call(verb, name string) Call {
	return Call{Verb: verb, Resource: "virtualservices", Namespace: v.ns, Name: name}
}

func (v virtualServices) Get(_ context.Context, name string, _ metav1.GetOptions) (*networkingv1.VirtualService, error) {
	return orEmpty(serve(v.c, v.call("get", name), func() (*networkingv1.VirtualService, error) {
		return v.c.virtualServices.get(v.ns, name)
	}))
}

func (v virtualServices) Create(_ context.Context, o *networkingv1.VirtualService, _ metav1.CreateOptions) (*networkingv1.VirtualService, error) {
	return orEmpty(serve(v.c, v.call("create", o.Name), func() (*networkingv1.VirtualService, error) {
		return v.c.virtualServices.create(v.ns, o)
	}))
}

func (v virtualServices) Update(_ context.Context, o *networkingv1.VirtualService, _ metav1.UpdateOptions) (*networkingv1.VirtualService, error) {
	return orEmpty(serve(v.c, v.call("update", o.Name), func() (*networkingv1.VirtualService, error) {
		return v.c.virtualServices.update(v.ns, o)
	}))
}

// destinationRules serves Get, Create and Update; any other call panics.
type destinationRules struct {
	networkingv1client.DestinationRuleInterface
	c  *Cluster
	ns string
}

func (d destinationRules) call(verb, name string) Call {
	return Call{Verb: verb, Resource: "destinationrules", Namespace: d.ns, Name: name}
}

func (d destinationRules) Get(_ context.Context, name string, _ metav1.GetOptions) (*networkingv1.DestinationRule, error) {
	return orEmpty(serve(d.c, d.call("get", name), func() (*networkingv1.DestinationRule, error) {
		return d.c.destinationRules.get(d.ns, name)
	}))
}

func (d destinationRules) Create(_ context.Context, o *networkingv1.DestinationRule, _ metav1.CreateOptions) (*networkingv1.DestinationRule, error) {
	return orEmpty(serve(d.c, d.call("create", o.Name), func() (*networkingv1.DestinationRule, error) {
		return d.c.destinationRules.create(d.ns, o)
	}))
}

func (d destinationRules) Update(_ context.Context, o *networkingv1.DestinationRule, _ metav1.UpdateOptions) (*networkingv1.DestinationRule, error) {
	return orEmpty(serve(d.c, d.call("update", o.Name), func() (*networkingv1.DestinationRule, error) {
		return d.c.destinationRules.update(d.ns, o)
	}))
}

// networkingV1beta1 hands out getters that fail: the cluster serves v1, so
// a read through v1beta1 means a caller that no longer reads v1 first.
type networkingV1beta1 struct {
	networkingv1beta1client.NetworkingV1beta1Interface
}

func (networkingV1beta1) VirtualServices(string) networkingv1beta1client.VirtualServiceInterface {
	return unservedVirtualServices{}
}

func (networkingV1beta1) DestinationRules(string) networkingv1beta1client.DestinationRuleInterface {
	return unservedDestinationRules{}
}

var errV1beta1 = errors.New("canarytest: the cluster serves networking.istio.io/v1 only, read through v1beta1")

type unservedVirtualServices struct {
	networkingv1beta1client.VirtualServiceInterface
}

func (unservedVirtualServices) Get(context.Context, string, metav1.GetOptions) (*networkingv1beta1.VirtualService, error) {
	return &networkingv1beta1.VirtualService{}, errV1beta1
}

type unservedDestinationRules struct {
	networkingv1beta1client.DestinationRuleInterface
}

func (unservedDestinationRules) Get(context.Context, string, metav1.GetOptions) (*networkingv1beta1.DestinationRule, error) {
	return &networkingv1beta1.DestinationRule{}, errV1beta1
}
