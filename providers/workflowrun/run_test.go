package workflowrun

import (
	"testing"
	"time"

	wfv1alpha1 "github.com/kubevela/workflow/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// app is an Application suspended at manual-approval of revision
// book-info-v2, whose run started at 10:00 UTC (written in another zone).
func app(annotations map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": "book-info", "namespace": "default", "uid": "uid-1"}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "core.oam.dev/v1beta1", "kind": "Application",
		"metadata": meta,
		"spec": map[string]any{"workflow": map[string]any{"steps": []any{
			map[string]any{"name": "rollout-1st-batch", "type": "canary-rollout"},
			map[string]any{"name": "manual-approval", "type": "suspend"},
			map[string]any{"name": "rollout-rest", "type": "canary-rollout"},
		}}},
		"status": map[string]any{"workflow": map[string]any{
			"appRevision": "book-info-v2",
			"status":      "suspending",
			"suspend":     true,
			"startTime":   "2025-01-02T12:00:00+02:00",
			"steps": []any{
				map[string]any{"id": "a", "name": "rollout-1st-batch", "type": "canary-rollout", "phase": "succeeded"},
				map[string]any{"id": "b", "name": "manual-approval", "type": "suspend", "phase": "suspending"},
			},
		}},
	}}
}

const runID = "book-info-v2@2025-01-02T10:00:00Z"

func TestFromObjectRunID(t *testing.T) {
	r, err := FromObject(app(nil))
	require.NoError(t, err)
	assert.Equal(t, runID, r.ID, "revision and start time, in UTC")
	assert.Equal(t, contract.RunID("book-info-v2", time.Date(2025, 1, 2, 10, 0, 0, 0, time.UTC)), r.ID)
	assert.Equal(t, "default", r.Namespace)
	assert.Equal(t, "book-info", r.App)
	assert.Equal(t, "uid-1", r.UID)
	assert.Equal(t, "book-info-v2", r.Revision)
	assert.Equal(t, "suspending", r.Phase)
	assert.True(t, r.Suspended)
	assert.True(t, r.Active())
	assert.False(t, r.AbortRequested)
	assert.Equal(t, "manual-approval", r.SuspendedStep())
}

func TestFromObjectRestartIsANewRun(t *testing.T) {
	u := app(nil)
	require.NoError(t, unstructured.SetNestedField(u.Object, "2025-01-02T10:05:00Z", "status", "workflow", "startTime"))
	r, err := FromObject(u)
	require.NoError(t, err)
	assert.Equal(t, "book-info-v2@2025-01-02T10:05:00Z", r.ID)
}

func TestFromObjectNotStarted(t *testing.T) {
	for name, mutate := range map[string]func(*unstructured.Unstructured){
		"no workflow status": func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, "status", "workflow") },
		"no start time": func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "status", "workflow", "startTime")
		},
	} {
		t.Run(name, func(t *testing.T) {
			u := app(map[string]any{contract.AnnotationAbort: "@"})
			mutate(u)
			r, err := FromObject(u)
			require.NoError(t, err)
			assert.Empty(t, r.ID)
			assert.False(t, r.Active())
			assert.False(t, r.AbortRequested, "no run, nothing aborted")
			assert.Equal(t, "uid-1", r.UID)
		})
	}
}

func TestFromObjectAbortRequested(t *testing.T) {
	cases := []struct {
		name        string
		annotations map[string]any
		want        bool
		reason      string
	}{
		{"names this run", map[string]any{contract.AnnotationAbort: runID, contract.AnnotationAbortReason: "bad canary"}, true, "bad canary"},
		{"names an earlier run of the same revision", map[string]any{contract.AnnotationAbort: "book-info-v2@2025-01-02T09:00:00Z", contract.AnnotationAbortReason: "old"}, false, ""},
		{"names the previous revision", map[string]any{contract.AnnotationAbort: "book-info-v1@2025-01-02T10:00:00Z"}, false, ""},
		{"no annotation", map[string]any{contract.AnnotationAbortReason: "stray"}, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := FromObject(app(tc.annotations))
			require.NoError(t, err)
			assert.Equal(t, tc.want, r.AbortRequested)
			assert.Equal(t, tc.reason, r.AbortReason)
		})
	}
}

func TestActive(t *testing.T) {
	assert.True(t, (&Run{ID: "r"}).Active())
	assert.False(t, (&Run{}).Active(), "not started")
	assert.False(t, (&Run{ID: "r", Finished: true}).Active())
	assert.False(t, (&Run{ID: "r", Terminated: true}).Active())
}

func TestFromObjectDecodeError(t *testing.T) {
	u := app(nil)
	require.NoError(t, unstructured.SetNestedField(u.Object, "yes", "status", "workflow", "suspend"))
	_, err := FromObject(u)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "application default/book-info: decode")
}

func step(name string, phase wfv1alpha1.WorkflowStepPhase, reason string, subs ...wfv1alpha1.StepStatus) wfv1alpha1.WorkflowStepStatus {
	return wfv1alpha1.WorkflowStepStatus{StepStatus: wfv1alpha1.StepStatus{Name: name, Phase: phase, Reason: reason}, SubStepsStatus: subs}
}

func sub(name string, phase wfv1alpha1.WorkflowStepPhase, reason string) wfv1alpha1.StepStatus {
	return wfv1alpha1.StepStatus{Name: name, Phase: phase, Reason: reason}
}

const (
	succeeded  = wfv1alpha1.WorkflowStepPhaseSucceeded
	suspending = wfv1alpha1.WorkflowStepPhaseSuspending
	running    = wfv1alpha1.WorkflowStepPhaseRunning
	pending    = wfv1alpha1.WorkflowStepPhasePending
	failed     = wfv1alpha1.WorkflowStepPhaseFailed
	skipped    = wfv1alpha1.WorkflowStepPhaseSkipped
)

func TestResumeSteps(t *testing.T) {
	steps := []wfv1alpha1.WorkflowStepStatus{
		step("rollout", succeeded, ""),
		step("approve", suspending, "Suspend"),
		step("retried", failed, "Execute"),
		// A group suspended as a whole: its unfinished sub-steps run again.
		step("group", suspending, "",
			sub("g-done", succeeded, ""), sub("g-wait", suspending, ""), sub("g-next", pending, ""),
			sub("g-retry", failed, "Execute"), sub("g-gave-up", failed, "FailedAfterRetries"), sub("g-skip", skipped, "")),
		// A running group with a suspended sub-step: only that one resumes.
		step("other", running, "", sub("o-wait", suspending, ""), sub("o-next", pending, "")),
	}
	resumeSteps(steps)
	phases := map[string]wfv1alpha1.WorkflowStepPhase{}
	for _, s := range steps {
		phases[s.Name] = s.Phase
		for _, ss := range s.SubStepsStatus {
			phases[ss.Name] = ss.Phase
		}
	}
	assert.Equal(t, map[string]wfv1alpha1.WorkflowStepPhase{
		"rollout": succeeded, "approve": running, "retried": failed,
		"group": running, "g-done": succeeded, "g-wait": running, "g-next": running,
		"g-retry": running, "g-gave-up": failed, "g-skip": skipped,
		"other": running, "o-wait": running, "o-next": pending,
	}, phases)
}

func TestSuspendedStep(t *testing.T) {
	r := &Run{Steps: []wfv1alpha1.WorkflowStepStatus{
		step("rollout", succeeded, ""),
		step("group", running, "", sub("analysis", running, ""), sub("approve", suspending, "")),
	}}
	assert.Equal(t, "approve", r.SuspendedStep(), "a suspended sub-step")
	assert.Empty(t, (&Run{Steps: []wfv1alpha1.WorkflowStepStatus{step("rollout", running, "")}}).SuspendedStep())
}

func TestCanaryStepAheadFollowsThePlannedSteps(t *testing.T) {
	run := &Run{
		Planned: []PlannedStep{
			{Name: "canary-10", Type: "canary-rollout"},
			{Name: "watch", Type: "canary-analysis"},
			{Name: "approval", Type: "suspend"},
			{Name: "group", Type: "step-group", SubSteps: []PlannedStep{{Name: "notify", Type: "notification"}, {Name: "rest", Type: "canary-rollout"}}},
		},
		Steps: []wfv1alpha1.WorkflowStepStatus{
			{StepStatus: wfv1alpha1.StepStatus{Name: "canary-10", Phase: wfv1alpha1.WorkflowStepPhaseSucceeded}},
			{StepStatus: wfv1alpha1.StepStatus{Name: "watch", Phase: wfv1alpha1.WorkflowStepPhaseSucceeded}},
			{StepStatus: wfv1alpha1.StepStatus{Name: "approval", Phase: wfv1alpha1.WorkflowStepPhaseSuspending}},
		},
	}
	assert.True(t, run.CanaryStepAhead(), "the canary-rollout inside the group is still to run")
	run.Planned = run.Planned[:3]
	assert.False(t, run.CanaryStepAhead(), "only the approval is left: resuming would finish the release")
	run.Steps[1].Phase = wfv1alpha1.WorkflowStepPhaseFailed
	run.Steps[1].Reason = "Execute"
	assert.True(t, run.CanaryStepAhead(), "a step that failed to execute is retried by vela")
}

// vela records a run under the revision's name, or under the Application's
// publishVersion, and may add a suffix of its own to either.
func TestRunIsOf(t *testing.T) {
	for _, tc := range []struct {
		recorded, runName string
		want              bool
	}{
		{"book-info-v2", "book-info-v2", true},
		{"book-info-v2", "book-info-v1", false},
		{"book-info-v2", "book-info-v", false},
		{"2", "2", true},
		{"2", "book-info-v2", false},
		{"book-info-v2:abcdef", "book-info-v2", true},
		{"book-info-v2-vf-0123456789abcdef0123456789abcdef", "book-info-v2", true},
		{"book-info-v2-vf-0123", "book-info-v2", false},
		{"book-info-v21", "book-info-v2", false},
	} {
		r := &Run{Revision: tc.recorded}
		if got := r.IsOf(tc.runName); got != tc.want {
			t.Errorf("run %q IsOf(%q) = %v, want %v", tc.recorded, tc.runName, got, tc.want)
		}
	}
}

// A new run vela-core has not recorded yet: a publishVersion bumped to the
// revision's, or a spec newer than the recorded status.
func TestNewRunPending(t *testing.T) {
	pinned := &Run{Revision: "2", PublishVersion: "3"}
	if !pinned.NewRunPending(Revision{Name: "app-v3", PublishVersion: "3"}) {
		t.Error("a pin bumped to the revision's: a new run is starting")
	}
	if pinned.NewRunPending(Revision{Name: "app-v2", PublishVersion: "2"}) {
		t.Error("the revision of the recorded pin is not a new run")
	}
	if (&Run{Revision: "3", PublishVersion: "3"}).NewRunPending(Revision{Name: "app-v3", PublishVersion: "3"}) {
		t.Error("the pin's run is recorded already")
	}
	if !(&Run{Revision: "app-v1", Generation: 3, ObservedGeneration: 2}).NewRunPending(Revision{Name: "app-v2"}) {
		t.Error("a spec newer than the recorded status: a new run is starting")
	}
	if !(&Run{Revision: "app-v1", Generation: 2, ObservedGeneration: 2, LatestRevision: "app-v2"}).NewRunPending(Revision{Name: "app-v2"}) {
		t.Error("a revision vela-core has just made and recorded as the latest: a new run is starting")
	}
	if (&Run{Revision: "app-v1", Generation: 2, ObservedGeneration: 2, LatestRevision: "app-v1"}).NewRunPending(Revision{Name: "app-v2"}) {
		t.Error("nothing new to run")
	}
}
