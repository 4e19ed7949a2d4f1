package istiometrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var reviewsV2 = Target{Namespace: "default", App: "reviews", Version: "v2"}

// clock is a fixed clock the test moves by hand, so counts are exact.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestExporter() (*Exporter, *clock) {
	c := &clock{t: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	e := New()
	e.now = c.now
	return e, c
}

func TestCountsFollowTheTraffic(t *testing.T) {
	e, c := newTestExporter()
	e.Set(reviewsV2, Traffic{RPS: 20, ErrorShare: 0.25, LatencyMs: 30})
	c.advance(10 * time.Second)

	m := metricsOf(t, e)
	for _, reporter := range []string{"destination", "source"} {
		assert.Equal(t, 150.0, m.requests(reporter, "200"), reporter)
		assert.Equal(t, 50.0, m.requests(reporter, "500"), reporter)
	}
	h := m.histogram("destination", "200")
	assert.Equal(t, uint64(150), h.count)
	assert.Equal(t, 150*30.0, h.sum)
	assert.Equal(t, uint64(0), h.buckets[25], "30 ms is above the 25 ms bucket")
	assert.Equal(t, uint64(150), h.buckets[50])
	assert.Equal(t, uint64(150), h.buckets[3600000])
	assert.Len(t, h.buckets, len(Buckets)+1, "Istio's buckets and +Inf")

	assert.Equal(t, map[string]string{
		"reporter":                       "destination",
		"source_workload":                "traffic-generator",
		"source_workload_namespace":      "default",
		"destination_workload":           "reviews-v2",
		"destination_workload_namespace": "default",
		"destination_app":                "reviews",
		"destination_version":            "v2",
		"destination_service":            "reviews.default.svc.cluster.local",
		"destination_service_name":       "reviews",
		"destination_service_namespace":  "default",
		"request_protocol":               "http",
		"response_code":                  "500",
		"response_flags":                 "-",
		"connection_security_policy":     "mutual_tls",
	}, m.labels("istio_requests_total", "destination", "500"))
	assert.Equal(t, "unknown", m.labels("istio_requests_total", "source", "500")["connection_security_policy"])
}

func TestSetKeepsWhatWasCounted(t *testing.T) {
	e, c := newTestExporter()
	e.Set(reviewsV2, Traffic{RPS: 10, LatencyMs: 30})
	c.advance(3 * time.Second)
	e.Set(reviewsV2, Traffic{RPS: 0})
	c.advance(5 * time.Second)

	m := metricsOf(t, e)
	assert.Equal(t, 30.0, m.requests("destination", "200"))
	assert.False(t, m.has("destination", "500"), "like a sidecar, no 500 series before the first 500")

	e.Set(reviewsV2, Traffic{RPS: 10, ErrorShare: 0.5, LatencyMs: 800})
	c.advance(2 * time.Second)
	m = metricsOf(t, e)
	assert.Equal(t, 40.0, m.requests("destination", "200"))
	assert.Equal(t, 10.0, m.requests("destination", "500"))
	h := m.histogram("destination", "200")
	assert.Equal(t, uint64(30), h.buckets[50], "the first 30 took 30 ms")
	assert.Equal(t, uint64(40), h.buckets[1000], "the next 10 took 800 ms")
}

func TestFractionsOfARequestAddUp(t *testing.T) {
	e, c := newTestExporter()
	e.Set(reviewsV2, Traffic{RPS: 0.3, ErrorShare: 0.5, LatencyMs: 1})
	for range 20 {
		c.advance(time.Second / 2)
		metricsOf(t, e) // every scrape counts what is whole so far
	}
	m := metricsOf(t, e)
	assert.Equal(t, 1.0, m.requests("destination", "200"), "10 s at 0.15 rps")
	assert.Equal(t, 1.0, m.requests("destination", "500"))
}

func TestErrorsRaisedAt(t *testing.T) {
	e, c := newTestExporter()
	_, raised := e.ErrorsRaisedAt(reviewsV2)
	assert.False(t, raised, "unknown target")

	e.Set(reviewsV2, Traffic{RPS: 10})
	_, raised = e.ErrorsRaisedAt(reviewsV2)
	assert.False(t, raised, "no errors yet")

	c.advance(time.Second)
	first := c.now()
	e.Set(reviewsV2, Traffic{RPS: 10, ErrorShare: 0.1})
	c.advance(time.Second)
	e.Set(reviewsV2, Traffic{RPS: 10, ErrorShare: 0.5})
	at, raised := e.ErrorsRaisedAt(reviewsV2)
	assert.True(t, raised)
	assert.Equal(t, first, at, "raising an error share above 0 further is not a new start")

	e.Set(reviewsV2, Traffic{RPS: 10})
	c.advance(time.Second)
	e.Set(reviewsV2, Traffic{RPS: 10, ErrorShare: 0.2})
	at, _ = e.ErrorsRaisedAt(reviewsV2)
	assert.Equal(t, c.now(), at, "raised again from 0")
}

func TestSetRejectsNonsense(t *testing.T) {
	e := New()
	assert.Panics(t, func() { e.Set(Target{Namespace: "default", App: "reviews"}, Traffic{RPS: 1}) })
	assert.Panics(t, func() { e.Set(reviewsV2, Traffic{RPS: -1}) })
	assert.Panics(t, func() { e.Set(reviewsV2, Traffic{RPS: 1, ErrorShare: 1.5}) })
	assert.Panics(t, func() { e.Set(reviewsV2, Traffic{RPS: 1, LatencyMs: -3}) })
}

func TestStartServesMetrics(t *testing.T) {
	e := New()
	addr, err := e.Start()
	require.NoError(t, err)
	e.Set(reviewsV2, Traffic{RPS: 1000, LatencyMs: 5})

	// Poll with a deadline rather than sleep: at 1000 rps a request is
	// counted within a millisecond or two.
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		return err == nil && families["istio_requests_total"] != nil
	}, 5*time.Second, 10*time.Millisecond)

	e.Stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err == nil {
		resp.Body.Close()
	}
	assert.Error(t, err, "stopped")
}

// metrics is one scrape of the exporter, by metric name.
type metrics struct {
	t      *testing.T
	series map[string][]sample
}

type sample struct {
	labels  map[string]string
	value   float64 // a counter's
	count   uint64  // a histogram's, with sum and buckets
	sum     float64
	buckets map[float64]uint64
}

// metricsOf scrapes the exporter's handler and parses what Prometheus would read.
func metricsOf(t *testing.T, e *Exporter) metrics {
	t.Helper()
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	// The text format: what Prometheus 2.x scrapes without native histograms.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	m := metrics{t: t, series: map[string][]sample{}}
	for name, family := range families {
		for _, metric := range family.GetMetric() {
			s := sample{labels: map[string]string{}, value: metric.GetCounter().GetValue()}
			for _, l := range metric.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			if h := metric.GetHistogram(); h != nil {
				s.count, s.sum, s.buckets = h.GetSampleCount(), h.GetSampleSum(), map[float64]uint64{}
				for _, b := range h.GetBucket() {
					s.buckets[b.GetUpperBound()] = b.GetCumulativeCount()
				}
			}
			m.series[name] = append(m.series[name], s)
		}
	}
	return m
}

func (m metrics) find(name, reporter, code string) (sample, bool) {
	for _, s := range m.series[name] {
		if s.labels["reporter"] == reporter && s.labels["response_code"] == code {
			return s, true
		}
	}
	return sample{}, false
}

func (m metrics) get(name, reporter, code string) sample {
	m.t.Helper()
	s, found := m.find(name, reporter, code)
	require.True(m.t, found, "no %s series of reporter %s and code %s", name, reporter, code)
	return s
}

func (m metrics) has(reporter, code string) bool {
	_, found := m.find("istio_requests_total", reporter, code)
	return found
}

func (m metrics) requests(reporter, code string) float64 {
	m.t.Helper()
	return m.get("istio_requests_total", reporter, code).value
}

func (m metrics) histogram(reporter, code string) sample {
	m.t.Helper()
	return m.get("istio_request_duration_milliseconds", reporter, code)
}

func (m metrics) labels(name, reporter, code string) map[string]string {
	m.t.Helper()
	return m.get(name, reporter, code).labels
}
