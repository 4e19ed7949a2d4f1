package analysis

import (
	"fmt"
	"strings"
	"time"
)

// Outcome is what Decide makes of a run.
type Outcome struct {
	Phase Phase `json:"phase"`
	// Next is when the next measurement is due (Running only); it may be
	// now or earlier, then Due names the metrics to measure.
	Next time.Time `json:"next,omitzero"`
	// Due names the metrics whose measurement is due at now.
	Due     []string `json:"due,omitempty"`
	Message string   `json:"message"`
}

// tally counts one metric's measurements.
type tally struct {
	name                                  string
	measured, successful, failed, inconcl int
	errors, consecutiveErrors             int
	last                                  time.Time
	lastFailed, lastInconclusive, lastErr *Measurement
	failedValues                          []string
}

func count(mr MetricRun) tally {
	t := tally{name: mr.Name}
	for i := range mr.Measurements {
		m := &mr.Measurements[i]
		if m.Time.After(t.last) {
			t.last = m.Time
		}
		if m.Phase == PhaseError {
			t.errors++
			t.consecutiveErrors++
			t.lastErr = m
			continue
		}
		// Prometheus answered: the errors before no longer run in a row.
		t.consecutiveErrors = 0
		t.measured++
		switch m.Phase {
		case PhaseSuccessful:
			t.successful++
		case PhaseFailed:
			t.failed++
			t.lastFailed = m
			t.failedValues = append(t.failedValues, formatValues(m.Values))
		case PhaseInconclusive:
			t.inconcl++
			t.lastInconclusive = m
		}
	}
	return t
}

func formatValues(vs []Value) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	if len(s) == 1 {
		return s[0]
	}
	return "[" + strings.Join(s, " ") + "]"
}

// lastOf lists the last few of many, so that a large failureLimit does not
// make a message of a page.
func lastOf(items []string) string {
	const most = 5
	if len(items) > most {
		return fmt.Sprintf("(%d before) %s", len(items)-most, strings.Join(items[len(items)-most:], ", "))
	}
	return strings.Join(items, ", ")
}

// Decide tells where a run stands at now, by limits (see the package doc).
// It is pure: the same run, limits and now give the same outcome, so a step
// may decide again on every reconcile, and measure only the metrics in Due.
func Decide(run Run, limits Limits, now time.Time) Outcome {
	if len(run.Metrics) == 0 {
		return Outcome{Phase: PhaseFailed, Message: "the run has no metrics: start it with NewRun from a validated spec"}
	}
	tallies := make([]tally, len(run.Metrics))
	for i, mr := range run.Metrics {
		tallies[i] = count(mr)
	}
	var failed, inconclusive []string
	for _, t := range tallies {
		if t.failed > limits.failureLimit() {
			failed = append(failed, fmt.Sprintf("metric %q failed %d of %d measurements, more than failureLimit %d allows; failed values: %s; last: %s",
				t.name, t.failed, t.measured, limits.failureLimit(), lastOf(t.failedValues), t.lastFailed.Message))
		}
		if t.consecutiveErrors > limits.consecutiveErrorLimit() {
			failed = append(failed, fmt.Sprintf("metric %q could not be measured %d times in a row, more than consecutiveErrorLimit %d allows; last error: %s",
				t.name, t.consecutiveErrors, limits.consecutiveErrorLimit(), t.lastErr.Message))
		}
		if t.inconcl > limits.inconclusiveLimit() {
			inconclusive = append(inconclusive, fmt.Sprintf("metric %q was inconclusive %d of %d times, more than inconclusiveLimit %d allows; last: %s",
				t.name, t.inconcl, t.measured, limits.inconclusiveLimit(), t.lastInconclusive.Message))
		}
	}
	if len(failed) > 0 {
		return Outcome{Phase: PhaseFailed, Message: strings.Join(failed, "; ")}
	}
	if len(inconclusive) > 0 {
		return Outcome{Phase: PhaseInconclusive, Message: strings.Join(inconclusive, "; ") + ". " + askHuman}
	}
	return progress(run, tallies, limits, now)
}

// askHuman ends the message of an inconclusive analysis.
const askHuman = "The analysis cannot tell whether the canary is healthy: check that the canary gets traffic and that the query matches its series, then let the rollout go on or roll it back"

// progress decides a run that no limit stopped: complete, or when next.
func progress(run Run, tallies []tally, limits Limits, now time.Time) Outcome {
	var next time.Time
	var due, counts, unproven []string
	for _, t := range tallies {
		counts = append(counts, fmt.Sprintf("%s %d/%d", t.name, t.measured, limits.Count))
		if t.measured >= limits.Count {
			if t.successful == 0 {
				unproven = append(unproven, fmt.Sprintf("metric %q took %d measurements and none succeeded", t.name, t.measured))
			}
			continue
		}
		when := run.StartedAt.Add(time.Duration(limits.InitialDelay))
		if !t.last.IsZero() {
			when = t.last.Add(time.Duration(limits.Interval))
		}
		if next.IsZero() || when.Before(next) {
			next = when
		}
		if !now.Before(when) {
			due = append(due, t.name)
		}
	}
	progress := strings.Join(counts, ", ")
	switch {
	case !next.IsZero():
		return Outcome{Phase: PhaseRunning, Next: next, Due: due, Message: fmt.Sprintf("measured %s; next measurement at %s", progress, next.UTC().Format(time.RFC3339))}
	case len(unproven) > 0:
		// Tolerated inconclusive measurements alone prove nothing: a
		// canary without traffic must not pass.
		return Outcome{Phase: PhaseInconclusive, Message: strings.Join(unproven, "; ") + ". " + askHuman}
	}
	return Outcome{Phase: PhaseSuccessful, Message: "every metric passed: measured " + progress}
}
