package canary

import (
	"context"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/providers/analysis"
	"github.com/istio-canary/istio-canary/providers/analysisrun"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// healthyProm answers every query with one series of 100.
type healthyProm struct{ v1.API }

func (healthyProm) Query(_ context.Context, _ string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	return model.Vector{{Value: 100, Timestamp: model.TimeFromUnixNano(ts.UnixNano())}}, nil, nil, nil
}

func analyzeStep(t testing.TB) *AnalyzeParams {
	min := 99.0
	return &AnalyzeParams{
		Namespace: testNS, App: testApp, Step: "analysis-10", Session: "analysis-10-x1", Revision: testRevision,
		Analysis: analysis.Spec{
			Prometheus: analysis.Prometheus{Address: "http://127.0.0.1:9090"},
			Limits:     analysis.Limits{Interval: analysis.Duration(30 * time.Second), Count: 2},
			Metrics:    []analysis.MetricSpec{{Name: "success-rate", Template: "request-success-rate", ThresholdRange: &analysis.ThresholdRange{Min: &min}}},
		},
		Targets: []AnalysisTarget{{Component: testComp, Workload: rendered(t), Rollout: RolloutSpec{TargetSize: 2, RolloutBatches: []Batch{{1}, {1}}, Version: "v2"}, Traffic: &TrafficSpec{Port: testPort}}},
	}
}

func withAnalysis(f fixture, runs *workflowruntest.Runs) fixture {
	f.Analysis = &Analysis{
		Engine: &analysisrun.Engine{Kube: f.kube, Runs: runs, NewAPI: func(string) (v1.API, error) { return healthyProm{}, nil }},
		Runs:   runs,
	}
	return f
}

// A write of the analysis state that conflicts (the loop, or another
// replica, wrote first) is answered from what was kept, not with a retry.
func TestAnalyzeAnswersFromTheKeptStateAfterAConflict(t *testing.T) {
	runs := &workflowruntest.Runs{Run: workflowrun.Run{Namespace: testNS, App: testApp, UID: "u1", ID: "book-info-v2@2026-11-29T21:00:00Z"}}
	f := withAnalysis(newFixture(t, deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")), runs)
	_, ctx := ktesting.NewTestContext(t)
	res, err := f.Analyze(ctx, analyzeStep(t))
	require.NoError(t, err)
	assert.Equal(t, "Running", res.Phase, res.Message)

	conflicts := 0
	f.kube.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "book-info-canary-analysis", nil)
		}
		return false, nil, nil
	})
	f.Analysis.Engine.Now = func() time.Time { return time.Now().Add(31 * time.Second) }
	res, err = f.Analyze(ctx, analyzeStep(t))
	require.NoError(t, err, "a passing conflict is not the step's problem")
	assert.Equal(t, 1, conflicts)
	assert.Equal(t, "Running", res.Phase, "the kept analysis, one measurement in")
}

// An aborted run makes the analysis step roll back, saying who aborted it.
func TestAnalyzeInAnAbortedRunRollsBack(t *testing.T) {
	runs := &workflowruntest.Runs{Run: workflowrun.Run{Namespace: testNS, App: testApp, UID: "u1", ID: "book-info-v2@2026-11-29T21:00:00Z",
		AbortRequested: true, AbortReason: "aborted by alice"}}
	f := withAnalysis(newFixture(t, deployment("v1", 1, 1), deployment("v2", 1, 1)), runs)
	_, ctx := ktesting.NewTestContext(t)
	res, err := f.Analyze(ctx, analyzeStep(t))
	require.NoError(t, err)
	assert.True(t, res.Rollback)
	assert.Equal(t, "aborted: aborted by alice", res.Message)
}

// Bad properties are named and nothing is read or written.
func TestAnalyzeRejectsBadPropertiesBeforeReadingAnything(t *testing.T) {
	runs := &workflowruntest.Runs{Run: workflowrun.Run{Namespace: testNS, App: testApp, UID: "u1", ID: "r@t"}}
	f := withAnalysis(newFixture(t, deployment("v1", 1, 1)), runs)
	in := analyzeStep(t)
	in.Analysis.Metrics[0].Template = "request-succes-rate"
	_, ctx := ktesting.NewTestContext(t)
	_, err := f.Analyze(ctx, in)
	require.Error(t, err)
	assert.True(t, IsInputError(err))
	assert.Contains(t, err.Error(), "metrics[0].template")
	assert.Empty(t, f.actions(), "nothing read or written")
}

// While vela-core runs the first steps of a new release, the Application's
// status still shows the run before it: that run's abort is not the new
// one's. A step of the aborted run itself rolls back.
func TestPlanHonoursAnAbortOfItsOwnRevisionOnly(t *testing.T) {
	runs := &workflowruntest.Runs{Run: workflowrun.Run{Namespace: testNS, App: testApp, UID: "u1", ID: "book-info-v2@2026-11-29T21:00:00Z",
		Revision: "book-info-v2", AbortRequested: true, AbortReason: "green answers 500s"}}
	live := func() fixture {
		return withAnalysis(newFixture(t, deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")), runs)
	}
	_, ctx := ktesting.NewTestContext(t)

	in := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	in.Revision = "book-info-v3"
	res, err := live().plan(ctx, in, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Aborted, "a new release is not aborted")
	assert.Equal(t, "reviews-v2", res.Patch.Name)

	in.Revision = "book-info-v2"
	res, err = live().plan(ctx, in, nil)
	require.NoError(t, err)
	assert.Equal(t, "green answers 500s", res.Aborted)
	assert.Equal(t, "reviews-v1", res.Patch.Name, "the aborted run rolls back")
}
