package canary

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// previewStep is a blue-green preview: the new version at full size, no
// weight, reachable with the header only.
func previewStep(t *testing.T) *PlanParams {
	in := planStep(t, nil, wt("stable", 100), wt("canary", 0))
	in.Match = []map[string]any{canaryHeader()}
	return in
}

// switchStep moves everything to the new version, the old one kept for delay.
func switchStep(t *testing.T, delay string) *PlanParams {
	in := planStep(t, nil, wt("canary", 100))
	in.Rollout.ScaleDownDelay = delay
	return in
}

// recorded is vs with the annotations the steps write.
func recorded(vs *networkingv1.VirtualService, stable, canary, phase string, completedAt time.Time) *networkingv1.VirtualService {
	vs.Annotations = map[string]string{contract.AnnotationStable: stable, contract.AnnotationCanary: canary, contract.AnnotationPhase: phase}
	if !completedAt.IsZero() {
		vs.Annotations[contract.AnnotationCompletedAt] = completedAt.Format(time.RFC3339)
	}
	return vs
}

func TestPlanPreviewKeepsTheOldVersionWhole(t *testing.T) {
	res, http := planned(t, previewStep(t), deployment("v1", 2, 2), deployment("v2", 2, 2), virtualService(r("v1", 100)), destinationRule("v1"))
	require.Equal(t, 2, res.Patch.Replicas, "the new version runs at full size")
	require.Equal(t, &Retire{Name: "reviews-v1", Replicas: 2}, res.Retire, "the old version keeps its instances while it has the traffic")
	require.True(t, res.Route, res.Message)
	require.Equal(t, []string{contract.MatchRouteName, contract.RouteName}, routeNames(http))
	require.Equal(t, []contract.Destination{{Version: "v2", Weight: 100}}, contract.Destinations(http[0]), "the preview answers the match")
	require.Equal(t, []contract.Destination{{Version: "v1", Weight: 100}}, contract.Destinations(http[1]), "everyone else stays on the old version")
	require.Equal(t, []string{"v1", "v2"}, subsetNames(t, decodeDR(t, res.DestinationRule).spec.Subsets))
	require.Zero(t, res.HoldSeconds)
	require.Equal(t, contract.PhaseProgressing, decodeVS(t, res.VirtualService).meta.Annotations[contract.AnnotationPhase])
}

func TestPlanSwitchKeepsTheOldVersionForScaleDownDelay(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	live := func(vs *networkingv1.VirtualService) fixture {
		f := newFixture(t, deployment("v1", 2, 2), deployment("v2", 2, 2), vs, destinationRule("v1", "v2"))
		f.Now = func() time.Time { return now }
		return f
	}

	// The switch: all the traffic to v2 at once, v1 stays whole.
	res := plan(t, live(recorded(withRequests(virtualService(r("v1", 100)), "v2", 0), "v1", "v2", contract.PhaseProgressing, time.Time{})), switchStep(t, "90s"))
	require.True(t, res.Route)
	vs := decodeVS(t, res.VirtualService)
	require.Equal(t, []string{contract.RouteName}, routeNames(vs.spec.Http), "completion drops the preview's match route")
	require.Equal(t, []contract.Destination{{Version: "v2", Weight: 100}}, contract.Destinations(vs.spec.Http[0]))
	require.Equal(t, now.Format(time.RFC3339), vs.meta.Annotations[contract.AnnotationCompletedAt])
	require.Equal(t, &Retire{Name: "reviews-v1", Replicas: 0}, res.Retire)
	require.False(t, res.RetireNow, "v1 is kept for a rollback")
	require.Equal(t, 90, res.HoldSeconds)
	require.False(t, res.Done)
	require.Contains(t, res.Message, "reviews-v1 kept at 2 instances for a rollback until 2026-11-30T10:01:30Z")

	// 60s later the routes are applied: the hold counts from the switch.
	switched := recorded(virtualService(r("v2", 100)), "v1", "v2", contract.PhaseCompleted, now)
	now = now.Add(60 * time.Second)
	res = plan(t, live(switched.DeepCopy()), switchStep(t, "90s"))
	require.Equal(t, 30, res.HoldSeconds)
	require.False(t, res.RetireNow)
	require.Equal(t, now.Add(-60*time.Second).Format(time.RFC3339), decodeVS(t, res.VirtualService).meta.Annotations[contract.AnnotationCompletedAt],
		"the recorded switch time is kept, not renewed")

	// After the delay: scale the old version down, then the step is done.
	now = now.Add(31 * time.Second)
	res = plan(t, live(switched.DeepCopy()), switchStep(t, "90s"))
	require.Zero(t, res.HoldSeconds)
	require.True(t, res.RetireNow)
	require.False(t, res.Done)

	// A rollback within the delay finds v1 whole: the traffic goes back at once.
	now = now.Add(-60 * time.Second)
	res = plan(t, live(switched.DeepCopy()), rollbackStep(t))
	require.True(t, res.Route, "no instance to wait for")
	require.True(t, res.Ready)
	require.Equal(t, []contract.Destination{{Version: "v1", Weight: 100}}, contract.Destinations(decodeVS(t, res.VirtualService).spec.Http[0]))
	require.Zero(t, res.HoldSeconds)
	require.Equal(t, contract.PhaseRolledBack, decodeVS(t, res.VirtualService).meta.Annotations[contract.AnnotationPhase])
	require.Equal(t, &Retire{Name: "reviews-v2", Replicas: 0}, res.Retire)
}

func TestPlanWithoutScaleDownDelayRetiresAtOnce(t *testing.T) {
	res := plan(t, newFixture(t, deployment("v1", 2, 2), deployment("v2", 2, 2), virtualService(r("v1", 100)), destinationRule("v1", "v2")), switchStep(t, ""))
	require.True(t, res.RetireNow)
	require.Zero(t, res.HoldSeconds)
	require.NotContains(t, decodeVS(t, res.VirtualService).meta.Annotations, contract.AnnotationCompletedAt)
}
