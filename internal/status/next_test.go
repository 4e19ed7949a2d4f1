package status

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNextAction(t *testing.T) {
	reviews := func(ready, desired int32) []Component {
		return []Component{{Name: "reviews", Stable: "v1", Canary: "v2", Versions: []Version{
			{Name: "v1", Role: RoleStable, Deployment: "reviews-v1", Ready: 1, Desired: 1, Weight: 50},
			{Name: "v2", Role: RoleCanary, Deployment: "reviews-v2", Ready: ready, Desired: desired, Weight: 50},
		}}}
	}
	cases := []struct {
		name string
		view View
		want Action
	}{
		{"a switch keeps the old version for scaleDownDelay", View{App: "a", Namespace: "default", Found: true, Phase: AppWorkflowSuspending,
			Canaried: []Component{{Name: "reviews", Stable: "v1", Canary: "v2", Phase: "completed", CompletedAt: time.Date(2026, 11, 30, 10, 0, 0, 0, time.Local), Versions: []Version{
				{Name: "v1", Role: RoleStable, Deployment: "reviews-v1", Ready: 2, Desired: 2},
				{Name: "v2", Role: RoleCanary, Deployment: "reviews-v2", Ready: 2, Desired: 2, Weight: 100}}}},
			Workflow: Workflow{RunID: "r", Phase: "suspending", Suspended: true, Current: 0, Steps: []Step{{Name: "switch", Type: "canary-rollout", Phase: "suspending"}}}},
			Action{ActionPausing, "reviews switched to v2 at 10:00:00; step switch keeps reviews-v1 (2/2 ready) for the rollout trait's scaleDownDelay, then scales it down and ends by itself; run `istio-canary abort a` to roll back at once, onto instances that still run"}},
		{"not found", View{App: "book-info", Namespace: "default"},
			Action{ActionNone, "application book-info not found in namespace default"}},
		{"suspended in another namespace names it", View{App: "shop", Namespace: "team-a", Found: true, Phase: AppWorkflowSuspending,
			Workflow: Workflow{Phase: "suspending", Suspended: true, Current: 0, Steps: []Step{{Name: "approve", Type: "suspend", Phase: "suspending"}}}},
			Action{ActionSuspended, "suspended at step approve: run `vela workflow resume shop -n team-a` to continue, or apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"}},
		{"suspended, released with a publishVersion: vela can roll back", View{App: "shop", Namespace: "default", Found: true, Phase: AppWorkflowSuspending, PublishVersion: "2",
			Workflow: Workflow{Phase: "suspending", Suspended: true, Current: 0, Steps: []Step{{Name: "approve", Type: "suspend", Phase: "suspending"}}}},
			Action{ActionSuspended, "suspended at step approve: run `vela workflow resume shop` to continue, or run `vela workflow rollback shop` (back to the last release that succeeded) or apply a canary-rollback workflow to roll back"}},
		{"failed and retried, released with a publishVersion: vela refuses to roll back a running workflow", View{App: "a", Namespace: "default", Found: true, Phase: AppRunningWorkflow, PublishVersion: "2",
			Workflow: Workflow{Phase: "executing", Current: 0, Steps: []Step{{Name: "s", Phase: "failed", Reason: "Execute"}}}},
			Action{ActionFailed, "step s failed, vela retries it: Execute; fix the cause, or apply a canary-rollback workflow to roll back"}},
		{"terminated by hand", View{App: "a", Namespace: "default", Found: true, Phase: AppWorkflowTerminated,
			Workflow: Workflow{Phase: "terminated", Terminated: true, Current: 0, Steps: []Step{{Name: "s", Phase: "failed", Reason: "Terminate"}}}},
			Action{ActionTerminated, "terminated at step s: run `vela workflow restart a` to run the workflow again, or apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"}},
		{"failed and suspended (suspend on failure)", View{App: "a", Namespace: "default", Found: true, Phase: AppWorkflowSuspending,
			Workflow: Workflow{Phase: "suspending", Suspended: true, Current: 0, Steps: []Step{{Name: "s", Phase: "failed", Reason: "FailedAfterRetries", Message: "boom"}}}},
			Action{ActionFailed, "failed at step s: boom; the workflow is suspended: fix the cause and run `vela workflow resume a` to retry, or apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"}},
		{"failed, vela retries", View{App: "a", Namespace: "default", Found: true, Phase: AppRunningWorkflow,
			Workflow: Workflow{Phase: "executing", Current: 0, Steps: []Step{{Name: "s", Phase: "failed", Reason: "Execute"}}}},
			Action{ActionFailed, "step s failed, vela retries it: Execute; fix the cause, or apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"}},
		{"running and all ready shows the step", View{App: "a", Namespace: "default", Found: true, Phase: AppRunningWorkflow, Canaried: reviews(2, 2),
			Workflow: Workflow{Phase: "executing", Current: 0, Steps: []Step{{Name: "s", Type: "canary-rollout", Phase: "running", Message: "shifting"}}}},
			Action{ActionRollingOut, "rolling out: step s (canary-rollout) is running: shifting"}},
		{"rolling back waits for instances", View{App: "a", Namespace: "default", Found: true, Phase: AppRunningWorkflow, Canaried: reviews(0, 1),
			Workflow: Workflow{Phase: "executing", Current: 0, Steps: []Step{{Name: "rb", Type: "canary-rollback", Phase: "running"}}}},
			Action{ActionRollingOut, "rolling back: waiting for reviews-v2 (0/1 ready)"}},
		{"workflow done but not ready", View{App: "a", Namespace: "default", Found: true, Phase: AppUnhealthy, Canaried: reviews(1, 2),
			Workflow: Workflow{Phase: "succeeded", Finished: true, Current: -1}},
			Action{ActionUnhealthy, "workflow done, but waiting for reviews-v2 (1/2 ready)"}},
		{"other component not ready", View{App: "a", Namespace: "default", Found: true, Phase: AppRunning, Canaried: reviews(2, 2),
			Others:   []Plain{{Name: "ratings", Deployments: []string{"ratings"}, Ready: 0, Desired: 1}},
			Workflow: Workflow{Phase: "succeeded", Finished: true, Current: -1}},
			Action{ActionUnhealthy, "workflow done, but waiting for ratings (0/1 ready)"}},
		{"no workflow yet", View{App: "a", Namespace: "default", Found: true, Phase: "rendering", Workflow: Workflow{Current: -1}},
			Action{ActionWaiting, "waiting for the workflow to start (application rendering)"}},
		{"in flight in another namespace: abort names it", View{App: "shop", Namespace: "team-a", Found: true, Phase: AppWorkflowSuspending, Canaried: reviews(1, 1),
			Workflow: Workflow{RunID: "r", Phase: "suspending", Suspended: true, Current: 0, Steps: []Step{{Name: "approve", Type: "suspend", Phase: "suspending"}, {Name: "rest", Type: "canary-rollout", Phase: "pending"}}}},
			Action{ActionSuspended, "suspended at step approve: run `vela workflow resume shop -n team-a` to continue, or run `istio-canary abort shop -n team-a` to roll back (or apply a canary-rollback workflow; without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"}},
		{"in flight, released with a publishVersion", View{App: "a", Namespace: "default", Found: true, Phase: AppWorkflowSuspending, Canaried: reviews(1, 1), PublishVersion: "2",
			Workflow: Workflow{RunID: "r", Phase: "suspending", Suspended: true, Current: 0, Steps: []Step{{Name: "approve", Type: "suspend", Phase: "suspending"}, {Name: "rest", Type: "canary-rollout", Phase: "pending"}}}},
			Action{ActionSuspended, "suspended at step approve: run `vela workflow resume a` to continue, or run `istio-canary abort a` to roll back (or run `vela workflow rollback a`, back to the last release that succeeded, or apply a canary-rollback workflow)"}},
		{"no canary step left: abort would not roll back, so it is not offered", View{App: "a", Namespace: "default", Found: true, Phase: AppWorkflowSuspending, Canaried: reviews(1, 1),
			Workflow: Workflow{RunID: "r", Phase: "suspending", Suspended: true, Current: 1, Steps: []Step{{Name: "rollout", Type: "canary-rollout", Phase: "succeeded"}, {Name: "approve", Type: "suspend", Phase: "suspending"}}}},
			Action{ActionSuspended, "suspended at step approve: run `vela workflow resume a` to continue, or apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"}},
		{"a step failing in flight: abort", View{App: "a", Namespace: "default", Found: true, Phase: AppRunningWorkflow, Canaried: reviews(1, 1), PublishVersion: "2",
			Workflow: Workflow{RunID: "r", Phase: "executing", Current: 0, Steps: []Step{{Name: "s", Type: "canary-rollout", Phase: "failed", Reason: "Execute", Message: "boom"}}}},
			Action{ActionFailed, "step s failed, vela retries it: boom; fix the cause, or run `istio-canary abort a` to roll back (or apply a canary-rollback workflow)"}},
		{"aborted while suspended: abort again resumes it", View{App: "a", Namespace: "default", Found: true, Phase: AppWorkflowSuspending, Canaried: reviews(1, 1), Abort: &Abort{Reason: "why"},
			Workflow: Workflow{RunID: "r", Phase: "suspending", Suspended: true, Current: 0, Steps: []Step{{Name: "approve", Type: "suspend", Phase: "suspending"}, {Name: "rest", Type: "canary-rollout", Phase: "pending"}}}},
			Action{ActionAborting, "aborting, but the workflow is suspended at step approve: run `istio-canary abort a` again to resume it, so that its next canary step rolls back"}},
		{"aborting, the canary step is at work", View{App: "a", Namespace: "team-a", Found: true, Phase: AppRunningWorkflow, Canaried: reviews(1, 1), Abort: &Abort{Reason: "why"},
			Workflow: Workflow{RunID: "r", Phase: "executing", Current: 0, Steps: []Step{{Name: "rest", Type: "canary-rollout", Phase: "running"}}}},
			Action{ActionAborting, "aborting: the workflow's canary steps roll the canary back; step rest (canary-rollout) is running; follow it with `istio-canary status a -n team-a --watch`"}},
		{"aborted, but the canary still gets traffic (nothing rolled back)", View{App: "a", Namespace: "default", Found: true, Phase: AppRunning, Canaried: reviews(1, 1), Abort: &Abort{Reason: "why", Done: true},
			Workflow: Workflow{RunID: "r", Phase: "succeeded", Finished: true, Current: 0, Steps: []Step{{Name: "approve", Type: "suspend", Phase: "succeeded"}}}},
			Action{ActionAborted, "aborted, but reviews still sends 50% of its traffic to v2: apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"}},
		{"paused, the pause is over", View{App: "a", Namespace: "default", Found: true, Phase: AppWorkflowSuspending, Pause: &Pause{Step: "wait", Until: time.Date(2025, 1, 2, 10, 5, 30, 0, time.UTC)},
			Workflow: Workflow{Phase: "suspending", Suspended: true, Current: 0, Steps: []Step{{Name: "wait", Type: "suspend", Phase: "suspending"}}}},
			Action{ActionPausing, "pausing: the pause ended at 10:05:30; vela resumes the workflow at its next reconcile; run `vela workflow resume a` to go on now, or apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, NextAction(&tc.view))
		})
	}
}
