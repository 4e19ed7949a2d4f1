package analysis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var reviews = Vars{Namespace: "default", App: "book-info", Component: "reviews", Canary: "v2", Stable: "v1", Interval: time.Minute}

func TestExpand(t *testing.T) {
	tests := []struct {
		name  string
		query string
		vars  Vars
		want  string
		err   string
	}{
		{name: "every placeholder", query: `x{ns="{{namespace}}",a="{{app}}",c="{{component}}",v="{{canary}}",s="{{stable}}"}[{{interval}}]`,
			vars: reviews, want: `x{ns="default",a="book-info",c="reviews",v="v2",s="v1"}[1m]`},
		{name: "two placeholders in one literal", query: `x{w="{{component}}-{{canary}}"}`, vars: reviews, want: `x{w="reviews-v2"}`},
		{name: "interval as Prometheus writes it", query: `rate(x[{{interval}}])`, vars: Vars{Interval: 90 * time.Second}, want: `rate(x[1m30s])`},
		{name: "double quote escaped", query: `x{v="{{canary}}"}`, vars: Vars{Canary: `a"} or up{x="`}, want: `x{v="a\"} or up{x=\""}`},
		{name: "single quote escaped in single quotes", query: `x{v='{{canary}}'}`, vars: Vars{Canary: `it's "q"`}, want: `x{v='it\'s "q"'}`},
		{name: "backslash and newline", query: `x{v="{{canary}}"}`, vars: Vars{Canary: "a\\b\nc"}, want: `x{v="a\\b\x0ac"}`},
		{name: "control and invalid bytes", query: `x{v="{{canary}}"}`, vars: Vars{Canary: "a\x00\xff"}, want: `x{v="a\x00\xff"}`},
		{name: "non-ASCII kept", query: `x{v="{{canary}}"}`, vars: Vars{Canary: "vé"}, want: `x{v="vé"}`},
		{name: "regex matcher quotes metacharacters", query: `x{v=~"{{canary}}|{{stable}}"}`, vars: Vars{Canary: "v1.0", Stable: "v0+"}, want: `x{v=~"v1\\.0|v0\\+"}`},
		{name: "negative regex with space", query: `x{v !~ "{{canary}}"}`, vars: Vars{Canary: "a.b"}, want: `x{v !~ "a\\.b"}`},
		{name: "placeholder in a comment left alone", query: "x # {{canary}} isn't here\n+ y", vars: Vars{}, want: "x # {{canary}} isn't here\n+ y"},
		{name: "escaped quote does not end the string", query: `x{v="\"{{canary}}"}`, vars: reviews, want: `x{v="\"v2"}`},
		{name: "not a placeholder", query: `x{v=~"a{{2}}"}`, vars: reviews, want: `x{v=~"a{{2}}"}`},

		{name: "outside quotes", query: `x{v={{canary}}}`, vars: reviews, err: `{{canary}} stands outside quotes: write it inside a string, e.g. version="{{canary}}"`},
		{name: "raw string", query: "x{v=`{{canary}}`}", vars: reviews, err: "{{canary}} stands in a `raw string`"},
		{name: "unknown placeholder", query: `x{v="{{version}}"}`, vars: reviews, err: "unknown placeholder {{version}}; the placeholders are {{namespace}}, {{app}}, {{component}}, {{canary}}, {{stable}}, {{interval}}"},
		{name: "empty value", query: `x{v="{{stable}}"}`, vars: Vars{Canary: "v2"}, err: "{{stable}} has no value here"},
		{name: "no interval", query: `rate(x[{{interval}}])`, vars: Vars{}, err: "{{interval}} has no value"},
		{name: "empty query", query: " \n", vars: reviews, err: "the query is empty"},
		{name: "unterminated string", query: `x{v="a}`, vars: reviews, err: `a string opened with " is not closed`},
		{name: "unclosed bracket", query: `sum(rate(x[1m])`, vars: reviews, err: `'(' is not closed`},
		{name: "mismatched bracket", query: `sum(x])`, vars: reviews, err: `']' has no matching '['`},
		{name: "brackets in strings do not count", query: `x{v="(]"}`, vars: reviews, want: `x{v="(]"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.query, tt.vars)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTemplateQueries(t *testing.T) {
	sel := `reporter="destination",destination_workload_namespace="default",destination_app="reviews",destination_version="v2"`
	tests := map[string]string{
		"request-success-rate": `(sum(rate(istio_requests_total{` + sel + `,response_code!~"5.."}[1m])) or vector(0))` +
			` / sum(rate(istio_requests_total{` + sel + `}[1m])) * 100`,
		"request-duration": `histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{` + sel + `}[1m])) by (le))`,
	}
	require.Len(t, Templates, len(tests), "every template has a test of its exact query")
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Compile(MetricSpec{Name: name, Template: name, ThresholdRange: &ThresholdRange{Min: ptr(1.0)}})
			require.NoError(t, err)
			got, err := m.Query(reviews)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func ptr[T any](v T) *T { return &v }
