// Package istiometrics stands in for Istio's sidecars in tests: an HTTP
// endpoint that exports Istio's standard request metrics,
// istio_requests_total and istio_request_duration_milliseconds, with
// Istio's labels, for traffic the test describes. A real Prometheus scrapes
// it, so the analysis templates run against what a mesh would show.
//
// The test sets, per target (namespace, app, version), the requests per
// second, the share of them answered 500 and their latency. The counters
// are advanced from the time that passed whenever they are scraped, so
// rate() over a window shows the rates that were set during it.
//
//	e := istiometrics.New()
//	addr, err := e.Start() // 127.0.0.1:port, metrics at /metrics
//	e.Set(istiometrics.Target{Namespace: "default", App: "reviews", Version: "v2"},
//		istiometrics.Traffic{RPS: 20, LatencyMs: 30})
package istiometrics

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Target is a version of a workload that receives traffic, named as this
// addon labels its pods: App is the pod label app (the component, Istio's
// destination_app), Version the pod label version (destination_version).
type Target struct {
	Namespace string
	App       string
	Version   string
}

// Traffic is what a target receives from now on.
type Traffic struct {
	// RPS is requests per second.
	RPS float64
	// ErrorShare is the fraction of the requests answered with 500, 0 to 1.
	ErrorShare float64
	// LatencyMs is how long every request takes, in milliseconds.
	LatencyMs float64
}

// Buckets are the bounds, in milliseconds, of Istio's
// istio_request_duration_milliseconds histogram.
var Buckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Exporter serves Istio's request metrics for the traffic set on it.
type Exporter struct {
	now func() time.Time // time.Now; a fixed clock in unit tests

	mu    sync.Mutex
	flows map[Target]*flow

	registry *prometheus.Registry
	server   *http.Server
	served   chan struct{}
}

// flow is what a target has received so far.
type flow struct {
	traffic Traffic
	at      time.Time // the counters hold the requests up to here
	// owed holds the fractions of a request not counted yet, by outcome,
	// so that counters stay whole numbers without losing requests.
	owed           [2]float64
	series         [2]series
	errorsRaisedAt time.Time
}

// outcome indexes flow.owed and flow.series.
const (
	ok = iota
	failed
)

var responseCodes = [2]string{ok: "200", failed: "500"}

// series is one response code's counter and histogram.
type series struct {
	requests uint64
	sumMs    float64
	buckets  map[float64]uint64 // cumulative, as Prometheus' le buckets
}

// New returns an exporter with no traffic; Set adds targets.
func New() *Exporter {
	e := &Exporter{now: time.Now, flows: map[Target]*flow{}, registry: prometheus.NewRegistry()}
	e.registry.MustRegister(collector{e})
	return e
}

// Set makes target receive traffic from now on; what it received until now
// stays counted at the traffic set before. Invalid values are a mistake in
// the test, so they panic.
func (e *Exporter) Set(target Target, traffic Traffic) {
	if target.Namespace == "" || target.App == "" || target.Version == "" {
		// Prometheus drops empty labels: the series would match the wrong selectors.
		panic(fmt.Sprintf("istiometrics: target %+v needs a namespace, an app and a version", target))
	}
	if !(traffic.RPS >= 0) || !(traffic.ErrorShare >= 0 && traffic.ErrorShare <= 1) || !(traffic.LatencyMs >= 0) ||
		math.IsInf(traffic.RPS, 0) || math.IsInf(traffic.LatencyMs, 0) {
		panic(fmt.Sprintf("istiometrics: traffic %+v needs RPS >= 0, ErrorShare in [0, 1], LatencyMs >= 0", traffic))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	f, found := e.flows[target]
	if !found {
		f = &flow{at: now}
		e.flows[target] = f
	}
	f.advance(now)
	if f.traffic.ErrorShare == 0 && traffic.ErrorShare > 0 {
		f.errorsRaisedAt = now
	}
	f.traffic = traffic
}

// ErrorsRaisedAt tells when target's error share was last raised from 0,
// so that a test can measure how long the analysis took to notice.
func (e *Exporter) ErrorsRaisedAt(target Target) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, found := e.flows[target]
	if !found || f.errorsRaisedAt.IsZero() {
		return time.Time{}, false
	}
	return f.errorsRaisedAt, true
}

// Handler serves the metrics in Prometheus' text format.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{})
}

// Start serves the metrics at /metrics on a free port of 127.0.0.1 and
// returns the address, host:port, as a Prometheus scrape target names it.
func (e *Exporter) Start() (string, error) {
	if e.server != nil {
		return "", errors.New("istiometrics: the exporter is already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("istiometrics: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.Handler())
	e.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	e.served = make(chan struct{})
	go func() {
		defer close(e.served)
		_ = e.server.Serve(ln) // ErrServerClosed after Stop
	}()
	return ln.Addr().String(), nil
}

// Stop closes the server Start started and waits for it to end.
func (e *Exporter) Stop() {
	if e.server == nil {
		return
	}
	_ = e.server.Close()
	<-e.served
	e.server = nil
}

// advance counts the requests received from f.at to now at f.traffic.
func (f *flow) advance(now time.Time) {
	elapsed := now.Sub(f.at).Seconds()
	if elapsed <= 0 {
		return
	}
	f.at = now
	t := f.traffic
	f.owed[ok] += t.RPS * (1 - t.ErrorShare) * elapsed
	f.owed[failed] += t.RPS * t.ErrorShare * elapsed
	for o := range f.owed {
		n := math.Floor(f.owed[o])
		f.owed[o] -= n
		f.series[o].add(uint64(n), t.LatencyMs)
	}
}

func (s *series) add(n uint64, latencyMs float64) {
	if n == 0 {
		return
	}
	if s.buckets == nil {
		s.buckets = make(map[float64]uint64, len(Buckets))
		for _, b := range Buckets {
			s.buckets[b] = 0
		}
	}
	s.requests += n
	s.sumMs += float64(n) * latencyMs
	for _, b := range Buckets {
		if latencyMs <= b {
			s.buckets[b] += n
		}
	}
}
