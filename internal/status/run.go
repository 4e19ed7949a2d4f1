package status

import (
	"fmt"
	"time"

	wfv1alpha1 "github.com/kubevela/workflow/api/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// buildAbort is the abort of the run, nil when none was asked for. It is
// done once the run has ended, or once every canaried component is rolled
// back (the steps then fail the run, saying why).
func buildAbort(run *workflowrun.Run, w *Workflow, canaried []Component) *Abort {
	if !run.AbortRequested {
		return nil
	}
	a := &Abort{Reason: run.AbortReason, Done: !w.Active()}
	if len(canaried) > 0 && !a.Done {
		a.Done = true
		for _, c := range canaried {
			a.Done = a.Done && c.Phase == PhaseRolledBack
		}
	}
	return a
}

// buildPause is the timed pause the workflow waits at, nil when it waits
// at none. vela resumes a suspend step with a duration by itself once the
// duration has passed since the step first ran.
func buildPause(w *Workflow, now time.Time) *Pause {
	if !w.Suspended {
		return nil
	}
	var pause *Pause
	visit := func(s Step) bool {
		if s.Phase != string(wfv1alpha1.WorkflowStepPhaseSuspending) || s.Duration == "" || s.Started.IsZero() {
			return false
		}
		d, err := time.ParseDuration(s.Duration)
		if err != nil {
			return false // vela fails such a step; its message says why
		}
		until := s.Started.Add(d)
		pause = &Pause{Step: s.Name, Until: until.In(now.Location()), Left: secondsLeft(now, until)}
		return true
	}
	for _, s := range w.Steps {
		if visit(s) {
			return pause
		}
		for _, sub := range s.SubSteps {
			if visit(sub) {
				return pause
			}
		}
	}
	return nil
}

// CanaryStepAhead reports whether a canary step of the workflow is still to
// run or running, so that an abort of the run rolls back: with none left,
// resuming an aborted run would just finish it.
func (w *Workflow) CanaryStepAhead() bool {
	for _, s := range w.Steps {
		if contract.RollsBackOnAbort(s.Type) && !stepFinished(s) {
			return true
		}
		if stepFinished(s) {
			continue
		}
		for _, sub := range s.SubSteps {
			if contract.RollsBackOnAbort(sub.Type) && !stepFinished(sub) {
				return true
			}
		}
	}
	return false
}

// stepFinished is workflowrun.StepFinished for a step of the view.
func stepFinished(s Step) bool {
	return workflowrun.StepFinished(wfv1alpha1.StepStatus{Phase: wfv1alpha1.WorkflowStepPhase(s.Phase), Reason: s.Reason})
}

// WorkflowOf reads the workflow of an Application object as the view shows
// it: its planned steps with their status, and its run.
func WorkflowOf(app *unstructured.Unstructured) (Workflow, error) {
	a, err := decodeApplication(app)
	if err != nil {
		return Workflow{Current: -1}, err
	}
	run, err := workflowrun.FromObject(app)
	if err != nil {
		return Workflow{Current: -1}, err
	}
	w := a.workflow()
	w.RunID = run.ID
	return w, nil
}

// formatLeft writes a countdown short: 12s, 4m30s, 1h5m.
func formatLeft(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var out string
	if h > 0 {
		out += fmt.Sprintf("%dh", h)
	}
	if m > 0 {
		out += fmt.Sprintf("%dm", m)
	}
	if s > 0 || out == "" {
		out += fmt.Sprintf("%ds", s)
	}
	return out
}

// clock writes a time of day, with the date when it is not within the
// next hours.
func clock(t time.Time, left time.Duration) string {
	if left >= 12*time.Hour {
		return t.Format("Jan 2 15:04:05")
	}
	return t.Format("15:04:05")
}
