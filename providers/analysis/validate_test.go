package analysis

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func successRate() MetricSpec {
	return MetricSpec{Name: "success-rate", Template: "request-success-rate", ThresholdRange: &ThresholdRange{Min: ptr(99.0)}}
}

func TestValidateMetric(t *testing.T) {
	tests := []struct {
		name string
		edit func(*MetricSpec)
		// problems maps each expected path to a part of its message.
		problems map[string]string
	}{
		{name: "template", edit: func(*MetricSpec) {}},
		{name: "query and conditions", edit: func(m *MetricSpec) {
			m.Template, m.ThresholdRange = "", nil
			m.Query = `sum(rate(x{v="{{canary}}"}[{{interval}}]))`
			m.SuccessCondition, m.FailureCondition = "result >= 99", "result < 90"
		}},
		{name: "unknown template", edit: func(m *MetricSpec) { m.Template = "success-rate" },
			problems: map[string]string{"template": `"success-rate" is not a builtin metric; use one of request-duration, request-success-rate, or write a query`}},
		{name: "query does not parse", edit: func(m *MetricSpec) { m.Template, m.Query = "", "sum(rate(x[1m])" },
			problems: map[string]string{"query": `'(' is not closed`}},
		{name: "unknown placeholder", edit: func(m *MetricSpec) { m.Template, m.Query = "", `x{v="{{version}}"}` },
			problems: map[string]string{"query": "unknown placeholder {{version}}"}},
		{name: "both query and template", edit: func(m *MetricSpec) { m.Query = "up" },
			problems: map[string]string{"query": "and template are both given; keep one"}},
		{name: "neither query nor template", edit: func(m *MetricSpec) { m.Template = "" },
			problems: map[string]string{"query": "and template are both missing; give template for a builtin metric (request-duration, request-success-rate)"}},
		{name: "nothing judges", edit: func(m *MetricSpec) { m.ThresholdRange = nil },
			problems: map[string]string{"thresholdRange": "nothing would judge the value; give thresholdRange.min, in percent, e.g. {min: 99}"}},
		{name: "empty range", edit: func(m *MetricSpec) { m.ThresholdRange = &ThresholdRange{} },
			problems: map[string]string{"thresholdRange": "has neither min nor max"}},
		{name: "min above max", edit: func(m *MetricSpec) { m.ThresholdRange.Max = ptr(90.0) },
			problems: map[string]string{"thresholdRange": "min 99 is above max 90; no value could pass: swap them"}},
		{name: "NaN bound", edit: func(m *MetricSpec) { m.ThresholdRange.Max = ptr(math.NaN()) },
			problems: map[string]string{"thresholdRange.max": "is NaN; give a finite number"}},
		{name: "no name", edit: func(m *MetricSpec) { m.Name = "" },
			problems: map[string]string{"name": "is empty"}},
		{name: "condition does not compile", edit: func(m *MetricSpec) { m.SuccessCondition = "result >" },
			problems: map[string]string{"successCondition": "does not compile"}},
		{name: "condition not boolean", edit: func(m *MetricSpec) { m.FailureCondition = "result * 2" },
			problems: map[string]string{"failureCondition": "expected bool"}},
		{name: "every problem at once", edit: func(m *MetricSpec) { m.Name, m.Template, m.SuccessCondition = "", "nope", "1" },
			problems: map[string]string{"name": "is empty", "template": "not a builtin metric", "successCondition": "expected bool"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := successRate()
			tt.edit(&spec)
			assertProblems(t, tt.problems, Validate(spec))
		})
	}
}

// assertProblems checks that err holds one *FieldError per expected path.
func assertProblems(t *testing.T, want map[string]string, err error) {
	t.Helper()
	if len(want) == 0 {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	got := map[string]string{}
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined))
	for _, e := range joined.Unwrap() {
		var fe *FieldError
		require.True(t, errors.As(e, &fe), "%v is a *FieldError", e)
		got[fe.Path] = fe.Error()
	}
	require.Len(t, got, len(want), "problems: %v", got)
	for path, part := range want {
		assert.Contains(t, got[path], path+": ")
		assert.Contains(t, got[path], part)
	}
}

func validSpec() Spec {
	return Spec{
		Prometheus: Prometheus{Address: "http://prometheus.istio-system:9090"},
		Limits:     Limits{Interval: Duration(time.Minute), Count: 5},
		Metrics: []MetricSpec{successRate(), {
			Name: "latency", Template: "request-duration", ThresholdRange: &ThresholdRange{Max: ptr(500.0)},
		}},
	}
}

func TestValidateSpec(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*Spec)
		problems map[string]string
	}{
		{name: "valid", edit: func(*Spec) {}},
		{name: "https with a path", edit: func(s *Spec) { s.Prometheus.Address = "https://monitoring.example:443/prometheus" }},
		{name: "every limit given", edit: func(s *Spec) {
			s.InitialDelay, s.FailureLimit, s.InconclusiveLimit, s.ConsecutiveErrorLimit = Duration(time.Second), ptr(0), ptr(2), ptr(0)
		}},
		{name: "no address", edit: func(s *Spec) { s.Prometheus.Address = "" },
			problems: map[string]string{"prometheus.address": "is empty; give the absolute URL"}},
		{name: "address without scheme", edit: func(s *Spec) { s.Prometheus.Address = "prometheus:9090" },
			problems: map[string]string{"prometheus.address": `"prometheus:9090" is not an absolute http or https URL`}},
		{name: "relative address", edit: func(s *Spec) { s.Prometheus.Address = "/api/v1" },
			problems: map[string]string{"prometheus.address": "is not an absolute http or https URL"}},
		{name: "other scheme", edit: func(s *Spec) { s.Prometheus.Address = "ftp://prometheus" },
			problems: map[string]string{"prometheus.address": "is not an absolute http or https URL"}},
		{name: "no host", edit: func(s *Spec) { s.Prometheus.Address = "http://" },
			problems: map[string]string{"prometheus.address": "is not an absolute http or https URL"}},
		{name: "not a URL", edit: func(s *Spec) { s.Prometheus.Address = "http://[::1" },
			problems: map[string]string{"prometheus.address": "is not a URL"}},
		{name: "zero interval", edit: func(s *Spec) { s.Interval = 0 },
			problems: map[string]string{"interval": "is 0s; give the time between two measurements, at least 1s"}},
		{name: "negative interval", edit: func(s *Spec) { s.Interval = Duration(-time.Minute) },
			problems: map[string]string{"interval": "is -1m0s"}},
		{name: "interval under a second", edit: func(s *Spec) { s.Interval = Duration(time.Millisecond) },
			problems: map[string]string{"interval": "at least 1s"}},
		{name: "zero count", edit: func(s *Spec) { s.Count = 0 },
			problems: map[string]string{"count": "is 0; give how many measurements of each metric complete the analysis, from 1 to 200"}},
		{name: "negative count", edit: func(s *Spec) { s.Count = -1 }, problems: map[string]string{"count": "is -1"}},
		{name: "count too large", edit: func(s *Spec) { s.Count = MaxCount + 1 }, problems: map[string]string{"count": "is 201"}},
		{name: "negative limits", edit: func(s *Spec) {
			s.InitialDelay, s.FailureLimit, s.InconclusiveLimit, s.ConsecutiveErrorLimit = Duration(-time.Second), ptr(-1), ptr(-1), ptr(-1)
		}, problems: map[string]string{
			"initialDelay": "is -1s", "failureLimit": "is -1; give how many", "inconclusiveLimit": "is -1", "consecutiveErrorLimit": "is -1",
		}},
		{name: "no metrics", edit: func(s *Spec) { s.Metrics = nil },
			problems: map[string]string{"metrics": "is empty; give at least one metric"}},
		{name: "metric problems carry their index", edit: func(s *Spec) { s.Metrics[1].SuccessCondition = "result" },
			problems: map[string]string{"metrics[1].successCondition": "expected bool"}},
		{name: "duplicate names", edit: func(s *Spec) { s.Metrics[1].Name = "success-rate" },
			problems: map[string]string{"metrics[1].name": `"success-rate" is also the name of metrics[0]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := validSpec()
			tt.edit(&spec)
			assertProblems(t, tt.problems, ValidateSpec(spec))
		})
	}
}

func TestNewAPI(t *testing.T) {
	_, err := NewAPI("prometheus:9090")
	require.Error(t, err)
	api, err := NewAPI("http://127.0.0.1:9090")
	require.NoError(t, err)
	assert.NotNil(t, api)
}
