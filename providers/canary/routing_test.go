package canary

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	istioapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// debugRoute is a route another trait puts in front of canary-traffic's: a
// header match to another host.
func debugRoute() *istioapi.HTTPRoute {
	return &istioapi.HTTPRoute{
		Name: "debug",
		Match: []*istioapi.HTTPMatchRequest{{Headers: map[string]*istioapi.StringMatch{
			"x-debug": {MatchType: &istioapi.StringMatch_Exact{Exact: "1"}},
		}}},
		Route: []*istioapi.HTTPRouteDestination{{Destination: &istioapi.Destination{Host: "ratings"}}},
	}
}

// behindDebugRoute is the component's VirtualService with canary-traffic's
// named route behind the debug route.
func behindDebugRoute(routes ...route) *networkingv1.VirtualService {
	vs := virtualService(routes...)
	vs.Spec.Http[0].Name = contract.RouteName
	vs.Spec.Http = append([]*istioapi.HTTPRoute{debugRoute()}, vs.Spec.Http...)
	return vs
}

// TestPlanLeavesAForeignRouteInPlace walks the seed's rollout and a rollback
// with a header route in front of canary-traffic's: every patch and every
// planned VirtualService keeps it first and unchanged, and sets the weights
// of the named route only.
func TestPlanLeavesAForeignRouteInPlace(t *testing.T) {
	step1 := func(t *testing.T) *PlanParams { return planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)) }
	step3 := func(t *testing.T) *PlanParams { return planStep(t, ptr(1), wt("reviews-v2", 100)) }
	for _, tc := range []struct {
		name   string
		params func(*testing.T) *PlanParams
		live   []runtime.Object
		patch  []string // the owned route's weights in the patch
		vs     []string // and in the planned VirtualService; nil: none planned
	}{
		{"step 1 waiting", step1, []runtime.Object{deployment("v1", 2, 2), behindDebugRoute(r("v1", 100)), destinationRule("v1")}, []string{"v1=100"}, nil},
		{"step 1 ready", step1, []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1), behindDebugRoute(r("v1", 100)), destinationRule("v1")}, []string{"v1=90", "v2=10"}, []string{"v1=90", "v2=10"}},
		{"step 3 ready", step3, []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), behindDebugRoute(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")}, []string{"v2=100"}, []string{"v2=100"}},
		{"rollback", func(t *testing.T) *PlanParams { return rollbackStep(t) }, []runtime.Object{liveV1(t, 1, 1), deployment("v2", 1, 1), behindDebugRoute(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")}, []string{"v1=100"}, []string{"v1=100"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := plan(t, newFixture(t, tc.live...), tc.params(t))
			check := func(what string, http []*istioapi.HTTPRoute, want []string) {
				require.Len(t, http, 2, what)
				require.True(t, proto.Equal(debugRoute(), http[0]), "%s: the debug route first, unchanged: %v", what, http[0])
				require.Equal(t, contract.RouteName, http[1].Name, what)
				require.Equal(t, want, weights(t, http[1].Route), what)
			}
			check("the patch", decodeHTTP(t, got.Patch.HTTP), tc.patch)
			if tc.vs == nil {
				require.Nil(t, got.VirtualService)
				return
			}
			check("the VirtualService", decodeVS(t, got.VirtualService).spec.Http, tc.vs)
		})
	}
}

// TestPlanWithoutIstio: a cluster that serves no VirtualService API is not
// one without a VirtualService. A component with canary-traffic waits (its
// VirtualService cannot be applied); one without gets instances only.
func TestPlanWithoutIstio(t *testing.T) {
	reads := []string{
		"get deployments default/reviews-v2",
		"list deployments default app.oam.dev/component=reviews,app.oam.dev/name=book-info",
		"get virtualservices default/reviews", "get virtualservices default/reviews", // v1, then v1beta1
		"get destinationrules default/reviews", "get destinationrules default/reviews",
	}
	t.Run("with canary-traffic: a passing error", func(t *testing.T) {
		f := newFixture(t, deployment("v1", 2, 2))
		notServedIstio(f, "v1", "v1beta1")
		_, ctx := ktesting.NewTestContext(t)
		_, err := f.plan(ctx, planStep(t, ptr(0)), nil)
		require.ErrorContains(t, err, "component reviews has a canary-traffic trait, but the cluster serves no VirtualService API")
		require.False(t, IsInputError(err), "installing Istio helps: the step retries")
		require.Equal(t, reads, f.actions())
	})
	t.Run("without canary-traffic: instances only", func(t *testing.T) {
		f := newFixture(t, deployment("v1", 2, 2), deployment("v2", 1, 1))
		notServedIstio(f, "v1", "v1beta1")
		p := planStep(t, ptr(0))
		p.Traffic = nil
		_, ctx := ktesting.NewTestContext(t)
		got, err := f.plan(ctx, p, nil)
		require.NoError(t, err)
		require.Equal(t, reads, f.actions())
		checkPlan(t, *got, wantPlan{ready: true, route: true, target: "reviews-v2", replicas: 1,
			retire: &Retire{Name: "reviews-v1", Replicas: 1}, stable: "v1", canary: "v2"})
	})
}

// TestPlanThroughV1beta1: where only networking.istio.io/v1beta1 is
// served, the plan reads and renders the routes through it.
func TestPlanThroughV1beta1(t *testing.T) {
	dr := destinationRule("v1")
	f := newFixture(t, deployment("v1", 2, 2), deployment("v2", 1, 1), virtualServiceV1beta1(r("v1", 100)), destinationRuleV1beta1(dr))
	notServedIstio(f, "v1")
	_, ctx := ktesting.NewTestContext(t)
	got, err := f.plan(ctx, planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)), nil)
	require.NoError(t, err)
	f.requireReadOnly(t)
	require.True(t, got.Route)
	require.Equal(t, "networking.istio.io/v1beta1", got.VirtualService["apiVersion"])
	require.Equal(t, "networking.istio.io/v1beta1", got.DestinationRule["apiVersion"])
	got.VirtualService["apiVersion"] = "networking.istio.io/v1" // decodeVS checks v1
	require.Equal(t, []string{"v1=90", "v2=10"}, weights(t, decodeVS(t, got.VirtualService).spec.Http[0].Route))
	require.Equal(t, []string{"v1", "v2"}, patchSubsets(t, got.Patch.Subsets), "the live subset read through v1beta1, and the canary's")
}
