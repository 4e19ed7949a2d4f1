package analysis

import (
	"sort"
	"strings"
)

// Template is a builtin metric: a query over Istio's standard metrics and
// the check it is meant for.
type Template struct {
	Query string
	// Check says how to bound the result, for the message of a metric that
	// uses the template without a check.
	Check string
}

// canarySelector selects what the canary version receives, as the sidecar
// next to it reports it (reporter="destination": the server side sees every
// request, also those from clients without a sidecar). Istio fills
// destination_app and destination_version from the pod labels app and
// version, which this addon sets to the component and the version on every
// version's pods.
const canarySelector = `reporter="destination",destination_workload_namespace="{{namespace}}",destination_app="{{component}}",destination_version="{{canary}}"`

// Templates are the builtin metrics, by name.
var Templates = map[string]Template{
	// The share, in percent, of the canary's requests that were not answered
	// with a 5xx. "or vector(0)" keeps a canary that answered nothing but
	// 5xx at 0 (a failure) rather than an empty result; with no requests at
	// all the denominator is empty (no series) or 0 (NaN): inconclusive.
	"request-success-rate": {
		Query: `(sum(rate(istio_requests_total{` + canarySelector + `,response_code!~"5.."}[{{interval}}])) or vector(0))` +
			` / sum(rate(istio_requests_total{` + canarySelector + `}[{{interval}}])) * 100`,
		Check: "thresholdRange.min, in percent, e.g. {min: 99}",
	},
	// The 99th percentile of the canary's request duration, in milliseconds.
	// With no requests in the window every bucket's rate is 0 and
	// histogram_quantile gives NaN: inconclusive.
	"request-duration": {
		Query: `histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{` + canarySelector + `}[{{interval}}])) by (le))`,
		Check: "thresholdRange.max, in milliseconds, e.g. {max: 500}",
	},
}

func templateNames() string {
	names := make([]string, 0, len(Templates))
	for name := range Templates {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
