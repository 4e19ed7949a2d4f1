//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/istio-canary/istio-canary/test/istiometrics"
)

// telemetry is a test's fake Istio telemetry for reviews, scraped by the
// local control plane's Prometheus, which the provider queries.
type telemetry struct {
	e    *env
	exp  *istiometrics.Exporter
	addr string
	prom v1.API
}

// Healthy and failing traffic of a version.
var (
	healthy = istiometrics.Traffic{RPS: 20, LatencyMs: 30}
	failing = istiometrics.Traffic{RPS: 20, ErrorShare: 0.5, LatencyMs: 30}
)

// startTelemetry starts the exporter, has Prometheus scrape it, and waits
// for the first scrape. Versions get no traffic until set.
func (e *env) startTelemetry() *telemetry {
	e.t.Helper()
	exp := istiometrics.New()
	addr, err := exp.Start()
	require.NoError(e.t, err)
	e.t.Cleanup(exp.Stop)
	remove, err := e.c.AddPrometheusTarget(addr)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = remove() })
	client, err := api.NewClient(api.Config{Address: e.c.PrometheusAddress()})
	require.NoError(e.t, err)
	tm := &telemetry{e: e, exp: exp, addr: addr, prom: v1.NewAPI(client)}
	e.eventually(30*time.Second, "Prometheus to scrape the fake telemetry", func() (bool, string) {
		v, _, err := tm.query("up{instance=" + strconv.Quote(addr) + "} == 1")
		vec, _ := v.(model.Vector)
		return err == nil && len(vec) == 1, fmt.Sprintf("%v %v", v, err)
	})
	tm.waitQuiet(15 * time.Second)
	return tm
}

// waitQuiet waits until no sample of reviews from another exporter (an
// earlier test's) lies within window: the analysis' rate()s over that
// window must see this test's traffic only.
func (tm *telemetry) waitQuiet(window time.Duration) {
	tm.e.t.Helper()
	q := fmt.Sprintf(`count_over_time(istio_requests_total{destination_workload_namespace=%q,destination_app="reviews",instance!=%q}[%ds])`, tm.e.ns, tm.addr, int(window.Seconds()))
	tm.e.eventually(window+30*time.Second, "no earlier test's telemetry in the analysis window", func() (bool, string) {
		v, _, err := tm.query(q)
		vec, _ := v.(model.Vector)
		return err == nil && len(vec) == 0, fmt.Sprintf("%d series %v", len(vec), err)
	})
}

// healthyTelemetry starts the telemetry with both versions of reviews
// answering well.
func (e *env) healthyTelemetry() *telemetry {
	e.t.Helper()
	tm := e.startTelemetry()
	tm.set("v1", healthy)
	tm.set("v2", healthy)
	return tm
}

// set makes reviews' version receive traffic from now on.
func (tm *telemetry) set(version string, traffic istiometrics.Traffic) {
	tm.exp.Set(istiometrics.Target{Namespace: tm.e.ns, App: "reviews", Version: version}, traffic)
}

func (tm *telemetry) query(q string) (model.Value, v1.Warnings, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, warnings, _, err := tm.prom.Query(ctx, q, time.Now())
	return v, warnings, err
}

// firstErrorSample is when Prometheus stored the first sample counting a
// 500 answered by version: the start of the analysis' reaction time.
func (tm *telemetry) firstErrorSample(version string) time.Time {
	tm.e.t.Helper()
	q := fmt.Sprintf(`istio_requests_total{reporter="destination",destination_version=%q,response_code="500",instance=%q}[10m]`, version, tm.addr)
	v, _, err := tm.query(q)
	require.NoError(tm.e.t, err)
	m, ok := v.(model.Matrix)
	require.True(tm.e.t, ok && len(m) > 0 && len(m[0].Values) > 0, "no error samples of %s: %v", version, v)
	return m[0].Values[0].Timestamp.Time()
}
