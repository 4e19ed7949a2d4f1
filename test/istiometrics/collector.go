package istiometrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// labelNames are the labels of Istio's standard metrics that analysis
// queries select on; a real sidecar adds more (principals,
// canonical service and revision, cluster, grpc_response_status).
var labelNames = []string{
	"reporter",
	"source_workload", "source_workload_namespace",
	"destination_workload", "destination_workload_namespace",
	"destination_app", "destination_version",
	"destination_service", "destination_service_name", "destination_service_namespace",
	"request_protocol", "response_code", "response_flags", "connection_security_policy",
}

var (
	requestsDesc = prometheus.NewDesc("istio_requests_total",
		"Total requests, as Istio's sidecars count them (fake, from the test's traffic).", labelNames, nil)
	durationDesc = prometheus.NewDesc("istio_request_duration_milliseconds",
		"Request durations in milliseconds, as Istio's sidecars measure them (fake, from the test's traffic).", labelNames, nil)
)

// Source is the workload the fake requests come from, in the target's
// namespace; its sidecar is the one that reports as "source".
const Source = "traffic-generator"

// collector brings the counters up to the time of the scrape and exports
// them. Like a sidecar, it exports a response code's series only once a
// request got that code, so a 500 series appears when the errors start.
type collector struct{ e *Exporter }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
	ch <- durationDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	now := c.e.now()
	for target, f := range c.e.flows {
		f.advance(now)
		for o, s := range f.series {
			if s.requests == 0 {
				continue
			}
			for _, reporter := range []string{"destination", "source"} {
				labels := labelValues(target, reporter, responseCodes[o])
				ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(s.requests), labels...)
				ch <- prometheus.MustNewConstHistogram(durationDesc, s.requests, s.sumMs, s.buckets, labels...)
			}
		}
	}
}

// labelValues follows labelNames. Each version runs as the Deployment
// <app>-<version> behind the Service <app>, as this addon renders them.
func labelValues(t Target, reporter, code string) []string {
	// The client's sidecar does not see the server's certificate policy.
	policy := "mutual_tls"
	if reporter == "source" {
		policy = "unknown"
	}
	return []string{
		reporter,
		Source, t.Namespace,
		t.App + "-" + t.Version, t.Namespace,
		t.App, t.Version,
		t.App + "." + t.Namespace + ".svc.cluster.local", t.App, t.Namespace,
		"http", code, "-", policy,
	}
}
