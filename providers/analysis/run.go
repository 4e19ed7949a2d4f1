package analysis

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Phase is the phase of a measurement or of a whole analysis.
type Phase string

const (
	// PhaseRunning: the analysis needs more measurements (Outcome only).
	PhaseRunning Phase = "Running"
	// PhaseSuccessful: the canary passed.
	PhaseSuccessful Phase = "Successful"
	// PhaseFailed: the canary failed, or could not be measured too often.
	PhaseFailed Phase = "Failed"
	// PhaseInconclusive: the values say neither pass nor fail (no traffic,
	// NaN, neither condition holds); a human has to decide.
	PhaseInconclusive Phase = "Inconclusive"
	// PhaseError: the metric could not be measured (Measurement only).
	PhaseError Phase = "Error"
)

// Measurement is one measurement of one metric.
type Measurement struct {
	Time  time.Time `json:"time"`
	Phase Phase     `json:"phase"`
	// Values holds one value per series, at most MaxValues of them.
	Values  []Value `json:"values,omitempty"`
	Message string  `json:"message,omitempty"`
}

// MaxValues bounds the values a measurement keeps, so that a query that
// returns many series does not bloat the kept run; its message still
// counts them all.
const MaxValues = 20

// Value is a measured number. JSON has no NaN or infinities, which are
// measurements like any other here, so a Value is written as Prometheus
// writes sample values: a string ("99.5", "NaN", "+Inf").
type Value float64

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatFloat(float64(v), 'g', -1, 64))
}

// UnmarshalJSON implements json.Unmarshaler; a plain JSON number is taken too.
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("a value is a number or a string such as \"NaN\": %w", err)
		}
		*v = Value(f)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("a value is a number or a string such as \"NaN\": %w", err)
	}
	*v = Value(f)
	return nil
}

// String writes the value for messages, to six significant digits: enough
// to tell 98.996 from a bound of 99, short enough to read.
func (v Value) String() string { return strconv.FormatFloat(float64(v), 'g', 6, 64) }

// Run is the state of one analysis, kept between reconciles: the step
// stores it and hands it back, so it is plain JSON.
type Run struct {
	StartedAt time.Time   `json:"startedAt"`
	Metrics   []MetricRun `json:"metrics"`
}

// MetricRun holds the measurements of one metric, oldest first.
type MetricRun struct {
	Name         string        `json:"name"`
	Measurements []Measurement `json:"measurements,omitempty"`
}

// NewRun starts a run of spec's metrics at now.
func NewRun(spec Spec, now time.Time) Run {
	run := Run{StartedAt: now, Metrics: make([]MetricRun, len(spec.Metrics))}
	for i, m := range spec.Metrics {
		run.Metrics[i].Name = m.Name
	}
	return run
}

// Record appends a measurement of the named metric.
func (r *Run) Record(metric string, m Measurement) error {
	for i := range r.Metrics {
		if r.Metrics[i].Name == metric {
			r.Metrics[i].Measurements = append(r.Metrics[i].Measurements, m)
			return nil
		}
	}
	return fmt.Errorf("the run has no metric %q", metric)
}
