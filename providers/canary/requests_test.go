package canary

import (
	"testing"

	"github.com/stretchr/testify/require"
	istioapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// canaryHeader is the A/B match of the tests: x-canary: true.
func canaryHeader() map[string]any {
	return map[string]any{"headers": map[string]any{"x-canary": map[string]any{"exact": "true"}}}
}

// withRequests is vs with a match route to version in front of its route
// and a mirror of mirrorPercent to version on it (none when 0).
func withRequests(vs *networkingv1.VirtualService, version string, mirrorPercent float64) *networkingv1.VirtualService {
	own := vs.Spec.Http[0]
	own.Name = contract.RouteName
	match := &istioapi.HTTPRoute{
		Name: contract.MatchRouteName,
		Match: []*istioapi.HTTPMatchRequest{{Headers: map[string]*istioapi.StringMatch{
			"x-canary": {MatchType: &istioapi.StringMatch_Exact{Exact: "true"}},
		}}},
		Route: []*istioapi.HTTPRouteDestination{{Destination: &istioapi.Destination{Host: testComp, Subset: version, Port: &istioapi.PortSelector{Number: testPort}}, Weight: 100}},
	}
	if mirrorPercent > 0 {
		own.Mirror = &istioapi.Destination{Host: testComp, Subset: version, Port: &istioapi.PortSelector{Number: testPort}}
		own.MirrorPercentage = &istioapi.Percent{Value: mirrorPercent}
	}
	vs.Spec.Http = []*istioapi.HTTPRoute{match, own}
	return vs
}

// planned plans in against live and decodes the VirtualService the step
// applies (nil when it applies none).
func planned(t *testing.T, in *PlanParams, live ...runtime.Object) (PlanResult, []*istioapi.HTTPRoute) {
	t.Helper()
	res := plan(t, newFixture(t, live...), in)
	if res.VirtualService == nil {
		return res, nil
	}
	return res, decodeVS(t, res.VirtualService).spec.Http
}

func routeNames(http []*istioapi.HTTPRoute) []string {
	var out []string
	for _, h := range http {
		out = append(out, h.Name)
	}
	return out
}

func TestPlanSetsMatchAndMirror(t *testing.T) {
	in := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	in.Match = []map[string]any{canaryHeader()}
	in.Mirror = &MirrorSpec{Percent: 20}
	res, http := planned(t, in, deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1", "v2"))
	require.False(t, res.Done)
	require.Equal(t, []string{contract.MatchRouteName, contract.RouteName}, routeNames(http))
	require.Equal(t, "true", http[0].Match[0].Headers["x-canary"].GetExact())
	require.Equal(t, []contract.Destination{{Version: "v2", Weight: 100}}, contract.Destinations(http[0]))
	require.Equal(t, "v2", http[1].Mirror.GetSubset())
	require.InDelta(t, 20.0, http[1].MirrorPercentage.GetValue(), 1e-9)
	require.Equal(t, []string{contract.MatchRouteName, contract.RouteName}, routeNames(decodeHTTP(t, res.Patch.HTTP)),
		"the component is applied with the same routes, or vela's state-keep would drop the match route")

	// Applied: the next reconcile finds the step done.
	res, _ = planned(t, in, deployment("v1", 1, 1), deployment("v2", 1, 1), withRequests(virtualService(r("v1", 90), r("v2", 10)), "v2", 20), destinationRule("v1", "v2"))
	require.True(t, res.Done, res.Message)
}

func TestPlanHoldsRequestsUntilTheCanaryIsReady(t *testing.T) {
	in := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	in.Match = []map[string]any{canaryHeader()}
	res, http := planned(t, in, deployment("v1", 2, 2), deployment("v2", 1, 0), virtualService(r("v1", 100)), destinationRule("v1"))
	require.Nil(t, http, "no VirtualService before the batch is ready")
	require.Equal(t, []string{contract.RouteName}, routeNames(decodeHTTP(t, res.Patch.HTTP)), "the patch holds the live routes: no match route to a canary without a ready pod")
}

// TestPlanKeepsOrDropsLiveRequests: a step that gives no match or mirror
// keeps those of the same canary, and drops them for a new canary, on
// completion and on rollback; [] and percent 0 drop them.
func TestPlanKeepsOrDropsLiveRequests(t *testing.T) {
	tests := []struct {
		name       string
		in         func(t *testing.T) *PlanParams
		live       []runtime.Object
		wantRoutes []string
		wantMirror bool
	}{
		{
			name:       "same canary, nothing given: kept",
			in:         func(t *testing.T) *PlanParams { return planStep(t, ptr(0), wt("reviews-v1", 80), wt("reviews-v2", 20)) },
			live:       []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), withRequests(virtualService(r("v1", 90), r("v2", 10)), "v2", 20), destinationRule("v1", "v2")},
			wantRoutes: []string{contract.MatchRouteName, contract.RouteName}, wantMirror: true,
		},
		{
			name: "same canary, [] and percent 0: dropped",
			in: func(t *testing.T) *PlanParams {
				in := planStep(t, ptr(0), wt("reviews-v1", 80), wt("reviews-v2", 20))
				in.Match, in.Mirror = []map[string]any{}, &MirrorSpec{Percent: 0}
				return in
			},
			live:       []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), withRequests(virtualService(r("v1", 90), r("v2", 10)), "v2", 20), destinationRule("v1", "v2")},
			wantRoutes: []string{contract.RouteName},
		},
		{
			name: "a new canary (v3 while v2 had them): dropped",
			in: func(t *testing.T) *PlanParams {
				in := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v3", 10))
				in.Workload, in.Rollout.Version = rendered(t, renderedAs("v3")), "v3"
				return in
			},
			live:       []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), deployment("v3", 1, 1), withRequests(virtualService(r("v1", 90), r("v2", 10)), "v2", 20), destinationRule("v1", "v2")},
			wantRoutes: []string{contract.RouteName},
		},
		{
			name:       "completion: dropped",
			in:         func(t *testing.T) *PlanParams { return planStep(t, ptr(1), wt("reviews-v2", 100)) },
			live:       []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), withRequests(virtualService(r("v1", 90), r("v2", 10)), "v2", 20), destinationRule("v1", "v2")},
			wantRoutes: []string{contract.RouteName},
		},
		{
			name:       "rollback: dropped",
			in:         func(t *testing.T) *PlanParams { return rollbackStep(t) },
			live:       []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), withRequests(virtualService(r("v1", 90), r("v2", 10)), "v2", 20), destinationRule("v1", "v2")},
			wantRoutes: []string{contract.RouteName},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in(t)
			res, http := planned(t, in, tt.live...)
			require.NotNil(t, http, res.Message)
			require.Equal(t, tt.wantRoutes, routeNames(http))
			own := http[len(http)-1]
			require.Equal(t, tt.wantMirror, own.Mirror != nil, "mirror")
			require.Equal(t, routeNames(http), routeNames(decodeHTTP(t, res.Patch.HTTP)), "the component's routes agree")
			require.False(t, res.Done, "the live routes still differ")
		})
	}
}

// TestPlanRejectsBadRequests: each bad traffic.match or traffic.mirror is
// refused with a message naming the field, before anything is read.
func TestPlanRejectsBadRequests(t *testing.T) {
	header := func(sm map[string]any) map[string]any {
		return map[string]any{"headers": map[string]any{"x-canary": sm}}
	}
	tests := []struct {
		name   string
		match  []map[string]any
		mirror *MirrorSpec
		want   string
	}{
		{"unknown key", []map[string]any{{"hedaers": map[string]any{}}}, nil, `traffic.match[0]: unknown key "hedaers"; use one of`},
		{"empty match", []map[string]any{canaryHeader(), {}}, nil, "traffic.match[1] is empty and would match every request"},
		{"no match type", []map[string]any{header(map[string]any{})}, nil, "traffic.match[0].headers.x-canary: give one of exact, prefix or regex"},
		{"bad regex", []map[string]any{{"uri": map[string]any{"regex": "(unclosed"}}}, nil, `traffic.match[0].uri.regex: "(unclosed" is not an RE2 regular expression`},
		{"wrong type", []map[string]any{{"uri": "/beta"}}, nil, "traffic.match[0]: not an Istio request match"},
		{"mirror above 100", nil, &MirrorSpec{Percent: 120}, "traffic.mirror.percent: 120 is not between 0 and 100"},
		{"mirror negative", nil, &MirrorSpec{Percent: -1}, "traffic.mirror.percent: -1 is not between 0 and 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, deployment("v1", 2, 2), virtualService(r("v1", 100)), destinationRule("v1"))
			in := planStep(t, ptr(0))
			in.Match, in.Mirror = tt.match, tt.mirror
			_, ctx := ktesting.NewTestContext(t)
			_, err := f.plan(ctx, in, nil)
			require.Error(t, err)
			require.True(t, IsInputError(err), "an input error: %v", err)
			require.Contains(t, err.Error(), tt.want)
			require.Empty(t, f.actions(), "nothing read")
		})
	}
}

func TestPlanRejectsRequestsWithoutCanaryTraffic(t *testing.T) {
	f := newFixture(t, deployment("v1", 2, 2))
	in := planStep(t, ptr(0))
	in.Traffic = nil
	in.Match = []map[string]any{canaryHeader()}
	_, ctx := ktesting.NewTestContext(t)
	_, err := f.plan(ctx, in, nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "traffic.match: component reviews has no canary-traffic trait")
	f.requireReadOnly(t)
}

// TestPlanKeepsTheSubsetOfAMatchedCanary: a preview (the canary at weight 0,
// reached only through the match route and the mirror) keeps the canary's
// subset, or Istio would fail every matched request (IST0101).
func TestPlanKeepsTheSubsetOfAMatchedCanary(t *testing.T) {
	in := planStep(t, ptr(0), wt("reviews-v1", 100), wt("reviews-v2", 0))
	in.Match = []map[string]any{canaryHeader()}
	in.Mirror = &MirrorSpec{Percent: 20}
	res, http := planned(t, in, deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1"))
	require.Equal(t, []contract.Destination{{Version: "v1", Weight: 100}}, contract.Destinations(http[1]))
	require.Equal(t, []string{"v1", "v2"}, subsetNames(t, decodeDR(t, res.DestinationRule).spec.Subsets))
	require.Equal(t, []string{"v1", "v2"}, patchSubsets(t, res.Patch.Subsets))

	// Applied, it is done; with the subset gone, it is not.
	applied := withRequests(virtualService(r("v1", 100)), "v2", 20)
	res, _ = planned(t, in, deployment("v1", 1, 1), deployment("v2", 1, 1), applied, destinationRule("v1", "v2"))
	require.True(t, res.Done, res.Message)
	res, _ = planned(t, in, deployment("v1", 1, 1), deployment("v2", 1, 1), withRequests(virtualService(r("v1", 100)), "v2", 20), destinationRule("v1"))
	require.False(t, res.Done, "the canary's subset is missing")
}
