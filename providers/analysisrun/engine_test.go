package analysisrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/analysis"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// fakeProm answers every query with the next of its values (the last one
// again when they run out), or with err. A new analysis' first query is
// the check that Prometheus can run it: the cases give a value for it.
type fakeProm struct {
	v1.API
	mu      sync.Mutex
	values  []float64
	err     error
	queries []string
}

func (f *fakeProm) Query(_ context.Context, q string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, nil, nil, f.err
	}
	x := f.values[0]
	if len(f.values) > 1 {
		f.values = f.values[1:]
	}
	return model.Vector{{Value: model.SampleValue(x), Timestamp: model.TimeFromUnixNano(ts.UnixNano())}}, nil, nil, nil
}

type rig struct {
	engine *Engine
	kube   *k8sfake.Clientset
	prom   *fakeProm
	runs   *workflowruntest.Runs
	now    time.Time
}

func newRig(t *testing.T, values ...float64) *rig {
	t.Helper()
	r := &rig{
		kube: k8sfake.NewClientset(),
		prom: &fakeProm{values: values},
		runs: &workflowruntest.Runs{Run: workflowrun.Run{Namespace: "default", App: "book-info", UID: "uid-1", ID: "book-info-v2@2026-11-29T21:00:00Z", Revision: "book-info-v2", Phase: "executing"}},
		now:  time.Date(2026, 11, 29, 21, 0, 10, 0, time.UTC),
	}
	r.engine = &Engine{
		Kube: r.kube, Runs: r.runs,
		NewAPI: func(string) (v1.API, error) { return r.prom, nil },
		Now:    func() time.Time { return r.now },
	}
	return r
}

func min99() *analysis.ThresholdRange { v := 99.0; return &analysis.ThresholdRange{Min: &v} }

func successRate(count int, background bool) Analysis {
	return Analysis{
		Step: "analysis-10", Session: "analysis-10-abc", Background: background,
		Spec: analysis.Spec{
			Prometheus: analysis.Prometheus{Address: "http://127.0.0.1:9090"},
			Limits:     analysis.Limits{Interval: analysis.Duration(10 * time.Second), Count: count},
			Metrics:    []analysis.MetricSpec{{Name: "success-rate", Template: "request-success-rate", ThresholdRange: min99()}},
		},
		Targets: []Target{{Component: "reviews", Canary: "v2", Stable: "v1"}},
	}
}

func (r *rig) run() *workflowrun.Run { x := r.runs.Run; return &x }

func (r *rig) state(t *testing.T) State {
	t.Helper()
	cm, err := r.kube.CoreV1().ConfigMaps("default").Get(context.Background(), contract.AnalysisStateName("book-info"), metav1.GetOptions{})
	require.NoError(t, err)
	s, err := Decode(cm)
	require.NoError(t, err)
	return s
}

func TestStartMeasuresAtOnceAndKeepsTheStateOwnedByTheApplication(t *testing.T) {
	r := newRig(t, 100, 100)
	_, ctx := ktesting.NewTestContext(t)
	a, err := r.engine.Start(ctx, r.run(), successRate(2, false))
	require.NoError(t, err)
	assert.Equal(t, analysis.PhaseRunning, a.Outcome.Phase)
	assert.Equal(t, r.now.Add(10*time.Second), a.Outcome.Next, "the next measurement is one interval after the first")
	require.Len(t, r.prom.queries, 2, "the check that Prometheus can run the query, then the first measurement")
	assert.Contains(t, r.prom.queries[1], `destination_version="v2"`, "the canary's version is in the query")

	cm, err := r.kube.CoreV1().ConfigMaps("default").Get(ctx, "book-info-canary-analysis", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, cm.OwnerReferences, 1)
	assert.Equal(t, "Application", cm.OwnerReferences[0].Kind)
	assert.Equal(t, "uid-1", string(cm.OwnerReferences[0].UID))
	assert.Equal(t, "true", cm.Labels[contract.LabelAnalysisState])
	s := r.state(t)
	assert.Equal(t, r.runs.Run.ID, s.RunID)
	require.Len(t, s.Analyses, 1)
	assert.Len(t, s.Analyses[0].Targets[0].Run.Metrics[0].Measurements, 1)

	// The step calls again on the next reconcile: nothing is due, nothing measured.
	a, err = r.engine.Start(ctx, r.run(), successRate(2, false))
	require.NoError(t, err)
	assert.Equal(t, analysis.PhaseRunning, a.Outcome.Phase)
	assert.Len(t, r.prom.queries, 2, "a call before the next measurement is due queries nothing")
	assert.Empty(t, r.runs.Notes)
}

func TestSuccessfulAnalysisWakesTheStep(t *testing.T) {
	r := newRig(t, 100, 100, 99.5)
	_, ctx := ktesting.NewTestContext(t)
	_, err := r.engine.Start(ctx, r.run(), successRate(2, false))
	require.NoError(t, err)
	r.now = r.now.Add(10 * time.Second)
	a, err := r.engine.Evaluate(ctx, r.run(), "analysis-10-abc")
	require.NoError(t, err)
	assert.Equal(t, analysis.PhaseSuccessful, a.Outcome.Phase)
	assert.Equal(t, []string{"analysis-10: Successful"}, r.runs.Notes, "the verdict is noted on the Application once")
	assert.Empty(t, r.runs.Aborts)
	assert.True(t, r.state(t).Analyses[0].Acted)

	_, err = r.engine.Evaluate(ctx, r.run(), "analysis-10-abc")
	require.NoError(t, err)
	assert.Len(t, r.runs.Notes, 1, "a verdict acted on is not acted on again")
	assert.Len(t, r.prom.queries, 3)
}

func TestFailedAnalysisAbortsTheRunWithMetricValueAndBound(t *testing.T) {
	r := newRig(t, 100, 100, 52.5)
	_, ctx := ktesting.NewTestContext(t)
	_, err := r.engine.Start(ctx, r.run(), successRate(5, true))
	require.NoError(t, err)
	r.now = r.now.Add(10 * time.Second)
	a, err := r.engine.Evaluate(ctx, r.run(), "analysis-10-abc")
	require.NoError(t, err)
	require.Equal(t, analysis.PhaseFailed, a.Outcome.Phase)
	require.Len(t, r.runs.Aborts, 1)
	for _, want := range []string{"analysis-10", "reviews", "success-rate", "52.5", "99"} {
		assert.Contains(t, r.runs.Aborts[0], want)
	}
	assert.Empty(t, r.runs.Notes, "a failure aborts; it needs no other note")
}

func TestAbortFailureIsRetriedOnTheNextEvaluation(t *testing.T) {
	r := newRig(t, 100, 10)
	r.runs.AbortErr = errors.New("connection refused")
	_, ctx := ktesting.NewTestContext(t)
	_, err := r.engine.Start(ctx, r.run(), successRate(1, false))
	require.Error(t, err)
	assert.False(t, r.state(t).Analyses[0].Acted, "not acted on while the abort failed")

	r.runs.AbortErr = nil
	a, err := r.engine.Evaluate(ctx, r.run(), "analysis-10-abc")
	require.NoError(t, err)
	assert.Equal(t, analysis.PhaseFailed, a.Outcome.Phase)
	assert.Len(t, r.runs.Aborts, 1)
	assert.Len(t, r.prom.queries, 2, "a decided analysis measures no more")
}

func TestPrometheusDownCountsErrorsThenFails(t *testing.T) {
	r := newRig(t)
	r.prom.err = fmt.Errorf("dial tcp 127.0.0.1:9090: connect: connection refused")
	_, ctx := ktesting.NewTestContext(t)
	spec := successRate(3, false)
	one := 1
	spec.Spec.ConsecutiveErrorLimit = &one
	a, err := r.engine.Start(ctx, r.run(), spec)
	require.NoError(t, err)
	assert.Equal(t, analysis.PhaseRunning, a.Outcome.Phase, "one error is tolerated")
	r.now = r.now.Add(10 * time.Second)
	a, err = r.engine.Evaluate(ctx, r.run(), spec.Session)
	require.NoError(t, err)
	assert.Equal(t, analysis.PhaseFailed, a.Outcome.Phase)
	require.Len(t, r.runs.Aborts, 1)
	assert.Contains(t, r.runs.Aborts[0], "connection refused")
}

func TestANewRunStartsAfresh(t *testing.T) {
	r := newRig(t, 100)
	_, ctx := ktesting.NewTestContext(t)
	_, err := r.engine.Start(ctx, r.run(), successRate(2, false))
	require.NoError(t, err)
	r.runs.Run.ID = "book-info-v3@2026-11-29T22:00:00Z"
	_, err = r.engine.Start(ctx, r.run(), successRate(2, false))
	require.NoError(t, err)
	s := r.state(t)
	assert.Equal(t, "book-info-v3@2026-11-29T22:00:00Z", s.RunID)
	require.Len(t, s.Analyses, 1, "the analyses of the run before are dropped")
}

func TestAConfigMapOfSomeoneElseIsNeverOverwritten(t *testing.T) {
	r := newRig(t, 100)
	_, ctx := ktesting.NewTestContext(t)
	_, err := r.kube.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "book-info-canary-analysis", Namespace: "default"},
		Data:       map[string]string{"mine": "yes"},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = r.engine.Start(ctx, r.run(), successRate(2, false))
	require.ErrorIs(t, err, ErrNotOwned)
	cm, err := r.kube.CoreV1().ConfigMaps("default").Get(ctx, "book-info-canary-analysis", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"mine": "yes"}, cm.Data)
	assert.Empty(t, r.prom.queries)
}

func TestTendMeasuresDueAnalysesOfTheCurrentRunOnly(t *testing.T) {
	r := newRig(t, 100)
	_, ctx := ktesting.NewTestContext(t)
	_, err := r.engine.Start(ctx, r.run(), successRate(3, true))
	require.NoError(t, err)
	started := len(r.prom.queries)

	require.NoError(t, r.engine.tend(ctx, "default", "book-info", r.state(t)))
	assert.Len(t, r.prom.queries, started, "nothing due yet")

	r.now = r.now.Add(10 * time.Second)
	require.NoError(t, r.engine.tend(ctx, "default", "book-info", r.state(t)))
	assert.Len(t, r.prom.queries, started+1, "due: measured by the loop")

	r.now = r.now.Add(10 * time.Second)
	r.runs.Run.Finished = true
	require.NoError(t, r.engine.tend(ctx, "default", "book-info", r.state(t)))
	assert.Len(t, r.prom.queries, started+1, "a finished run is not measured")
}

func TestTwoTargetsTheWorstWins(t *testing.T) {
	r := newRig(t, 100, 100, 40)
	_, ctx := ktesting.NewTestContext(t)
	spec := successRate(1, false)
	spec.Targets = append(spec.Targets, Target{Component: "ratings", Canary: "v2", Stable: "v1"})
	a, err := r.engine.Start(ctx, r.run(), spec)
	require.NoError(t, err)
	assert.Equal(t, analysis.PhaseFailed, a.Outcome.Phase)
	assert.Contains(t, a.Outcome.Message, "ratings")
	assert.NotContains(t, a.Outcome.Message, "reviews (", "only the components that did not pass are named")
}

func TestAQueryPrometheusCannotRunIsBadInputAndKeepsNothing(t *testing.T) {
	r := newRig(t)
	r.prom.err = &v1.Error{Type: v1.ErrBadData, Msg: "1:30: parse error: unexpected <by>"}
	_, ctx := ktesting.NewTestContext(t)
	_, err := r.engine.Start(ctx, r.run(), successRate(2, false))
	var bad *BadQueryError
	require.ErrorAs(t, err, &bad)
	assert.Contains(t, err.Error(), "metrics[0].template: Prometheus cannot run it")
	_, err = r.kube.CoreV1().ConfigMaps("default").Get(ctx, "book-info-canary-analysis", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "nothing is kept: %v", err)
	assert.Empty(t, r.runs.Aborts)
}

func TestNoWakeLeavesAForegroundVerdictToTheStep(t *testing.T) {
	r := newRig(t, 100, 10)
	r.engine.NoWake = true
	_, ctx := ktesting.NewTestContext(t)
	a, err := r.engine.Start(ctx, r.run(), successRate(1, false))
	require.NoError(t, err)
	assert.Equal(t, analysis.PhaseFailed, a.Outcome.Phase, "the step learns the verdict when it asks")
	assert.Empty(t, r.runs.Aborts)
	assert.Empty(t, r.runs.Notes)
}
