package status

import (
	"fmt"
	"strings"

	wfv1alpha1 "github.com/kubevela/workflow/api/v1alpha1"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/analysis"
)

// Application phases (status.status) the next action depends on.
const (
	AppRunning            = "running"
	AppWorkflowSuspending = "workflowSuspending"
	AppWorkflowTerminated = "workflowTerminated"
	AppWorkflowFailed     = "workflowFailed"
	AppRunningWorkflow    = "runningWorkflow"
	AppUnhealthy          = "unhealthy"
)

// PhaseRolledBack is the canary.oam.dev/phase value after a canary-rollback
// step, for callers of the view (the contract defines it).
const PhaseRolledBack = contract.PhaseRolledBack

// reasonTerminate is the step reason when the workflow was terminated by hand.
const reasonTerminate = "Terminate"

// rollbackHint tells how to roll back. While the run can still roll back
// by itself, `istio-canary abort` is the way. Otherwise: `vela workflow
// rollback` puts back the last release that succeeded only for Applications
// released with an app.oam.dev/publishVersion annotation, and only while the
// workflow is not running; otherwise it writes the current spec back and
// changes nothing.
func rollbackHint(v *View, workflowRunning bool) string {
	if abortable(v) {
		abort := "run " + abortCommand(v) + " to roll back"
		switch {
		case v.PublishVersion == "":
			return abort + " (or apply a canary-rollback workflow; without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"
		case workflowRunning:
			return abort + " (or apply a canary-rollback workflow)"
		}
		return abort + " (or run " + velaCommand(v, "rollback") + ", back to the last release that succeeded, or apply a canary-rollback workflow)"
	}
	switch {
	case v.PublishVersion == "":
		return "apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"
	case workflowRunning:
		return "apply a canary-rollback workflow to roll back"
	}
	return "run " + velaCommand(v, "rollback") + " (back to the last release that succeeded) or apply a canary-rollback workflow to roll back"
}

// abortable reports whether `istio-canary abort` would roll the canary back:
// the run is in flight, not aborted yet, and a canary step is still to run.
func abortable(v *View) bool {
	return v.Abort == nil && len(v.Canaried) > 0 && v.Workflow.Active() && v.Workflow.CanaryStepAhead()
}

// velaCommand is the vela workflow command line for the view's Application.
func velaCommand(v *View, verb string) string {
	return "`vela workflow " + verb + " " + v.App + namespaceFlag(v) + "`"
}

// abortCommand and watchCommand are this tool's command lines for the view's Application.
func abortCommand(v *View) string { return "`istio-canary abort " + v.App + namespaceFlag(v) + "`" }

func watchCommand(v *View) string {
	return "`istio-canary status " + v.App + namespaceFlag(v) + " --watch`"
}

func namespaceFlag(v *View) string {
	if v.Namespace != "" && v.Namespace != "default" {
		return " -n " + v.Namespace
	}
	return ""
}

// NextAction tells the human what to do next, from the workflow and the instances.
func NextAction(v *View) Action {
	if !v.Found {
		return Action{Kind: ActionNone, Text: fmt.Sprintf("application %s not found in namespace %s", v.App, v.Namespace)}
	}
	if v.Abort != nil {
		return abortAction(v)
	}
	w := &v.Workflow
	vela := func(verb string) string { return velaCommand(v, verb) }
	failed := failedStep(w.Steps)
	stepName := "?"
	if s := w.CurrentStep(); s != nil {
		stepName = s.Name
	}
	suspended := w.Suspended || w.Phase == string(wfv1alpha1.WorkflowStateSuspending) || v.Phase == AppWorkflowSuspending
	terminated := w.Terminated || w.Phase == string(wfv1alpha1.WorkflowStateTerminated) ||
		w.Phase == string(wfv1alpha1.WorkflowStateFailed) || v.Phase == AppWorkflowTerminated || v.Phase == AppWorkflowFailed

	switch {
	case failed != nil && failed.Reason == reasonTerminate:
		return Action{Kind: ActionTerminated, Text: fmt.Sprintf("terminated at step %s: run %s to run the workflow again, or %s", failed.Name, vela("restart"), rollbackHint(v, false))}
	case failed != nil && terminated:
		return Action{Kind: ActionFailed, Text: fmt.Sprintf("failed at step %s: %s; fix the Application and apply it again, or %s", failed.Name, stepMessage(failed), rollbackHint(v, false))}
	case failed != nil && suspended:
		return Action{Kind: ActionFailed, Text: fmt.Sprintf("failed at step %s: %s; the workflow is suspended: fix the cause and run %s to retry, or %s", failed.Name, stepMessage(failed), vela("resume"), rollbackHint(v, false))}
	case failed != nil:
		return Action{Kind: ActionFailed, Text: fmt.Sprintf("step %s failed, vela retries it: %s; fix the cause, or %s", failed.Name, stepMessage(failed), rollbackHint(v, true))}
	case terminated:
		return Action{Kind: ActionTerminated, Text: fmt.Sprintf("terminated at step %s: run %s to run the workflow again, or %s", stepName, vela("restart"), rollbackHint(v, false))}
	case suspended:
		return suspendedAction(v, stepName)
	case w.Finished || w.Phase == string(wfv1alpha1.WorkflowStateSucceeded):
		if d, ok := firstUnready(v); ok {
			return Action{Kind: ActionUnhealthy, Text: "workflow done, but waiting for " + d}
		}
		return Action{Kind: ActionDone, Text: doneText(v)}
	case w.Phase == "" && len(w.Steps) == 0:
		return Action{Kind: ActionWaiting, Text: fmt.Sprintf("waiting for the workflow to start (application %s)", orDash(v.Phase))}
	}
	verb := "rolling out"
	if s := w.CurrentStep(); s != nil && s.Type == contract.StepRollback {
		verb = "rolling back"
	}
	text := verb + ": waiting for the workflow"
	if a := runningAnalysis(v); a != nil {
		text = fmt.Sprintf("analysing: the analysis of step %s is running", a.Step)
		if !a.Next.IsZero() && a.NextIn > 0 {
			text += ", next measurement in " + formatLeft(a.NextIn)
		}
	} else if d, ok := firstUnready(v); ok {
		text = verb + ": waiting for " + d
	} else if s := w.CurrentStep(); s != nil {
		text = fmt.Sprintf("%s: step %s (%s) is %s", verb, s.Name, orDash(s.Type), orDash(s.Phase))
		if s.Message != "" {
			text += ": " + s.Message
		}
	}
	if verb == "rolling out" && abortable(v) {
		text += "; to roll back: " + abortCommand(v)
	}
	return Action{Kind: ActionRollingOut, Text: text}
}

// suspendedAction is the next action while the workflow waits: for a
// timed pause to end, for a human to decide on an inconclusive analysis,
// or for approval.
func suspendedAction(v *View, stepName string) Action {
	resume := velaCommand(v, "resume")
	if p := v.Pause; p != nil {
		text := fmt.Sprintf("pausing: %s left (resumes by itself at %s)", formatLeft(p.Left), clock(p.Until, p.Left))
		if p.Left == 0 {
			text = fmt.Sprintf("pausing: the pause ended at %s; vela resumes the workflow at its next reconcile", clock(p.Until, 0))
		}
		return Action{Kind: ActionPausing, Text: text + "; run " + resume + " to go on now, or " + rollbackHint(v, false)}
	}
	if a, ok := holdAction(v); ok {
		return a
	}
	if a := v.analysisOf(stepName); a != nil && a.Phase == string(analysis.PhaseInconclusive) {
		return Action{Kind: ActionDecide, Text: fmt.Sprintf("the analysis of step %s is inconclusive, so a human decides: run %s to go on with the rollout, or %s",
			stepName, resume, rollbackHint(v, false))}
	}
	text := fmt.Sprintf("suspended at step %s: run %s to continue, or %s", stepName, resume, rollbackHint(v, false))
	for _, a := range v.Analyses {
		if a.Background && a.Phase == string(analysis.PhaseRunning) {
			text += fmt.Sprintf("; meanwhile the analysis of step %s runs, and rolls the canary back if it fails", a.Step)
			break
		}
	}
	return Action{Kind: ActionSuspended, Text: text}
}

// abortAction is the next action once the run was asked to abort: wait for
// its canary steps to roll back, resume it when it waits, or, once it has
// ended, say where the canary ended up.
func abortAction(v *View) Action {
	w := &v.Workflow
	if !v.Abort.Done {
		if w.Suspended {
			step := "?"
			if s := w.CurrentStep(); s != nil {
				step = s.Name
			}
			return Action{Kind: ActionAborting, Text: fmt.Sprintf("aborting, but the workflow is suspended at step %s: run %s again to resume it, so that its next canary step rolls back",
				step, abortCommand(v))}
		}
		text := "aborting: the workflow's canary steps roll the canary back"
		if d, ok := firstUnready(v); ok {
			text += "; waiting for " + d
		} else if s := w.CurrentStep(); s != nil {
			text += fmt.Sprintf("; step %s (%s) is %s", s.Name, orDash(s.Type), orDash(s.Phase))
		}
		return Action{Kind: ActionAborting, Text: text + "; follow it with " + watchCommand(v)}
	}
	var serving []string
	for _, c := range v.Canaried {
		if ver := c.Version(c.Canary); ver != nil && ver.Weight > 0 && c.Phase != PhaseRolledBack {
			serving = append(serving, fmt.Sprintf("%s still sends %d%% of its traffic to %s", c.Name, ver.Weight, ver.Name))
		}
	}
	if len(serving) > 0 {
		return Action{Kind: ActionAborted, Text: "aborted, but " + strings.Join(serving, ", ") + ": " + rollbackHint(v, w.Active())}
	}
	text := strings.Replace(doneText(v), "done", "aborted", 1)
	if d, ok := firstUnready(v); ok {
		text += "; waiting for " + d
	}
	return Action{Kind: ActionAborted, Text: text + "; release a fixed version to try again"}
}

// runningAnalysis is the running analysis of the step running now, or nil.
func runningAnalysis(v *View) *Analysis {
	s := v.Workflow.CurrentStep()
	if s == nil || s.Phase != string(wfv1alpha1.WorkflowStepPhaseRunning) {
		return nil
	}
	if a := v.analysisOf(s.Name); a != nil && a.Phase == string(analysis.PhaseRunning) {
		return a
	}
	return nil
}

// analysisOf is the analysis of the named step, or nil.
func (v *View) analysisOf(step string) *Analysis {
	for i := range v.Analyses {
		if v.Analyses[i].Step == step {
			return &v.Analyses[i]
		}
	}
	return nil
}

func failedStep(steps []Step) *Step {
	for i := range steps {
		if steps[i].Phase == string(wfv1alpha1.WorkflowStepPhaseFailed) {
			return &steps[i]
		}
	}
	return nil
}

func stepMessage(s *Step) string {
	if s.Message != "" {
		return s.Message
	}
	if s.Reason != "" {
		return s.Reason
	}
	return "no message"
}

// firstUnready names the first Deployment with fewer ready than desired instances:
// canaries first, then stable versions, then the other components.
func firstUnready(v *View) (string, bool) {
	for _, role := range []Role{RoleCanary, RoleStable, RoleOther} {
		for _, c := range v.Canaried {
			for _, ver := range c.Versions {
				if ver.Role == role && ver.Deployment != "" && ver.Ready < ver.Desired {
					return fmt.Sprintf("%s (%d/%d ready)", ver.Deployment, ver.Ready, ver.Desired), true
				}
			}
		}
	}
	for _, p := range v.Others {
		if p.Ready < p.Desired {
			return fmt.Sprintf("%s (%d/%d ready)", p.Name, p.Ready, p.Desired), true
		}
	}
	return "", false
}

// doneText says which version each canaried component serves.
func doneText(v *View) string {
	var parts []string
	for _, c := range v.Canaried {
		var top *Version
		for i := range c.Versions {
			if top == nil || c.Versions[i].Weight > top.Weight {
				top = &c.Versions[i]
			}
		}
		if top == nil {
			continue
		}
		verb := "serves"
		if c.Phase == PhaseRolledBack {
			verb = "rolled back to"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s (%d%% of traffic)", c.Name, verb, top.Name, top.Weight))
	}
	if len(parts) == 0 {
		return "done"
	}
	return "done: " + strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// holdAction is the next action while a canary step that has moved all the
// traffic keeps the old version whole for the rollout trait's
// scaleDownDelay: a timed suspend that `vela workflow resume` does not
// shorten, during which an abort rolls back on running instances.
func holdAction(v *View) (Action, bool) {
	s := v.Workflow.CurrentStep()
	if s == nil || !contract.RollsBackOnAbort(s.Type) {
		return Action{}, false
	}
	for _, c := range v.Canaried {
		if c.CompletedAt.IsZero() || c.Stable == "" {
			continue
		}
		kept := c.Stable
		if ver := c.Version(c.Stable); ver != nil && ver.Deployment != "" {
			kept = fmt.Sprintf("%s (%d/%d ready)", ver.Deployment, ver.Ready, ver.Desired)
		}
		return Action{Kind: ActionPausing, Text: fmt.Sprintf("%s switched to %s at %s; step %s keeps %s for the rollout trait's scaleDownDelay, then scales it down and ends by itself; run %s to roll back at once, onto instances that still run",
			c.Name, c.Canary, c.CompletedAt.Local().Format("15:04:05"), s.Name, kept, abortCommand(v))}, true
	}
	return Action{}, false
}
