package analysis

import (
	"encoding/json"
	"fmt"
	"time"
)

// MetricSpec is one metric of an analysis, as the step's properties give it.
// Exactly one of Query and Template is set, and at least one of
// SuccessCondition, FailureCondition and ThresholdRange.
type MetricSpec struct {
	Name string `json:"name"`
	// Query is an instant PromQL query with placeholders (see the package doc).
	Query string `json:"query,omitempty"`
	// Template names a builtin query (see Templates), so that users need no PromQL.
	Template         string          `json:"template,omitempty"`
	SuccessCondition string          `json:"successCondition,omitempty"`
	FailureCondition string          `json:"failureCondition,omitempty"`
	ThresholdRange   *ThresholdRange `json:"thresholdRange,omitempty"`
}

// ThresholdRange bounds every value a query returns, both ends included.
type ThresholdRange struct {
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
}

// Prometheus says where the queries go.
type Prometheus struct {
	// Address is the base URL of the Prometheus HTTP API, e.g.
	// http://prometheus.istio-system:9090.
	Address string `json:"address"`
}

// Limits say when measurements are taken and how many of each kind an
// analysis tolerates. The three limits are pointers so that an explicit 0
// differs from "not given" (ConsecutiveErrorLimit defaults to 4, not 0).
type Limits struct {
	// Interval is the time between two measurements of a metric, and the
	// window of {{interval}}.
	Interval Duration `json:"interval"`
	// Count is how many measurements of each metric (errors aside) complete
	// the analysis.
	Count int `json:"count"`
	// InitialDelay postpones the first measurement, so that the canary's
	// metrics have data to show.
	InitialDelay Duration `json:"initialDelay,omitzero"`
	// FailureLimit is how many failed measurements of one metric are
	// tolerated; one more fails the analysis. Default 0.
	FailureLimit *int `json:"failureLimit,omitempty"`
	// InconclusiveLimit is how many inconclusive measurements of one metric
	// are tolerated; one more makes the analysis inconclusive. Default 0.
	InconclusiveLimit *int `json:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit is how many errors in a row of one metric are
	// tolerated; one more fails the analysis. Default 4.
	ConsecutiveErrorLimit *int `json:"consecutiveErrorLimit,omitempty"`
}

// Defaults of the limits, as in argo-rollouts: a single failure or
// inconclusive measurement stops the analysis, while Prometheus may fail to
// answer a few times in a row before that counts against the canary.
const (
	DefaultFailureLimit          = 0
	DefaultInconclusiveLimit     = 0
	DefaultConsecutiveErrorLimit = 4
)

// MaxCount bounds Count: a Run is kept in the workflow's state between
// reconciles, which must stay small.
const MaxCount = 200

// Spec is a whole analysis: where to query, when, and what.
type Spec struct {
	Prometheus Prometheus `json:"prometheus"`
	Limits
	Metrics []MetricSpec `json:"metrics"`
}

func (l Limits) failureLimit() int {
	return valueOr(l.FailureLimit, DefaultFailureLimit)
}

func (l Limits) inconclusiveLimit() int {
	return valueOr(l.InconclusiveLimit, DefaultInconclusiveLimit)
}

func (l Limits) consecutiveErrorLimit() int {
	return valueOr(l.ConsecutiveErrorLimit, DefaultConsecutiveErrorLimit)
}

// valueOr reads a limit; a negative one (which ValidateSpec rejects) counts
// as 0, so that Decide on unvalidated limits cannot misbehave.
func valueOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return max(*p, 0)
}

// Duration is a time.Duration written in JSON as Go writes durations
// ("30s", "1m30s"), which is what users type in the step's properties.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\" or \"1m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\" or \"1m\": %w", err)
	}
	*d = Duration(v)
	return nil
}
