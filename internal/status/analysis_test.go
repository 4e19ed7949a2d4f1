package status

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/istio-canary/istio-canary/internal/contract"
)

const testRun = "book-info-v2@2025-01-02T10:00:00Z"

func stateConfigMap(state string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "book-info-canary-analysis", Namespace: "default",
			Labels: map[string]string{contract.LabelAnalysisState: "true", contract.LabelAppName: "book-info"}},
		Data: map[string]string{contract.AnalysisStateKey: state},
	}
}

func TestBuildAnalysesOfThisRunOnly(t *testing.T) {
	now := at("10:05:00")
	cm := stateConfigMap(`{"runID":"` + testRun + `","analyses":[{"step":"a","spec":{"count":3},"outcome":{"phase":"Running","next":"2025-01-02T10:05:01.5Z"}}]}`)
	got, problem := buildAnalyses(cm, testRun, now)
	assert.Empty(t, problem)
	require.Len(t, got, 1)
	assert.Equal(t, 2*time.Second, got[0].NextIn)
	assert.Equal(t, 3, got[0].Count)

	got, problem = buildAnalyses(cm, "book-info-v2@2025-01-02T11:00:00Z", now)
	assert.Empty(t, got, "the state of an earlier run is not this run's")
	assert.Empty(t, problem)

	got, _ = buildAnalyses(cm, "", now)
	assert.Empty(t, got, "no run, no analyses")
}

func TestBuildAnalysesUnreadable(t *testing.T) {
	got, problem := buildAnalyses(stateConfigMap("{not json"), testRun, at("10:00:00"))
	assert.Empty(t, got)
	assert.Contains(t, problem, "configmap default/book-info-canary-analysis: decode state.json")
}

func TestAnalysisStateNeedsTheProviderLabel(t *testing.T) {
	cm := stateConfigMap("{}")
	s := Snapshot{Name: "book-info", AnalysisState: cm}
	assert.Same(t, cm, analysisState(s))
	delete(cm.Labels, contract.LabelAnalysisState)
	assert.Nil(t, analysisState(s), "a user's ConfigMap of the same name")
	assert.Nil(t, analysisState(Snapshot{Name: "other", AnalysisState: stateConfigMap("{}")}), "another Application's")
}

func TestCompactValue(t *testing.T) {
	for f, want := range map[float64]string{
		99.5: "99.5", 99.91234: "99.91", 100: "100", 0.0012345: "0.001234", 1234.5: "1234",
		15000: "15000", 123456.7: "123457", 1e20: "1e+20", -3: "-3",
		math.NaN(): "NaN", math.Inf(1): "+Inf", math.Inf(-1): "-Inf",
	} {
		assert.Equal(t, want, compactValue(f), "%v", f)
	}
}

func TestCollectAnalysisStateForbidden(t *testing.T) {
	f := loadFixtures(t, "analysis-running")
	f.kube.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "book-info-canary-analysis", nil)
	})
	v, err := Collect(context.Background(), f.Clients, "default", "book-info")
	require.NoError(t, err, "the rest of the view is still shown")
	assert.Empty(t, v.Analyses)
	assert.Contains(t, v.AnalysisProblem, "cannot read the analyses (configmap default/book-info-canary-analysis)")
	out := Render(v, Options{})
	assert.Contains(t, out, "Analysis\n  cannot read the analyses (configmap default/book-info-canary-analysis): configmaps \"book-info-canary-analysis\" is forbidden")
	assert.Contains(t, out, "Component reviews")
}

func TestCollectReadsTheAnalysisState(t *testing.T) {
	f := loadFixtures(t, "analysis-running")
	v, err := Collect(context.Background(), f.Clients, "default", "book-info")
	require.NoError(t, err)
	require.Len(t, v.Analyses, 1)
	assert.Equal(t, "analyze", v.Analyses[0].Step)
	assert.Equal(t, time.Local, v.Analyses[0].Next.Location(), "times are shown in the local zone")
}
