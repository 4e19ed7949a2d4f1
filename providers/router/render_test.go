package router

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// rendered decodes a rendered VirtualService's spec strictly.
func rendered(t *testing.T, m map[string]any) *networkingv1alpha3.VirtualService {
	t.Helper()
	raw, err := json.Marshal(m["spec"])
	require.NoError(t, err)
	spec := &networkingv1alpha3.VirtualService{}
	require.NoError(t, protojson.Unmarshal(raw, spec), "not a valid VirtualService spec: %s", raw)
	return spec
}

// setRoutes reads the component's routes from objs and renders want on
// them; it checks that rendering made no API call.
func setRoutes(t *testing.T, f fakeIstio, want RouteChange) map[string]any {
	t.Helper()
	r := Istio{Client: f}
	live, err := r.GetRoutes(ctx(t), reviews)
	require.NoError(t, err)
	calls := len(f.Actions())
	m, err := r.SetRoutes(live, want)
	require.NoError(t, err)
	require.Len(t, f.Actions(), calls, "rendering calls no API")
	return m
}

var split = []contract.Destination{{Version: "v1", Weight: 90}, {Version: "v2", Weight: 10}}

func TestSetRoutesLeavesForeignRoutesInPlace(t *testing.T) {
	own := ownRoute(contract.RouteName, contract.Destination{Version: "v1", Weight: 100})
	own.Timeout = durationpb.New(5e9)
	fallback := &networkingv1alpha3.HTTPRoute{Name: "fallback", Route: []*networkingv1alpha3.HTTPRouteDestination{{Destination: &networkingv1alpha3.Destination{Host: "reviews-fallback"}}}}
	f := newFakeIstio(virtualServiceV1(debugRoute(), own, fallback))

	spec := rendered(t, setRoutes(t, f, RouteChange{Destinations: split}))
	require.Len(t, spec.Http, 3)
	require.True(t, proto.Equal(debugRoute(), spec.Http[0]), "the header route first, unchanged: %v", spec.Http[0])
	require.Equal(t, contract.RouteName, spec.Http[1].Name)
	require.Equal(t, int64(5), spec.Http[1].Timeout.GetSeconds(), "the owned route keeps its other fields")
	require.Equal(t, split, contract.Destinations(spec.Http[1]))
	require.Equal(t, uint32(9080), spec.Http[1].Route[1].Destination.Port.GetNumber(), "the live port")
	require.True(t, proto.Equal(fallback, spec.Http[2]), "the fallback route last, unchanged")
}

func TestSetRoutesOnUnnamedRoute(t *testing.T) {
	f := newFakeIstio(virtualServiceV1(ownRoute("", contract.Destination{Version: "v1", Weight: 100})))
	spec := rendered(t, setRoutes(t, f, RouteChange{Destinations: split, Port: 9090}))
	require.Len(t, spec.Http, 1)
	require.Equal(t, contract.RouteName, spec.Http[0].Name, "named, so that the next read finds it by name")
	require.Equal(t, split, contract.Destinations(spec.Http[0]))
	require.Equal(t, uint32(9090), spec.Http[0].Route[0].Destination.Port.GetNumber(), "the port asked for")
}

func TestSetRoutesWithoutVirtualService(t *testing.T) {
	f := newFakeIstio()
	m := setRoutes(t, f, RouteChange{Destinations: []contract.Destination{{Version: "v1", Weight: 100}},
		Annotations: map[string]string{contract.AnnotationCanary: "v1"}})
	require.Equal(t, "networking.istio.io/v1", m["apiVersion"])
	require.Equal(t, map[string]any{
		"name": "reviews", "namespace": "default",
		"labels":      map[string]any{contract.LabelAppName: "book-info", contract.LabelComponent: "reviews"},
		"annotations": map[string]string{contract.AnnotationCanary: "v1"},
	}, m["metadata"])
	spec := rendered(t, m)
	require.Equal(t, []string{"reviews"}, spec.Hosts)
	require.Len(t, spec.Http, 1)
	require.Equal(t, contract.RouteName, spec.Http[0].Name)
	require.Nil(t, spec.Http[0].Route[0].Destination.Port, "no port known: none")
}

func TestSetRoutesKeepsWhatOthersWrote(t *testing.T) {
	vs := virtualServiceV1(ownRoute(contract.RouteName, contract.Destination{Version: "v1", Weight: 100}))
	vs.Labels["team"] = "bookinfo"
	vs.Spec.Gateways = []string{"mesh"}
	m := setRoutes(t, newFakeIstio(vs), RouteChange{Destinations: split,
		Annotations: map[string]string{contract.AnnotationPhase: contract.PhaseCompleted}})
	meta := m["metadata"].(map[string]any)
	require.Equal(t, "bookinfo", meta["labels"].(map[string]any)["team"])
	require.Equal(t, map[string]string{"owner": "reviews-team", contract.AnnotationPhase: contract.PhaseCompleted}, meta["annotations"],
		"the step's annotations over the owners'; none of the apply tool's")
	require.NotContains(t, meta, "resourceVersion")
	require.NotContains(t, meta, "uid")
	require.Equal(t, []string{"mesh"}, rendered(t, m).Gateways)
}

func TestSetRoutesThroughV1beta1(t *testing.T) {
	f := newFakeIstio(virtualServiceV1beta1(debugRoute(), ownRoute(contract.RouteName, contract.Destination{Version: "v1", Weight: 100})))
	f.notServed("virtualservices", "v1")
	m := setRoutes(t, f, RouteChange{Destinations: split})
	require.Equal(t, "networking.istio.io/v1beta1", m["apiVersion"], "rendered for the API the cluster serves")
	spec := rendered(t, m)
	require.Equal(t, "debug", spec.Http[0].Name)
	require.Equal(t, split, contract.Destinations(spec.Http[1]))
}

func TestSetSubsets(t *testing.T) {
	dr := func() runtime.Object {
		d := &networkingv1.DestinationRule{ObjectMeta: vsMeta()}
		d.Spec.Host = "reviews"
		d.Spec.Subsets = []*networkingv1alpha3.Subset{{Name: "v0"}}
		d.Spec.TrafficPolicy = &networkingv1alpha3.TrafficPolicy{
			Tls: &networkingv1alpha3.ClientTLSSettings{Mode: networkingv1alpha3.ClientTLSSettings_ISTIO_MUTUAL}}
		return d
	}
	for _, tc := range []struct {
		name   string
		objs   []runtime.Object
		policy bool
	}{
		{"on the live one", []runtime.Object{dr()}, true},
		{"a new one", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIstio(tc.objs...)
			r := Istio{Client: f}
			live, err := r.GetSubsets(ctx(t), reviews)
			require.NoError(t, err)
			m, err := r.SetSubsets(live, []string{"v1", "v2"})
			require.NoError(t, err)
			require.Equal(t, []string{"get destinationrules.v1 default/reviews"}, f.calls())
			require.Equal(t, "DestinationRule", m["kind"])
			raw, err := json.Marshal(m["spec"])
			require.NoError(t, err)
			spec := &networkingv1alpha3.DestinationRule{}
			require.NoError(t, protojson.Unmarshal(raw, spec))
			require.Equal(t, "reviews", spec.Host)
			require.Len(t, spec.Subsets, 2)
			for i, v := range []string{"v1", "v2"} {
				require.Equal(t, v, spec.Subsets[i].Name)
				require.Equal(t, map[string]string{contract.LabelVersion: v}, spec.Subsets[i].Labels)
			}
			require.Equal(t, tc.policy, spec.TrafficPolicy != nil, "the traffic policy stays")
		})
	}
}
