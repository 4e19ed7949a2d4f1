package router

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"

	"github.com/istio-canary/istio-canary/internal/contract"
)

func headerMatch(name, exact string) map[string]any {
	return map[string]any{"headers": map[string]any{name: map[string]any{"exact": exact}}}
}

// TestSetRoutesAddsMatchRouteAndMirror: the match route goes right before
// the owned route, after a foreign one, and sends its requests to the
// canary; the mirror lands on the owned route only.
func TestSetRoutesAddsMatchRouteAndMirror(t *testing.T) {
	f := newFakeIstio(virtualServiceV1(debugRoute(), ownRoute(contract.RouteName, contract.Destination{Version: "v1", Weight: 100})))
	spec := rendered(t, setRoutes(t, f, RouteChange{Destinations: split, Requests: Requests{
		Match:   []any{headerMatch("x-canary", "true")},
		Version: "v2",
		Mirror:  &contract.Mirror{Version: "v2", Percent: 20},
	}}))
	require.Len(t, spec.Http, 3)
	require.True(t, proto.Equal(debugRoute(), spec.Http[0]), "the foreign route first, unchanged")
	match := spec.Http[1]
	require.Equal(t, contract.MatchRouteName, match.Name)
	require.Equal(t, "true", match.Match[0].Headers["x-canary"].GetExact())
	require.Equal(t, []contract.Destination{{Version: "v2", Weight: 100}}, contract.Destinations(match))
	require.Equal(t, uint32(9080), match.Route[0].Destination.Port.GetNumber(), "the owned route's port")
	own := spec.Http[2]
	require.Equal(t, contract.RouteName, own.Name)
	require.Equal(t, split, contract.Destinations(own))
	require.Equal(t, "v2", own.Mirror.GetSubset())
	require.Equal(t, "reviews", own.Mirror.GetHost())
	require.InDelta(t, 20.0, own.MirrorPercentage.GetValue(), 1e-9)
	require.Nil(t, spec.Http[0].Mirror, "the foreign route gets no mirror")
}

// TestRoutesReadBackRequests: what SetRoutes renders, GetRoutes reads back.
func TestRoutesReadBackRequests(t *testing.T) {
	vs := virtualServiceV1(
		&networkingv1alpha3.HTTPRoute{
			Name: contract.MatchRouteName,
			Match: []*networkingv1alpha3.HTTPMatchRequest{{Uri: &networkingv1alpha3.StringMatch{
				MatchType: &networkingv1alpha3.StringMatch_Prefix{Prefix: "/beta"},
			}}},
			Route: ownRoute("", contract.Destination{Version: "v2", Weight: 100}).Route,
		},
		ownRoute(contract.RouteName, split...),
	)
	vs.Spec.Http[1].Mirror = &networkingv1alpha3.Destination{Host: "reviews", Subset: "v2"}
	live, err := Istio{Client: newFakeIstio(vs)}.GetRoutes(ctx(t), reviews)
	require.NoError(t, err)
	require.Equal(t, split, live.Destinations, "the weights come from the owned route, not the match route")
	require.Equal(t, "v2", live.Requests.Version)
	require.Equal(t, []any{map[string]any{"uri": map[string]any{"prefix": "/beta"}}}, live.Requests.Match)
	require.Equal(t, &contract.Mirror{Version: "v2", Percent: 100}, live.Requests.Mirror, "a mirror without a percentage mirrors everything")
}

// TestSetRoutesDropsStaleRequests: a change without matches or mirror
// removes ours and leaves the foreign route, with its own match, alone.
func TestSetRoutesDropsStaleRequests(t *testing.T) {
	own := ownRoute(contract.RouteName, split...)
	own.Mirror = &networkingv1alpha3.Destination{Host: "reviews", Subset: "v2"}
	own.MirrorPercentage = &networkingv1alpha3.Percent{Value: 20}
	match := &networkingv1alpha3.HTTPRoute{
		Name:  contract.MatchRouteName,
		Match: debugRoute().Match,
		Route: ownRoute("", contract.Destination{Version: "v2", Weight: 100}).Route,
	}
	f := newFakeIstio(virtualServiceV1(debugRoute(), match, own))
	spec := rendered(t, setRoutes(t, f, RouteChange{Destinations: []contract.Destination{{Version: "v1", Weight: 100}}}))
	require.Len(t, spec.Http, 2)
	require.True(t, proto.Equal(debugRoute(), spec.Http[0]), "the foreign route stays")
	require.Equal(t, contract.RouteName, spec.Http[1].Name)
	require.Nil(t, spec.Http[1].Mirror)
	require.Nil(t, spec.Http[1].MirrorPercentage)
}

// TestSetRoutesMatchOnNewVirtualService: without a live VirtualService the
// match route still comes first.
func TestSetRoutesMatchOnNewVirtualService(t *testing.T) {
	spec := rendered(t, setRoutes(t, newFakeIstio(), RouteChange{Destinations: split, Port: 9080, Requests: Requests{
		Match: []any{headerMatch("x-canary", "true")}, Version: "v2",
	}}))
	require.Len(t, spec.Http, 2)
	require.Equal(t, []string{contract.MatchRouteName, contract.RouteName}, []string{spec.Http[0].Name, spec.Http[1].Name})
}
