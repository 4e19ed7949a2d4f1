package router

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

var reviews = Component{Namespace: "default", App: "book-info", Name: "reviews"}

func ownLabels() map[string]string {
	return map[string]string{contract.LabelAppName: "book-info", contract.LabelComponent: "reviews"}
}

// debugRoute is a route of someone else's: a header match to another host.
func debugRoute() *networkingv1alpha3.HTTPRoute {
	return &networkingv1alpha3.HTTPRoute{
		Name: "debug",
		Match: []*networkingv1alpha3.HTTPMatchRequest{{Headers: map[string]*networkingv1alpha3.StringMatch{
			"x-debug": {MatchType: &networkingv1alpha3.StringMatch_Exact{Exact: "1"}},
		}}},
		Route: []*networkingv1alpha3.HTTPRouteDestination{{Destination: &networkingv1alpha3.Destination{Host: "ratings"}}},
	}
}

// ownRoute is the route canary-traffic renders, named name, with weights.
func ownRoute(name string, dests ...contract.Destination) *networkingv1alpha3.HTTPRoute {
	h := &networkingv1alpha3.HTTPRoute{Name: name}
	for _, d := range dests {
		h.Route = append(h.Route, &networkingv1alpha3.HTTPRouteDestination{
			Destination: &networkingv1alpha3.Destination{Host: "reviews", Subset: d.Version, Port: &networkingv1alpha3.PortSelector{Number: 9080}},
			Weight:      int32(d.Weight),
		})
	}
	return h
}

func vsMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: "reviews", Namespace: "default", Labels: ownLabels(), ResourceVersion: "7", UID: "vs-uid",
		Annotations: map[string]string{
			contract.AnnotationPhase: contract.PhaseProgressing,
			"owner":                  "reviews-team",
			"kubectl.kubernetes.io/last-applied-configuration": "{}",
		},
	}
}

func virtualServiceV1(http ...*networkingv1alpha3.HTTPRoute) *networkingv1.VirtualService {
	vs := &networkingv1.VirtualService{ObjectMeta: vsMeta()}
	vs.Spec.Hosts, vs.Spec.Http = []string{"reviews"}, http
	return vs
}

func virtualServiceV1beta1(http ...*networkingv1alpha3.HTTPRoute) *networkingv1beta1.VirtualService {
	vs := &networkingv1beta1.VirtualService{ObjectMeta: vsMeta()}
	vs.Spec.Hosts, vs.Spec.Http = []string{"reviews"}, http
	return vs
}

// fakeIstio is a fake clientset holding objs whose API calls are described
// as "get virtualservices.v1 default/reviews".
type fakeIstio struct {
	*istiofake.Clientset
}

func newFakeIstio(objs ...runtime.Object) fakeIstio {
	return fakeIstio{istiofake.NewSimpleClientset(objs...)}
}

func (f fakeIstio) calls() []string {
	var out []string
	for _, a := range f.Actions() {
		s := fmt.Sprintf("%s %s.%s %s", a.GetVerb(), a.GetResource().Resource, a.GetResource().Version, a.GetNamespace())
		if g, ok := a.(k8stesting.GetAction); ok {
			s += "/" + g.GetName()
		}
		out = append(out, s)
	}
	return out
}

// notServed makes the API server answer every call to the resource in that
// version as it answers a path it does not serve: a bare 404, which client-go
// turns into an error that names the object asked for.
func (f fakeIstio) notServed(resource, version string) {
	f.PrependReactor("*", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetResource().Version != version {
			return false, nil, nil
		}
		name := ""
		if g, ok := a.(k8stesting.GetAction); ok {
			name = g.GetName()
		}
		return true, nil, apierrors.NewGenericServerResponse(404, a.GetVerb(), a.GetResource().GroupResource(), name, "404 page not found", 0, true)
	})
}

func ctx(t *testing.T) context.Context {
	_, c := ktesting.NewTestContext(t)
	return c
}

func TestGetRoutes(t *testing.T) {
	v1, v2 := contract.Destination{Version: "v1", Weight: 90}, contract.Destination{Version: "v2", Weight: 10}
	for _, tc := range []struct {
		name      string
		objs      []runtime.Object
		notServed []string // API versions of virtualservices not served
		served    bool
		found     bool
		dests     []contract.Destination
		calls     []string
	}{
		{
			name:   "v1: the named route behind a header route",
			objs:   []runtime.Object{virtualServiceV1(debugRoute(), ownRoute(contract.RouteName, v1, v2))},
			served: true, found: true, dests: []contract.Destination{v1, v2},
			calls: []string{"get virtualservices.v1 default/reviews"},
		},
		{
			name:   "v1, no VirtualService: v1beta1 is not asked",
			served: true,
			calls:  []string{"get virtualservices.v1 default/reviews"},
		},
		{
			name:      "only v1beta1 served",
			objs:      []runtime.Object{virtualServiceV1beta1(ownRoute(contract.RouteName, v1, v2))},
			notServed: []string{"v1"},
			served:    true, found: true, dests: []contract.Destination{v1, v2},
			calls: []string{"get virtualservices.v1 default/reviews", "get virtualservices.v1beta1 default/reviews"},
		},
		{
			name:      "only v1beta1 served, no VirtualService",
			notServed: []string{"v1"},
			served:    true,
			calls:     []string{"get virtualservices.v1 default/reviews", "get virtualservices.v1beta1 default/reviews"},
		},
		{
			name:      "Istio not installed",
			notServed: []string{"v1", "v1beta1"},
			calls:     []string{"get virtualservices.v1 default/reviews", "get virtualservices.v1beta1 default/reviews"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIstio(tc.objs...)
			for _, v := range tc.notServed {
				f.notServed("virtualservices", v)
			}
			got, err := Istio{Client: f}.GetRoutes(ctx(t), reviews)
			require.NoError(t, err)
			require.Equal(t, tc.calls, f.calls())
			require.Equal(t, tc.served, got.Served, "served")
			require.Equal(t, tc.found, got.Found, "found")
			require.Equal(t, tc.dests, got.Destinations)
			if tc.found {
				require.Equal(t, 9080, got.Port)
				require.Equal(t, "reviews-team", got.Annotations["owner"])
			}
		})
	}
}

func TestGetRoutesRefuses(t *testing.T) {
	t.Run("a VirtualService of another application", func(t *testing.T) {
		vs := virtualServiceV1(ownRoute(contract.RouteName))
		vs.Labels[contract.LabelAppName] = "shop"
		f := newFakeIstio(vs)
		_, err := Istio{Client: f}.GetRoutes(ctx(t), reviews)
		var notOwned *NotOwnedError
		require.ErrorAs(t, err, &notOwned)
		require.EqualError(t, err, "VirtualService default/reviews does not belong to component reviews of application book-info; remove it or rename the component")
		require.Equal(t, []string{"get virtualservices.v1 default/reviews"}, f.calls())
	})
	t.Run("an API error is wrapped with the object's identity", func(t *testing.T) {
		f := newFakeIstio()
		f.PrependReactor("get", "virtualservices", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewServiceUnavailable("etcd is down")
		})
		_, err := Istio{Client: f}.GetRoutes(ctx(t), reviews)
		require.ErrorContains(t, err, "get VirtualService default/reviews: etcd is down")
		require.True(t, apierrors.IsServiceUnavailable(err))
		require.Equal(t, []string{"get virtualservices.v1 default/reviews"}, f.calls(), "no fallback on other errors")
	})
}

func TestNotServed(t *testing.T) {
	gr := schema.GroupResource{Group: "networking.istio.io", Resource: "virtualservices"}
	require.True(t, notServed(apierrors.NewGenericServerResponse(404, "get", gr, "reviews", "404 page not found", 0, true)), "a bare 404 of a get")
	require.True(t, notServed(apierrors.NewNotFound(gr, "")), "a 404 that names no object (a list)")
	require.True(t, notServed(fmt.Errorf("map: %w", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: gr.Group, Kind: "VirtualService"}})), "no matches for kind")
	require.False(t, notServed(apierrors.NewNotFound(gr, "reviews")), "an object that does not exist")
	require.False(t, notServed(apierrors.NewServiceUnavailable("etcd is down")))
	require.False(t, notServed(nil))
}

func TestGetSubsets(t *testing.T) {
	dr := func(names ...string) *networkingv1beta1.DestinationRule {
		d := &networkingv1beta1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "default", Labels: ownLabels()}}
		for _, n := range names {
			d.Spec.Subsets = append(d.Spec.Subsets, &networkingv1alpha3.Subset{Name: n})
		}
		return d
	}
	f := newFakeIstio(dr("v2", "v1"))
	f.notServed("destinationrules", "v1")
	got, err := Istio{Client: f}.GetSubsets(ctx(t), reviews)
	require.NoError(t, err)
	require.Equal(t, []string{"get destinationrules.v1 default/reviews", "get destinationrules.v1beta1 default/reviews"}, f.calls())
	require.True(t, got.Served && got.Found)
	require.Equal(t, []string{"v1", "v2"}, got.Names, "sorted")
}
