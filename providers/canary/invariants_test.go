package canary

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	istioapi "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// TestPlanInvariants plans every step of the seed (and a step without
// weightedTargets) against every combination of reviews-v1 / reviews-v2
// replicas and ready instances and every routing the seed goes through, and
// checks what must hold whatever the state (docs/design.md, "Order of
// changes"):
//   - Plan only reads;
//   - the routes it plans (the VirtualService and the patch's http) add up
//     to 100 and only name subsets that the DestinationRule / patch define;
//   - it never moves traffic onto a version that has no ready pod;
//   - when it lets the step route (and retire), it never retires to 0 a
//     version that its routes still send traffic to.
func TestPlanInvariants(t *testing.T) {
	versions := []*liveCounts{nil} // nil: no Deployment
	for replicas := int32(0); replicas <= 2; replicas++ {
		for ready := int32(0); ready <= replicas; ready++ {
			versions = append(versions, &liveCounts{replicas, ready})
		}
	}
	routings := [][]route{{r("v1", 100)}, {r("v1", 90), r("v2", 10)}, {r("v2", 100)}}
	steps := []struct {
		name   string
		params func(*testing.T) *PlanParams
	}{
		{"step 1", func(t *testing.T) *PlanParams {
			return planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
		}},
		{"step 3", func(t *testing.T) *PlanParams { return planStep(t, ptr(1), wt("reviews-v2", 100)) }},
		{"batch 0 without weights", func(t *testing.T) *PlanParams { return planStep(t, ptr(0)) }},
		{"rollback", func(t *testing.T) *PlanParams { return rollbackStep(t) }},
	}

	planned := 0
	for _, step := range steps {
		for _, v1 := range versions {
			for _, v2 := range versions {
				for _, routing := range routings {
					name := fmt.Sprintf("%s, v1 %s, v2 %s, routes %v", step.name, describeLive(v1), describeLive(v2), routing)
					t.Run(name, func(t *testing.T) {
						objs := []runtime.Object{virtualService(routing...), destinationRule("v1", "v2")}
						ready := map[string]int32{}
						if v1 != nil {
							objs = append(objs, deployment("v1", v1.replicas, v1.ready))
							ready["v1"] = v1.ready
						}
						if v2 != nil {
							objs = append(objs, deployment("v2", v2.replicas, v2.ready))
							ready["v2"] = v2.ready
						}
						before := map[string]int{}
						for _, d := range contract.ReadRoute(&virtualService(routing...).Spec) {
							before[d.Version] = d.Weight
						}

						f := newFixture(t, objs...)
						_, ctx := ktesting.NewTestContext(t)
						res, err := f.plan(ctx, step.params(t), nil)
						f.requireReadOnly(t)
						if err != nil {
							require.True(t, IsInputError(err), "only input errors without API failures: %v", err)
							return
						}
						planned++
						got := throughJSON[PlanResult](t, res)

						check := func(what string, route *istioapi.HTTPRoute, subsets []string) {
							requireSum100(t, route)
							for _, d := range contract.Destinations(route) {
								s, w := d.Version, d.Weight
								require.Contains(t, subsets, s, "%s routes to a subset it does not define", what)
								require.False(t, w > before[s] && ready[s] == 0,
									"%s moves traffic onto %s (%d%% -> %d%%), which has no ready pod", what, s, before[s], w)
								if got.Route && got.Retire != nil && got.Retire.Replicas == 0 && got.Retire.Name == testComp+"-"+s {
									require.Zero(t, w, "%s still sends traffic to %s, which it retires to 0", what, s)
								}
							}
						}
						if got.VirtualService != nil {
							require.True(t, got.Route)
							vs := decodeVS(t, got.VirtualService)
							check("the VirtualService", vs.spec.Http[0], subsetNames(t, decodeDR(t, got.DestinationRule).spec.Subsets))
						}
						check("the patch", decodeHTTP(t, got.Patch.HTTP)[0], patchSubsets(t, got.Patch.Subsets))
					})
				}
			}
		}
	}
	require.Greater(t, planned, 100, "most states plan")
}

// liveCounts are a live version's spec.replicas and ready instances.
type liveCounts struct{ replicas, ready int32 }

func describeLive(v *liveCounts) string {
	if v == nil {
		return "missing"
	}
	return fmt.Sprintf("%d-%d ready", v.replicas, v.ready)
}
