package contract

import (
	"testing"

	"github.com/stretchr/testify/assert"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
)

// route is an HTTP route with a name, an optional header match and
// destinations given as subset=weight pairs.
func route(name string, match bool, dests ...Destination) *networkingv1alpha3.HTTPRoute {
	h := &networkingv1alpha3.HTTPRoute{Name: name}
	if match {
		h.Match = []*networkingv1alpha3.HTTPMatchRequest{{Headers: map[string]*networkingv1alpha3.StringMatch{
			"x-debug": {MatchType: &networkingv1alpha3.StringMatch_Exact{Exact: "1"}},
		}}}
	}
	for _, d := range dests {
		h.Route = append(h.Route, &networkingv1alpha3.HTTPRouteDestination{
			Destination: &networkingv1alpha3.Destination{Host: "reviews", Subset: d.Version},
			Weight:      int32(d.Weight),
		})
	}
	return h
}

func TestOurRoute(t *testing.T) {
	v1 := Destination{Version: "v1", Weight: 100}
	for _, tc := range []struct {
		name string
		http []*networkingv1alpha3.HTTPRoute
		want int
	}{
		{"no route", nil, -1},
		{"the named route", []*networkingv1alpha3.HTTPRoute{route("canary-traffic", false, v1)}, 0},
		{"a header route in front of the named one", []*networkingv1alpha3.HTTPRoute{route("debug", true, v1), route("canary-traffic", false, v1)}, 1},
		{"the name wins over an unnamed route without match", []*networkingv1alpha3.HTTPRoute{route("", false, v1), route("canary-traffic", true, v1)}, 1},
		{"rendered before routes had names", []*networkingv1alpha3.HTTPRoute{route("", false, v1)}, 0},
		{"unnamed, after a foreign header route", []*networkingv1alpha3.HTTPRoute{route("", true, v1), route("", false, v1)}, 1},
		{"a named route without match is someone else's", []*networkingv1alpha3.HTTPRoute{route("primary", true, v1), route("fallback", false, v1)}, 0},
		{"every route matches: the first", []*networkingv1alpha3.HTTPRoute{route("", true, v1), route("", true, v1)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, OurRoute(tc.http))
		})
	}
}

func TestReadRoute(t *testing.T) {
	d := func(v string, w int) Destination { return Destination{Version: v, Weight: w} }
	for _, tc := range []struct {
		name string
		spec *networkingv1alpha3.VirtualService
		want []Destination
	}{
		{"no VirtualService", nil, nil},
		{"no route", &networkingv1alpha3.VirtualService{}, nil},
		{"weights as written", &networkingv1alpha3.VirtualService{Http: []*networkingv1alpha3.HTTPRoute{route(RouteName, false, d("v1", 90), d("v2", 10))}},
			[]Destination{d("v1", 90), d("v2", 10)}},
		{"a lone destination gets 100 whatever its weight", &networkingv1alpha3.VirtualService{Http: []*networkingv1alpha3.HTTPRoute{route(RouteName, false, d("v1", 0))}},
			[]Destination{d("v1", 100)}},
		{"the owned route, not the first", &networkingv1alpha3.VirtualService{Http: []*networkingv1alpha3.HTTPRoute{route("debug", true, d("x", 100)), route(RouteName, false, d("v2", 100))}},
			[]Destination{d("v2", 100)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ReadRoute(tc.spec))
		})
	}
}

func TestWriteRoute(t *testing.T) {
	dests := []Destination{{Version: "v1", Weight: 90}, {Version: "v2", Weight: 10}}
	assert.Equal(t, []any{
		map[string]any{"destination": map[string]any{"host": "reviews", "subset": "v1", "port": map[string]any{"number": 9080}}, "weight": 90},
		map[string]any{"destination": map[string]any{"host": "reviews", "subset": "v2", "port": map[string]any{"number": 9080}}, "weight": 10},
	}, WriteRoute("reviews", 9080, dests))
	assert.Equal(t, []any{
		map[string]any{"destination": map[string]any{"host": "reviews", "subset": "v1"}, "weight": 100},
	}, WriteRoute("reviews", 0, []Destination{{Version: "v1", Weight: 100}}), "without a port, none")
	assert.Equal(t, 90, WeightOf(dests, "v1"))
	assert.Equal(t, 0, WeightOf(dests, "v3"))
}

func TestOwnerAnnotations(t *testing.T) {
	assert.Equal(t, map[string]string{AnnotationPhase: PhaseCompleted, "owner": "team"}, OwnerAnnotations(map[string]string{
		AnnotationPhase: PhaseCompleted,
		"owner":         "team",
		"kubectl.kubernetes.io/last-applied-configuration": "{}",
		"deployment.kubernetes.io/revision":                "3",
	}))
}
