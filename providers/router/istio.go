package router

import (
	"context"
	"errors"
	"fmt"
	"sort"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// API versions of networking.istio.io the router reads, in order of
// preference. Both carry the same spec types, so everything past the read
// is one code path.
const (
	apiV1      = "networking.istio.io/v1"
	apiV1beta1 = "networking.istio.io/v1beta1"
)

// Istio routes through an Istio VirtualService and DestinationRule.
type Istio struct {
	Client istioclient.Interface
}

var _ Router = Istio{}

// object is an Istio object as read through whichever API version the
// cluster serves.
type object[S any] struct {
	apiVersion string
	meta       metav1.ObjectMeta
	spec       *S
}

type (
	virtualService  = object[networkingv1alpha3.VirtualService]
	destinationRule = object[networkingv1alpha3.DestinationRule]
)

// getter reads an object by name through one API version.
type getter[S any] struct {
	apiVersion string
	get        func(ctx context.Context, name string) (metav1.ObjectMeta, *S, error)
}

// through adapts the Get of a typed client of one API version to a getter;
// parts takes the object apart.
func through[T any, S any](apiVersion string, get func(context.Context, string, metav1.GetOptions) (T, error), parts func(T) (metav1.ObjectMeta, *S)) getter[S] {
	return getter[S]{apiVersion, func(ctx context.Context, name string) (metav1.ObjectMeta, *S, error) {
		o, err := get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return metav1.ObjectMeta{}, nil, err
		}
		m, spec := parts(o)
		return m, spec, nil
	}}
}

// GetRoutes reads the component's VirtualService.
func (r Istio) GetRoutes(ctx context.Context, c Component) (*Routes, error) {
	return r.getRoutes(ctx, c, c.Name)
}

// GetGatewayRoutes reads the VirtualService that the component's ingress
// gateway route delegates to.
func (r Istio) GetGatewayRoutes(ctx context.Context, c Component) (*Routes, error) {
	return r.getRoutes(ctx, c, contract.GatewayRoutesName(c.Name))
}

// getRoutes reads a VirtualService of the component by name.
func (r Istio) getRoutes(ctx context.Context, c Component, name string) (*Routes, error) {
	vs, err := getServed(ctx, c, name, "VirtualService",
		through(apiV1, r.Client.NetworkingV1().VirtualServices(c.Namespace).Get,
			func(o *networkingv1.VirtualService) (metav1.ObjectMeta, *networkingv1alpha3.VirtualService) {
				return o.ObjectMeta, &o.Spec
			}),
		through(apiV1beta1, r.Client.NetworkingV1beta1().VirtualServices(c.Namespace).Get,
			func(o *networkingv1beta1.VirtualService) (metav1.ObjectMeta, *networkingv1alpha3.VirtualService) {
				return o.ObjectMeta, &o.Spec
			}),
	)
	if err != nil {
		return nil, err
	}
	out := &Routes{Component: c, Name: name, Served: vs.apiVersion != "", Found: vs.spec != nil, live: vs}
	if !out.Found {
		return out, nil
	}
	out.Annotations = vs.meta.Annotations
	out.Destinations = contract.ReadRoute(vs.spec)
	if i := contract.OurRoute(vs.spec.GetHttp()); i >= 0 {
		if first := vs.spec.GetHttp()[i].GetRoute(); len(first) > 0 {
			out.Port = int(first[0].GetDestination().GetPort().GetNumber())
		}
	}
	out.Requests.Mirror = contract.ReadMirror(vs.spec)
	if m := contract.ReadMatches(vs.spec); m != nil && len(m.Match) > 0 {
		out.Requests.Version = m.Version
		if err := roundTrip(m.Match, &out.Requests.Match); err != nil {
			return nil, fmt.Errorf("read VirtualService %s/%s route %s: %w", c.Namespace, name, contract.MatchRouteName, err)
		}
	}
	return out, nil
}

// GetSubsets reads the component's DestinationRule.
func (r Istio) GetSubsets(ctx context.Context, c Component) (*Subsets, error) {
	dr, err := getServed(ctx, c, c.Name, "DestinationRule",
		through(apiV1, r.Client.NetworkingV1().DestinationRules(c.Namespace).Get,
			func(o *networkingv1.DestinationRule) (metav1.ObjectMeta, *networkingv1alpha3.DestinationRule) {
				return o.ObjectMeta, &o.Spec
			}),
		through(apiV1beta1, r.Client.NetworkingV1beta1().DestinationRules(c.Namespace).Get,
			func(o *networkingv1beta1.DestinationRule) (metav1.ObjectMeta, *networkingv1alpha3.DestinationRule) {
				return o.ObjectMeta, &o.Spec
			}),
	)
	if err != nil {
		return nil, err
	}
	out := &Subsets{Component: c, Served: dr.apiVersion != "", Found: dr.spec != nil, live: dr}
	if out.Found {
		out.Names = contract.SubsetVersions(dr.spec)
		sort.Strings(out.Names)
	}
	return out, nil
}

// getServed reads the component's object of a kind and name through the
// first API version the cluster serves. The object it returns has that
// version ("" when none is served) and a nil spec when the object does not
// exist; one that belongs to someone else is refused with a NotOwnedError.
func getServed[S any](ctx context.Context, c Component, name, kind string, versions ...getter[S]) (*object[S], error) {
	logger := klog.FromContext(ctx)
	for _, g := range versions {
		m, spec, err := g.get(ctx, name)
		switch {
		case notServed(err):
			logger.V(2).Info("API not served", "apiVersion", g.apiVersion, "kind", kind)
			continue
		case apierrors.IsNotFound(err):
			return &object[S]{apiVersion: g.apiVersion}, nil
		case err != nil:
			return nil, fmt.Errorf("get %s %s/%s: %w", kind, c.Namespace, name, err)
		case !c.owns(m.Labels):
			return nil, &NotOwnedError{Kind: kind, Name: name, Component: c}
		}
		return &object[S]{apiVersion: g.apiVersion, meta: m, spec: spec}, nil
	}
	return &object[S]{}, nil
}

// notServed tells "the API is not served" from "the object does not exist",
// which are both 404s. The API server answers a path it does not serve with
// a bare "404 page not found", which client-go turns into an error with an
// unexpected-response cause; it answers a missing object with a Status that
// names it. A list has no object to name, and clients that map kinds to
// resources first fail with a no-match error instead.
func notServed(err error) bool {
	if meta.IsNoMatchError(err) {
		return true
	}
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	if d == nil || d.Name == "" {
		return true
	}
	for _, cause := range d.Causes {
		if cause.Type == metav1.CauseTypeUnexpectedServerResponse {
			return true
		}
	}
	return false
}
