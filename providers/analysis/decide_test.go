package analysis

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var start = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// history turns phases (S, F, I, E) into measurements one minute apart, the
// first at start.
func history(phases string) []Measurement {
	out := make([]Measurement, len(phases))
	for i, p := range phases {
		m := Measurement{Time: start.Add(time.Duration(i) * time.Minute)}
		switch p {
		case 'S':
			m.Phase, m.Values, m.Message = PhaseSuccessful, []Value{99.5}, `successCondition "result >= 99" holds for 99.5`
		case 'F':
			m.Phase, m.Values, m.Message = PhaseFailed, []Value{Value(80 + i)}, `successCondition "result >= 99" does not hold for 8x`
		case 'I':
			m.Phase, m.Values, m.Message = PhaseInconclusive, []Value{Value(nan)}, "NaN means nothing to measure"
		case 'E':
			m.Phase, m.Message = PhaseError, "querying Prometheus failed (connection refused)"
		}
		out[i] = m
	}
	return out
}

func runOf(metrics ...string) Run {
	run := Run{StartedAt: start}
	names := []string{"success-rate", "latency"}
	for i, phases := range metrics {
		run.Metrics = append(run.Metrics, MetricRun{Name: names[i], Measurements: history(phases)})
	}
	return run
}

func limits(count int, edit func(*Limits)) Limits {
	l := Limits{Interval: Duration(time.Minute), Count: count}
	if edit != nil {
		edit(&l)
	}
	return l
}

func minutes(n float64) time.Time { return start.Add(time.Duration(n * float64(time.Minute))) }

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		run    Run
		limits Limits
		now    time.Time
		phase  Phase
		next   time.Time
		due    []string
		msg    []string
	}{
		// When measurements are due.
		{name: "first measurement before the initial delay", run: runOf(""), now: minutes(0.5),
			limits: limits(3, func(l *Limits) { l.InitialDelay = Duration(time.Minute) }), phase: PhaseRunning, next: minutes(1)},
		{name: "first measurement due at the initial delay exactly", run: runOf(""), now: minutes(1),
			limits: limits(3, func(l *Limits) { l.InitialDelay = Duration(time.Minute) }), phase: PhaseRunning, next: minutes(1), due: []string{"success-rate"}},
		{name: "first measurement due at once without delay", run: runOf(""), limits: limits(3, nil), now: start,
			phase: PhaseRunning, next: start, due: []string{"success-rate"}},
		{name: "next not due before the interval", run: runOf("S"), limits: limits(3, nil), now: minutes(0.99),
			phase: PhaseRunning, next: minutes(1), msg: []string{"measured success-rate 1/3; next measurement at 2026-05-01T10:01:00Z"}},
		{name: "next due at the interval exactly", run: runOf("S"), limits: limits(3, nil), now: minutes(1),
			phase: PhaseRunning, next: minutes(1), due: []string{"success-rate"}},
		{name: "late measurement is due, next stays in the past", run: runOf("S"), limits: limits(3, nil), now: minutes(10),
			phase: PhaseRunning, next: minutes(1), due: []string{"success-rate"}},

		// Count.
		{name: "count reached", run: runOf("SSS"), limits: limits(3, nil), now: minutes(3), phase: PhaseSuccessful,
			msg: []string{"every metric passed: measured success-rate 3/3"}},
		{name: "errors do not count", run: runOf("SES"), limits: limits(3, nil), now: minutes(3), phase: PhaseRunning, due: []string{"success-rate"}, next: minutes(3)},
		{name: "errors do not count, complete", run: runOf("SESS"), limits: limits(3, nil), now: minutes(4), phase: PhaseSuccessful},
		{name: "two metrics, one still running", run: runOf("SSS", "SS"), limits: limits(3, nil), now: minutes(1.5),
			phase: PhaseRunning, next: minutes(2), msg: []string{"success-rate 3/3, latency 2/3"}},
		{name: "two metrics, one due", run: runOf("SSS", "SS"), limits: limits(3, nil), now: minutes(2),
			phase: PhaseRunning, next: minutes(2), due: []string{"latency"}},

		// failureLimit: reached exactly is tolerated, exceeded fails.
		{name: "one failure, default limit 0", run: runOf("SF"), limits: limits(3, nil), now: minutes(2), phase: PhaseFailed,
			msg: []string{`metric "success-rate" failed 1 of 2 measurements, more than failureLimit 0 allows; failed values: 81; last: successCondition "result >= 99" does not hold`}},
		{name: "failureLimit reached exactly", run: runOf("SF"), limits: limits(3, func(l *Limits) { l.FailureLimit = ptr(1) }), now: minutes(2),
			phase: PhaseRunning, due: []string{"success-rate"}, next: minutes(2)},
		{name: "failureLimit reached exactly, complete", run: runOf("SFS"), limits: limits(3, func(l *Limits) { l.FailureLimit = ptr(1) }), now: minutes(3),
			phase: PhaseSuccessful},
		{name: "failureLimit exceeded", run: runOf("FSF"), limits: limits(5, func(l *Limits) { l.FailureLimit = ptr(1) }), now: minutes(3),
			phase: PhaseFailed, msg: []string{"failed 2 of 3 measurements, more than failureLimit 1 allows; failed values: 80, 82"}},

		// inconclusiveLimit.
		{name: "one inconclusive, default limit 0", run: runOf("I"), limits: limits(3, nil), now: minutes(1), phase: PhaseInconclusive,
			msg: []string{`metric "success-rate" was inconclusive 1 of 1 times, more than inconclusiveLimit 0 allows; last: NaN means nothing to measure`,
				"check that the canary gets traffic and that the query matches its series, then let the rollout go on or roll it back"}},
		{name: "inconclusiveLimit reached exactly", run: runOf("IS"), limits: limits(3, func(l *Limits) { l.InconclusiveLimit = ptr(1) }), now: minutes(2),
			phase: PhaseRunning, next: minutes(2), due: []string{"success-rate"}},
		{name: "inconclusiveLimit exceeded", run: runOf("ISI"), limits: limits(5, func(l *Limits) { l.InconclusiveLimit = ptr(1) }), now: minutes(3),
			phase: PhaseInconclusive},
		{name: "complete without a success", run: runOf("III"), limits: limits(3, func(l *Limits) { l.InconclusiveLimit = ptr(5) }), now: minutes(3),
			phase: PhaseInconclusive, msg: []string{`metric "success-rate" took 3 measurements and none succeeded`, "roll it back"}},
		{name: "failure wins over inconclusive", run: runOf("IS", "F"), limits: limits(3, nil), now: minutes(2), phase: PhaseFailed,
			msg: []string{`metric "latency" failed 1 of 1`}},

		// consecutiveErrorLimit (default 4): reset by an answer.
		{name: "four errors in a row, default limit", run: runOf("EEEE"), limits: limits(3, nil), now: minutes(4),
			phase: PhaseRunning, next: minutes(4), due: []string{"success-rate"}},
		{name: "five errors in a row, default limit", run: runOf("EEEEE"), limits: limits(3, nil), now: minutes(5), phase: PhaseFailed,
			msg: []string{`metric "success-rate" could not be measured 5 times in a row, more than consecutiveErrorLimit 4 allows; last error: querying Prometheus failed (connection refused)`}},
		{name: "errors reset by a success", run: runOf("EEEESEEEE"), limits: limits(3, nil), now: minutes(9),
			phase: PhaseRunning, next: minutes(9), due: []string{"success-rate"}},
		{name: "one error, limit 0", run: runOf("SE"), limits: limits(3, func(l *Limits) { l.ConsecutiveErrorLimit = ptr(0) }), now: minutes(2),
			phase: PhaseFailed, msg: []string{"could not be measured 1 times in a row, more than consecutiveErrorLimit 0"}},
		{name: "errors between answers, limit 1", run: runOf("ESESE"), limits: limits(5, func(l *Limits) { l.ConsecutiveErrorLimit = ptr(1) }), now: minutes(5),
			phase: PhaseRunning, next: minutes(5), due: []string{"success-rate"}},

		{name: "many failures, the last values", run: runOf("FFFFFFF"), limits: limits(9, func(l *Limits) { l.FailureLimit = ptr(6) }), now: minutes(7),
			phase: PhaseFailed, msg: []string{"failed values: (2 before) 82, 83, 84, 85, 86;"}},
		{name: "a negative limit counts as 0", run: runOf("S"), limits: limits(3, func(l *Limits) { l.FailureLimit = ptr(-1) }), now: minutes(1),
			phase: PhaseRunning, next: minutes(1), due: []string{"success-rate"}},
		{name: "no metrics", run: Run{StartedAt: start}, limits: limits(3, nil), now: start, phase: PhaseFailed, msg: []string{"the run has no metrics"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.run, tt.limits, tt.now)
			assert.Equal(t, tt.phase, got.Phase, got.Message)
			assert.Equal(t, tt.next, got.Next)
			assert.Equal(t, tt.due, got.Due)
			for _, m := range tt.msg {
				assert.Contains(t, got.Message, m)
			}

			// Idempotent: again, and on the run as the step keeps it.
			assert.Equal(t, got, Decide(tt.run, tt.limits, tt.now))
			b, err := json.Marshal(tt.run)
			require.NoError(t, err)
			var kept Run
			require.NoError(t, json.Unmarshal(b, &kept))
			assert.Equal(t, got, Decide(kept, tt.limits, tt.now))
		})
	}
}

func TestRunJSON(t *testing.T) {
	run := NewRun(validSpec(), start)
	require.NoError(t, run.Record("latency", Measurement{Time: start, Phase: PhaseInconclusive, Values: []Value{Value(nan), Value(posInf), Value(negInf), 12.5}}))
	require.Error(t, run.Record("nope", Measurement{}))

	b, err := json.Marshal(run)
	require.NoError(t, err)
	assert.JSONEq(t, `{"startedAt": "2026-05-01T10:00:00Z", "metrics": [
		{"name": "success-rate"},
		{"name": "latency", "measurements": [{"time": "2026-05-01T10:00:00Z", "phase": "Inconclusive", "values": ["NaN", "+Inf", "-Inf", "12.5"]}]}
	]}`, string(b))

	var back Run
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, `[NaN +Inf -Inf 12.5]`, formatValues(back.Metrics[1].Measurements[0].Values))

	var v Value
	require.NoError(t, json.Unmarshal([]byte(`99`), &v), "a plain number is taken too")
	assert.Equal(t, Value(99), v)
	assert.Error(t, json.Unmarshal([]byte(`"high"`), &v))
	assert.Error(t, json.Unmarshal([]byte(`true`), &v))
}

func TestSpecJSON(t *testing.T) {
	var spec Spec
	require.NoError(t, json.Unmarshal([]byte(`{
		"prometheus": {"address": "http://prometheus:9090"},
		"interval": "1m", "count": 5, "initialDelay": "30s", "failureLimit": 1,
		"metrics": [{"name": "success-rate", "template": "request-success-rate", "thresholdRange": {"min": 99}}]
	}`), &spec))
	require.NoError(t, ValidateSpec(spec))
	assert.Equal(t, Duration(time.Minute), spec.Interval)
	assert.Equal(t, Duration(30*time.Second), spec.InitialDelay)
	assert.Equal(t, 1, spec.failureLimit())
	assert.Equal(t, DefaultConsecutiveErrorLimit, spec.consecutiveErrorLimit())

	b, err := json.Marshal(spec.Limits)
	require.NoError(t, err)
	assert.JSONEq(t, `{"interval": "1m0s", "count": 5, "initialDelay": "30s", "failureLimit": 1}`, string(b))

	var d Duration
	assert.ErrorContains(t, json.Unmarshal([]byte(`60`), &d), `a duration is a string such as "30s"`)
	assert.ErrorContains(t, json.Unmarshal([]byte(`"1d"`), &d), `a duration is a string such as "30s"`)
}
