package analysisrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/istio-canary/istio-canary/providers/analysis"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// severity orders the phases for combining targets: the worst wins.
var severity = map[analysis.Phase]int{
	analysis.PhaseSuccessful:   0,
	analysis.PhaseRunning:      1,
	analysis.PhaseInconclusive: 2,
	analysis.PhaseFailed:       3,
}

// decide combines the outcomes of the analysis' targets: Failed if any
// failed, else Inconclusive if any is, else Running while any runs (next:
// the earliest), else Successful. The message names each component that
// is not Successful, or all when every one is.
func decide(a *Analysis, now time.Time) analysis.Outcome {
	out := analysis.Outcome{Phase: analysis.PhaseSuccessful}
	var msgs, all []string
	for _, t := range a.Targets {
		o := analysis.Decide(t.Run, a.Spec.Limits, now)
		line := fmt.Sprintf("%s (canary %s, stable %s): %s", t.Component, t.Canary, t.Stable, o.Message)
		all = append(all, line)
		if o.Phase != analysis.PhaseSuccessful {
			msgs = append(msgs, line)
		}
		if severity[o.Phase] > severity[out.Phase] {
			out.Phase = o.Phase
		}
		if o.Phase == analysis.PhaseRunning && (out.Next.IsZero() || o.Next.Before(out.Next)) {
			out.Next = o.Next
		}
		out.Due = append(out.Due, o.Due...)
	}
	if out.Phase != analysis.PhaseRunning {
		out.Next, out.Due = time.Time{}, nil
	}
	if len(msgs) == 0 {
		msgs = all
	}
	out.Message = strings.Join(msgs, "; ")
	return out
}

// act acts on a verdict: a failed analysis aborts the run (its canary
// steps roll back, and a suspended workflow is resumed so that they run);
// any other verdict is noted on the Application, which runs the waiting
// step at once.
func (e *Engine) act(ctx context.Context, run *workflowrun.Run, a *Analysis) error {
	if e.NoWake && !a.Background {
		return nil
	}
	if a.Outcome.Phase == analysis.PhaseFailed {
		_, err := e.Runs.Abort(ctx, run.Namespace, run.App, AbortReason(a))
		if errors.Is(err, workflowrun.ErrNotActive) {
			return nil // the run ended meanwhile: nothing left to roll back
		}
		return err
	}
	return e.Runs.Notify(ctx, run.Namespace, run.App, fmt.Sprintf("%s: %s", a.Step, a.Outcome.Phase))
}

// AbortReason is the reason a failed analysis gives for aborting the run.
func AbortReason(a *Analysis) string {
	return fmt.Sprintf("the analysis of step %s failed: %s", a.Step, a.Outcome.Message)
}
