package prometheus_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/istio-canary/istio-canary/providers/analysis"
	"github.com/istio-canary/istio-canary/test/istiometrics"
	"github.com/istio-canary/istio-canary/test/prometheus"
)

var (
	successRate = analysis.MetricSpec{Name: "sr", Template: "request-success-rate",
		ThresholdRange: &analysis.ThresholdRange{Min: ptr(99)}}
	duration = analysis.MetricSpec{Name: "p99", Template: "request-duration",
		ThresholdRange: &analysis.ThresholdRange{Max: ptr(500)}}
)

// TestAnalysisTemplates runs the builtin templates against a real
// Prometheus scraping Istio's metrics for traffic the test sets: a healthy
// canary passes, one that answers half its requests with 500 in 800 ms
// fails both, and one without traffic is inconclusive.
func TestAnalysisTemplates(t *testing.T) {
	t.Parallel()
	exporter := istiometrics.New()
	target, err := exporter.Start()
	require.NoError(t, err)
	t.Cleanup(exporter.Stop)
	reviews := istiometrics.Target{Namespace: "default", App: "reviews", Version: "v2"}
	details := istiometrics.Target{Namespace: "default", App: "details", Version: "v2"}
	exporter.Set(reviews, istiometrics.Traffic{RPS: 20, LatencyMs: 30})
	exporter.Set(details, istiometrics.Traffic{RPS: 20, LatencyMs: 30})

	start := time.Now()
	prom := prometheus.ForTest(t, target)
	api, err := analysis.NewAPI(prom.Address())
	require.NoError(t, err)
	t.Logf("prometheus ready in %v", time.Since(start).Round(time.Millisecond))

	// Healthy: success until the window has data, never a failure.
	m := measureUntil(t, api, successRate, "reviews", "v2", 20*time.Second, func(m analysis.Measurement) bool {
		require.NotEqual(t, analysis.PhaseFailed, m.Phase, "a healthy canary failed: %s", m.Message)
		return m.Phase == analysis.PhaseSuccessful
	})
	assert.InDelta(t, 100, float64(m.Values[0]), 0.001)
	t.Logf("success rate measured %v after the start", time.Since(start).Round(time.Millisecond))
	m = measure(t, api, duration, "reviews", "v2")
	assert.Equal(t, analysis.PhaseSuccessful, m.Phase, m.Message)
	// histogram_quantile interpolates inside the bucket of 30 ms, (25, 50].
	assert.InDelta(t, 49.75, float64(m.Values[0]), 0.5, m.Message)

	// Never had traffic: no series at all.
	for _, spec := range []analysis.MetricSpec{successRate, duration} {
		m = measure(t, api, spec, "reviews", "v3")
		assert.Equal(t, analysis.PhaseInconclusive, m.Phase, "%s: %s", spec.Template, m.Message)
	}

	// Half the requests fail, all take 800 ms; details goes quiet.
	exporter.Set(reviews, istiometrics.Traffic{RPS: 20, ErrorShare: 0.5, LatencyMs: 800})
	exporter.Set(details, istiometrics.Traffic{RPS: 0})
	raised, _ := exporter.ErrorsRaisedAt(reviews)
	var firstFailed time.Time
	m = measureUntil(t, api, successRate, "reviews", "v2", 25*time.Second, func(m analysis.Measurement) bool {
		if m.Phase == analysis.PhaseFailed && firstFailed.IsZero() {
			firstFailed = m.Time
		}
		return m.Phase == analysis.PhaseFailed && math.Abs(float64(m.Values[0])-50) < 2
	})
	t.Logf("errors from %s: first failed measurement after %v, success rate at ~50%% after %v",
		raised.Format(time.TimeOnly), firstFailed.Sub(raised).Round(time.Millisecond), m.Time.Sub(raised).Round(time.Millisecond))

	m = measure(t, api, duration, "reviews", "v2")
	assert.Equal(t, analysis.PhaseFailed, m.Phase, m.Message)
	// Inside the bucket of 800 ms, (500, 1000].
	assert.InDelta(t, 995, float64(m.Values[0]), 0.5, m.Message)

	// A version whose traffic stopped: its rates are 0, 0/0 is NaN.
	for _, spec := range []analysis.MetricSpec{successRate, duration} {
		m = measureUntil(t, api, spec, "details", "v2", 15*time.Second, func(m analysis.Measurement) bool {
			return m.Phase == analysis.PhaseInconclusive
		})
		assert.Contains(t, m.Message, "NaN", spec.Template)
	}
}

// TestTargetsChangeWhileRunning adds a target to a running server through
// its targets file.
func TestTargetsChangeWhileRunning(t *testing.T) {
	t.Parallel()
	prom := prometheus.ForTest(t)
	exporter := istiometrics.New()
	target, err := exporter.Start()
	require.NoError(t, err)
	t.Cleanup(exporter.Stop)
	exporter.Set(istiometrics.Target{Namespace: "default", App: "reviews", Version: "v1"}, istiometrics.Traffic{RPS: 5})

	start := time.Now()
	require.NoError(t, prom.SetTargets(target))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, prom.WaitForTarget(ctx, target))
	t.Logf("new target scraped %v after the targets file changed", time.Since(start).Round(time.Millisecond))

	value, err := prom.WaitForQuery(ctx, `istio_requests_total{destination_app="reviews",reporter="destination"}`)
	require.NoError(t, err)
	assert.Contains(t, value.String(), `destination_workload="reviews-v1"`)
}

// measure takes one measurement of spec for canary of component, now, over
// a window of 10 s.
func measure(t *testing.T, api v1.API, spec analysis.MetricSpec, component, canary string) analysis.Measurement {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m := analysis.Measure(ctx, api, spec, analysis.Vars{
		Namespace: "default", App: "bookinfo", Component: component, Canary: canary, Stable: "v1",
		Interval: 10 * time.Second, Time: time.Now(),
	})
	require.NotEqual(t, analysis.PhaseError, m.Phase, m.Message)
	return m
}

// measureUntil measures every 250 ms until done holds, within timeout.
func measureUntil(t *testing.T, api v1.API, spec analysis.MetricSpec, component, canary string,
	timeout time.Duration, done func(analysis.Measurement) bool,
) analysis.Measurement {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var seen []string
	for {
		m := measure(t, api, spec, component, canary)
		if done(m) {
			return m
		}
		seen = append(seen, fmt.Sprintf("%s %v", m.Phase, m.Values))
		if time.Now().After(deadline) {
			t.Fatalf("%s of %s %s: not there after %v; measured %s; last: %s",
				spec.Template, component, canary, timeout, strings.Join(seen, ", "), m.Message)
		}
		time.Sleep(250 * time.Millisecond) // the pace of the polling, not a wait for an event
	}
}

func ptr(f float64) *float64 { return &f }
