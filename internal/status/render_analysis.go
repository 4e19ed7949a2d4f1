package status

import (
	"fmt"
	"strings"

	"github.com/istio-canary/istio-canary/providers/analysis"
)

// renderAnalyses writes one block per analysis: its phase, its verdict's
// message, and per component and metric the progress and last measurements.
// A message the header shows already (in the step's message or the abort's
// reason) is not written again.
func renderAnalyses(b *strings.Builder, p painter, v View) {
	shown := ""
	if s := v.Workflow.CurrentStep(); s != nil {
		shown += s.Message + "\n"
	}
	if v.Abort != nil {
		shown += v.Abort.Reason
	}
	if v.AnalysisProblem != "" {
		b.WriteString("\n" + p.paint("Analysis", bold) + "\n")
		b.WriteString("  " + p.paint(v.AnalysisProblem, yellow) + "\n")
	}
	for _, a := range v.Analyses {
		b.WriteString("\n" + p.paint("Analysis "+a.Step, bold) + " " + p.paint("("+analysisTitle(a)+")", analysisStyle(a.Phase)) + "\n")
		if a.Phase != string(analysis.PhaseRunning) && a.Message != "" && !strings.Contains(shown, a.Message) {
			b.WriteString("  " + p.paint(a.Message, analysisStyle(a.Phase)) + "\n")
		}
		rows := [][]cell{{{"COMPONENT", dim}, {"CANARY", dim}, {"METRIC", dim}, {"MEASURED", dim}, {"LAST", dim}}}
		for _, t := range a.Targets {
			for _, m := range t.Metrics {
				rows = append(rows, []cell{
					{t.Component, plain}, {t.Canary, roleStyle(RoleCanary)}, {m.Name, plain},
					{fmt.Sprintf("%d/%d", m.Measured, a.Count), plain},
					{lastMeasurements(p, m.Last), plain},
				})
			}
		}
		if len(rows) > 1 {
			p.table(b, "  ", rows)
		}
	}
}

// analysisTitle is the title's parenthesis: background or not, the phase,
// and when the next measurement is due.
func analysisTitle(a Analysis) string {
	var parts []string
	if a.Background {
		parts = append(parts, "background")
	}
	state := strings.ToLower(orDash(a.Phase))
	if a.Phase == string(analysis.PhaseRunning) && !a.Next.IsZero() {
		if a.NextIn > 0 {
			state += ", next measurement in " + formatLeft(a.NextIn)
		} else {
			state += ", next measurement due now"
		}
	}
	return strings.Join(append(parts, state), "; ")
}

// lastMeasurements writes measurements as "✔ 99.5 @10:01:00", oldest first.
func lastMeasurements(p painter, ms []Measurement) string {
	if len(ms) == 0 {
		return p.paint("none yet", dim)
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		icon, st := measurementIcon(m.Phase)
		value := m.Values
		switch {
		case m.Phase == string(analysis.PhaseError):
			value = "error"
		case value == "":
			value = "no data"
		}
		out[i] = p.paint(icon+" "+value, st) + " @" + m.Time.Format("15:04:05")
	}
	return strings.Join(out, "  ")
}

func measurementIcon(phase string) (string, style) {
	switch analysis.Phase(phase) {
	case analysis.PhaseSuccessful:
		return "✔", green
	case analysis.PhaseFailed:
		return "✖", red
	case analysis.PhaseInconclusive:
		return "?", yellow
	default:
		return "⚠", yellow
	}
}

func analysisStyle(phase string) style {
	switch analysis.Phase(phase) {
	case analysis.PhaseSuccessful:
		return green
	case analysis.PhaseFailed:
		return red
	case analysis.PhaseInconclusive:
		return yellow
	default:
		return blue
	}
}
