package canary

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
)

// In a step that canaries several components, weightedTargets name the
// versions of each; a component no target names follows its instances
// instead of failing the step.
func TestPlanWeightsOfAnUnnamedComponentFollowInstances(t *testing.T) {
	f := newFixture(t, []runtime.Object{
		liveV1(t, 1, 1),
		deployment("v2", 1, 1),
		virtualService(r("v1", 100)),
		destinationRule("v1"),
	}...)
	in := planStep(t, ptr(0), wt("ratings-v1", 90), wt("ratings-v2", 10))
	in.Components = []string{testComp, "ratings"}
	got := plan(t, f, in)
	require.True(t, got.Route)
	vs := decodeVS(t, got.VirtualService)
	require.Equal(t, []string{"v1=50", "v2=50"}, weights(t, vs.spec.Http[0].Route), "1 of 2 instances: half the traffic")
}

func TestResolveWeights(t *testing.T) {
	for name, tc := range map[string]struct {
		targets        []WeightedTarget
		others         []string
		stable, canary int
		matched        bool
		err            string
	}{
		"seed names":        {targets: []WeightedTarget{wt("reviews-v1", 90), wt("reviews-v2", 10)}, stable: 90, canary: 10, matched: true},
		"bare versions":     {targets: []WeightedTarget{wt("v1", 30), wt("v2", 70)}, stable: 30, canary: 70, matched: true},
		"roles":             {targets: []WeightedTarget{wt("stable", 0), wt("canary", 100)}, canary: 100, matched: true},
		"others only":       {targets: []WeightedTarget{wt("ratings-v2", 100)}, others: []string{"reviews", "ratings"}},
		"mixed components":  {targets: []WeightedTarget{wt("ratings-v2", 100), wt("reviews-v2", 100)}, others: []string{"reviews", "ratings"}, canary: 100, matched: true},
		"alone, not named":  {targets: []WeightedTarget{wt("ratings-v2", 100)}, others: []string{"reviews"}, err: "traffic.weightedTargets[0].revision"},
		"sum per component": {targets: []WeightedTarget{wt("reviews-v2", 60)}, err: "add up to 60"},
	} {
		t.Run(name, func(t *testing.T) {
			s, c, matched, err := resolveWeights("reviews", tc.others, "v1", "v2", tc.targets)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.True(t, IsInputError(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, []any{tc.stable, tc.canary, tc.matched}, []any{s, c, matched})
		})
	}
}
