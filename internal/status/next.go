package status

import (
	"fmt"
	"strings"

	wfv1alpha1 "github.com/kubevela/workflow/api/v1alpha1"

	"github.com/istio-canary/istio-canary/internal/contract"
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

// rollbackHint tells how to roll back. `vela workflow rollback` puts back the
// last release that succeeded only for Applications released with an
// app.oam.dev/publishVersion annotation, and only while the workflow is not
// running; otherwise it writes the current spec back and changes nothing.
func rollbackHint(v *View, workflowRunning bool) string {
	switch {
	case v.PublishVersion == "":
		return "apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"
	case workflowRunning:
		return "apply a canary-rollback workflow to roll back"
	}
	return "run " + velaCommand(v, "rollback") + " (back to the last release that succeeded) or apply a canary-rollback workflow to roll back"
}

// velaCommand is the vela workflow command line for the view's Application.
func velaCommand(v *View, verb string) string {
	cmd := "vela workflow " + verb + " " + v.App
	if v.Namespace != "" && v.Namespace != "default" {
		cmd += " -n " + v.Namespace
	}
	return "`" + cmd + "`"
}

// NextAction tells the human what to do next, from the workflow and the instances.
func NextAction(v *View) Action {
	if !v.Found {
		return Action{Kind: ActionNone, Text: fmt.Sprintf("application %s not found in namespace %s", v.App, v.Namespace)}
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
		return Action{Kind: ActionSuspended, Text: fmt.Sprintf("suspended at step %s: run %s to continue, or %s", stepName, vela("resume"), rollbackHint(v, false))}
	case w.Finished || w.Phase == string(wfv1alpha1.WorkflowStateSucceeded):
		if d, ok := firstUnready(v); ok {
			return Action{Kind: ActionUnhealthy, Text: "workflow done, but waiting for " + d}
		}
		return Action{Kind: ActionDone, Text: doneText(v)}
	case w.Phase == "" && len(w.Steps) == 0:
		return Action{Kind: ActionWaiting, Text: fmt.Sprintf("waiting for the workflow to start (application %s)", orDash(v.Phase))}
	}
	verb := "rolling out"
	if s := w.CurrentStep(); s != nil && s.Type == "canary-rollback" {
		verb = "rolling back"
	}
	if d, ok := firstUnready(v); ok {
		return Action{Kind: ActionRollingOut, Text: verb + ": waiting for " + d}
	}
	if s := w.CurrentStep(); s != nil {
		text := fmt.Sprintf("%s: step %s (%s) is %s", verb, s.Name, orDash(s.Type), orDash(s.Phase))
		if s.Message != "" {
			text += ": " + s.Message
		}
		return Action{Kind: ActionRollingOut, Text: text}
	}
	return Action{Kind: ActionRollingOut, Text: verb + ": waiting for the workflow"}
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
