package analysis

import (
	"fmt"
	"math"
	"strings"
)

// series is one series of a query's result: its labels as Prometheus
// writes them ("" for a scalar or a series without labels) and its value.
type series struct {
	labels string
	value  float64
}

func (s series) String() string {
	v := Value(s.value).String()
	if s.labels == "" || s.labels == "{}" {
		return v
	}
	return s.labels + " " + v
}

// verdict gathers the judgements of a measurement: its phase is the worst
// (Failed, then Inconclusive, then Successful) and its message gives the
// reasons for that phase.
type verdict struct {
	phase   Phase
	reasons map[Phase][]string
}

func (v *verdict) add(p Phase, reason string) {
	if v.reasons == nil {
		v.reasons = map[Phase][]string{}
	}
	v.reasons[p] = append(v.reasons[p], reason)
	if rank(p) > rank(v.phase) {
		v.phase = p
	}
}

func rank(p Phase) int {
	switch p {
	case PhaseSuccessful:
		return 1
	case PhaseInconclusive:
		return 2
	case PhaseFailed:
		return 3
	}
	return 0
}

// maxReasons bounds a message; the rest are counted.
const maxReasons = 3

func (v *verdict) message() string {
	reasons := v.reasons[v.phase]
	if len(reasons) > maxReasons {
		return fmt.Sprintf("%s (and %d more)", strings.Join(reasons[:maxReasons], "; "), len(reasons)-maxReasons)
	}
	return strings.Join(reasons, "; ")
}

// judge applies the outcome table of the package doc to a query's series.
// An error is a condition that failed to run: the measurement is an error.
func (m *Metric) judge(all []series) (Phase, string, error) {
	var v verdict
	if len(all) == 0 {
		v.add(PhaseInconclusive, "the query returned no series: no data about the canary (no requests in the window, or the query does not match its labels)")
	}
	if r := m.Spec.ThresholdRange; r != nil {
		for _, s := range all {
			v.add(inRange(r, s))
		}
	}
	if m.success == nil && m.failure == nil {
		return v.phase, v.message(), nil
	}
	if m.conditionForm() == wholeList {
		values := make([]float64, len(all))
		unsure := len(all) == 0
		for i, s := range all {
			values[i] = s.value
			unsure = unsure || !finite(s.value)
		}
		p, reason, err := m.conditions(values, fmt.Sprint(values), unsure, len(all) == 0)
		if err != nil {
			return "", "", err
		}
		v.add(p, reason)
		return v.phase, v.message(), nil
	}
	for _, s := range all {
		p, reason, err := m.conditions(s.value, s.String(), !finite(s.value), false)
		if err != nil {
			return "", "", err
		}
		v.add(p, reason)
	}
	return v.phase, v.message(), nil
}

func (m *Metric) conditionForm() form {
	if m.success != nil {
		return m.success.form
	}
	return m.failure.form
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func inRange(r *ThresholdRange, s series) (Phase, string) {
	v := s.value
	switch {
	case math.IsNaN(v):
		return PhaseInconclusive, fmt.Sprintf("%s: NaN means nothing to measure, e.g. no requests reached the canary in the window", s)
	case r.Min != nil && v < *r.Min:
		return PhaseFailed, fmt.Sprintf("%s is below thresholdRange.min %v", s, *r.Min)
	case r.Max != nil && v > *r.Max:
		return PhaseFailed, fmt.Sprintf("%s is above thresholdRange.max %v", s, *r.Max)
	case !finite(v):
		return PhaseInconclusive, fmt.Sprintf("%s is not a finite number, so it cannot pass thresholdRange", s)
	}
	return PhaseSuccessful, fmt.Sprintf("%s is within thresholdRange", s)
}

// conditions judges result (one series' number, or the list) by the two
// conditions, failure first as argo-rollouts does. When result cannot pass
// (NaN, an infinity, no series), only a failureCondition that holds
// decides; anything else is inconclusive, never success. An empty list is
// given to a failureCondition such as len(result) == 0, but its run-time
// errors (result[0]) mean "does not hold", not a measurement error.
func (m *Metric) conditions(result any, what string, unsure, empty bool) (Phase, string, error) {
	if m.failure != nil {
		fail, err := m.failure.holds(result)
		if err != nil && !empty {
			return "", "", err
		}
		if fail && err == nil {
			return PhaseFailed, fmt.Sprintf("failureCondition %q holds for %s", m.failure.src, what), nil
		}
	}
	if unsure {
		return PhaseInconclusive, fmt.Sprintf("%s cannot pass a condition: NaN, an infinity or no series means no usable data (no requests to the canary in the window?)", what), nil
	}
	if m.success == nil {
		return PhaseSuccessful, fmt.Sprintf("failureCondition %q does not hold for %s", m.failure.src, what), nil
	}
	ok, err := m.success.holds(result)
	switch {
	case err != nil:
		return "", "", err
	case ok:
		return PhaseSuccessful, fmt.Sprintf("successCondition %q holds for %s", m.success.src, what), nil
	case m.failure == nil:
		return PhaseFailed, fmt.Sprintf("successCondition %q does not hold for %s", m.success.src, what), nil
	}
	return PhaseInconclusive, fmt.Sprintf("neither successCondition %q nor failureCondition %q holds for %s", m.success.src, m.failure.src, what), nil
}
