package status

import (
	"math"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/analysis"
	"github.com/istio-canary/istio-canary/providers/analysisrun"
)

// Analysis is one canary-analysis step's analysis, as the provider keeps it.
type Analysis struct {
	Step string
	// Background analyses go on while the workflow runs the next steps.
	Background bool
	// Phase is the analysis' outcome: Running, Successful, Failed or Inconclusive.
	Phase   string
	Message string
	// Next is when the next measurement is due (Running only), NextIn the
	// time to it from the snapshot's time, in whole seconds rounded up (0
	// when it is due).
	Next   time.Time
	NextIn time.Duration
	// Count is the measurements of each metric that complete the analysis.
	Count   int
	Targets []AnalysisTarget
}

// AnalysisTarget is a component under analysis.
type AnalysisTarget struct {
	Component string
	Canary    string
	Stable    string
	Metrics   []MetricResult
}

// MetricResult is one metric of a target: how far it got, and its last
// measurements.
type MetricResult struct {
	Name string
	// Measured counts the measurements that got an answer (errors aside),
	// which is what Analysis.Count counts.
	Measured int
	// Last are the last few measurements, oldest first.
	Last []Measurement
}

// Measurement is one measurement of a metric.
type Measurement struct {
	Time    time.Time
	Phase   string
	Values  string
	Message string
}

// shownMeasurements is how many measurements per metric the view shows.
const shownMeasurements = 3

// analysisState is the Application's analysis state ConfigMap in a
// snapshot: the provider's label tells it from a user's of the same name.
func analysisState(s Snapshot) *corev1.ConfigMap {
	cm := s.AnalysisState
	if cm == nil || cm.Name != contract.AnalysisStateName(s.Name) || cm.Labels[contract.LabelAnalysisState] != "true" {
		return nil
	}
	return cm
}

// buildAnalyses reads the analyses of run runID from the state ConfigMap:
// none when it is about another run (the provider keeps only the current
// run's, and a new run may not have written its own yet). A state that
// cannot be read is a problem to show, not a reason to show nothing else.
func buildAnalyses(cm *corev1.ConfigMap, runID string, now time.Time) ([]Analysis, string) {
	if cm == nil || runID == "" {
		return nil, ""
	}
	state, err := analysisrun.Decode(cm)
	if err != nil {
		return nil, err.Error()
	}
	if state.RunID != runID {
		return nil, ""
	}
	out := make([]Analysis, 0, len(state.Analyses))
	for _, a := range state.Analyses {
		v := Analysis{
			Step: a.Step, Background: a.Background, Phase: string(a.Outcome.Phase),
			Message: a.Outcome.Message, Count: a.Spec.Count,
		}
		if a.Outcome.Phase == analysis.PhaseRunning && !a.Outcome.Next.IsZero() {
			v.Next = a.Outcome.Next.In(now.Location())
			v.NextIn = secondsLeft(now, a.Outcome.Next)
		}
		for _, t := range a.Targets {
			v.Targets = append(v.Targets, buildTarget(t, now.Location()))
		}
		out = append(out, v)
	}
	return out, ""
}

func buildTarget(t analysisrun.Target, loc *time.Location) AnalysisTarget {
	out := AnalysisTarget{Component: t.Component, Canary: t.Canary, Stable: t.Stable}
	for _, mr := range t.Run.Metrics {
		r := MetricResult{Name: mr.Name}
		for _, m := range mr.Measurements {
			if m.Phase != analysis.PhaseError {
				r.Measured++
			}
		}
		from := max(0, len(mr.Measurements)-shownMeasurements)
		for _, m := range mr.Measurements[from:] {
			r.Last = append(r.Last, Measurement{Time: m.Time.In(loc), Phase: string(m.Phase), Values: compactValues(m.Values), Message: m.Message})
		}
		out.Metrics = append(out.Metrics, r)
	}
	return out
}

// secondsLeft is the time from now to t in whole seconds, rounded up, so
// that a countdown shows 1s until the very end; 0 once t has passed.
func secondsLeft(now, t time.Time) time.Duration {
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// compactValues writes a measurement's values short: one value as is, a
// few in brackets.
func compactValues(vs []analysis.Value) string {
	if len(vs) == 0 {
		return ""
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = compactValue(float64(v))
	}
	if len(s) == 1 {
		return s[0]
	}
	return "[" + strings.Join(s, " ") + "]"
}

// compactValue keeps 4 significant digits, without an exponent for the
// numbers metrics usually give (latencies, rates, percentages).
func compactValue(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.Abs(f) >= 1e4 && math.Abs(f) < 1e15:
		return strconv.FormatFloat(math.Round(f), 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}
