package render

import (
	"context"
	"sync"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/istio-canary/istio-canary/providers/analysisrun"
	"github.com/istio-canary/istio-canary/providers/canary"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// stubProm answers every query with one series of value, counting them.
type stubProm struct {
	v1.API
	mu      sync.Mutex
	value   float64
	queries int
}

func (p *stubProm) Query(_ context.Context, _ string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries++
	return model.Vector{{Value: model.SampleValue(p.value), Timestamp: model.TimeFromUnixNano(ts.UnixNano())}}, nil, nil, nil
}

// TestAnalysisStepWithTheRealProvider runs canary-analysis with its analyze,
// plan and scale calls sent to the real provider (the server over fake
// clientsets holding the 90/10 state, a stub Prometheus), as vela sends
// them: the properties reach the analysis as the user wrote them, a
// healthy first measurement makes the step wait for the next, a failing
// one rolls reviews back, and a template the provider does not know fails
// the step naming the field.
func TestAnalysisStepWithTheRealProvider(t *testing.T) {
	defs := allDefinitions(t)
	def := defs["canary-analysis"]
	props := map[string]any{
		"interval": "30s", "count": 2,
		"metrics": []any{map[string]any{"name": "success-rate", "template": "request-success-rate", "thresholdRange": map[string]any{"min": 99}}},
	}
	for _, tc := range []struct {
		name      string
		value     float64
		props     func(map[string]any)
		phase     string
		mentions  []string
		rollsBack bool
	}{
		{name: "healthy", value: 100, phase: "wait", mentions: []string{"analysing; next measurement at"}},
		{name: "failing", value: 52.5, phase: "wait", mentions: []string{"reviews"}, rollsBack: true},
		{name: "unknown template", value: 100, phase: "failed", mentions: []string{"metrics[0].template", "request-succes-rate"},
			props: func(p map[string]any) {
				p["metrics"].([]any)[0].(map[string]any)["template"] = "request-succes-rate"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := loadStepCase(t, "testdata/canary-analysis/failed-rolling-back.yaml")
			prom := &stubProm{value: tc.value}
			runs := &workflowruntest.Runs{Run: workflowrun.Run{Namespace: "default", App: "book-info", UID: "u1", ID: "book-info-v2@2026-11-29T21:00:00Z", Phase: "executing"}}
			endpoint := realProviderWith(t, s, "canary-analysis", func(c canary.Clients) *canary.Analysis {
				return &canary.Analysis{
					Engine: &analysisrun.Engine{Kube: c.Kube, Runs: runs, NewAPI: func(string) (v1.API, error) { return prom, nil }},
					Runs:   runs, DefaultPrometheus: "http://prometheus.istio-system:9090",
				}
			})
			fakes := stepFakes(t, defs, s.tc, s.app, s.ctx, s.traitCluster())
			for _, do := range []string{"ping", "analyze", "plan", "scale"} {
				fakes["istio-canary/"+do] = endpoint.call(do)
			}
			p := deepMerge(props, nil)
			if tc.props != nil {
				tc.props(p)
			}
			run := runStep(t, def, p, s.ctx, fakes)
			assert.Equal(t, tc.phase, run.Phase, run.Message)
			for _, m := range tc.mentions {
				assert.Contains(t, run.Message, m)
			}
			assert.Empty(t, run.Unresolved)
			calls := callList(run.Calls)
			assert.Contains(t, calls, "analyze.call istio-canary/analyze")
			if tc.rollsBack {
				assert.Contains(t, calls, "plan.reviews istio-canary/plan")
				assert.Contains(t, calls, "route.reviews kube/apply", "traffic goes back to the stable version")
				assert.True(t, runs.Run.AbortRequested, "the failed analysis aborted the run")
			} else {
				assert.NotContains(t, calls, "plan.reviews istio-canary/plan", "nothing is planned unless the analysis failed")
			}
			if tc.phase == "failed" {
				assert.Zero(t, prom.queries, "bad input is rejected before Prometheus is asked")
			}
			checkStepOrder(t, run)
		})
	}
	require.NotNil(t, def)
}
