package status

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

func TestBuildPause(t *testing.T) {
	started := at("10:00:30")
	pause := func(s Step) Workflow {
		return Workflow{Suspended: true, Steps: []Step{{Name: "rollout", Type: "canary-rollout", Phase: "succeeded"}, s}}
	}
	wait := Step{Name: "wait", Type: "suspend", Phase: "suspending", Duration: "5m", Started: started}

	w := pause(wait)
	p := buildPause(&w, at("10:05:18"))
	require.NotNil(t, p)
	assert.Equal(t, Pause{Step: "wait", Until: at("10:05:30"), Left: 12 * time.Second}, *p)

	p = buildPause(&w, at("10:05:29.2"))
	require.NotNil(t, p)
	assert.Equal(t, time.Second, p.Left, "the last second still shows as 1s")

	p = buildPause(&w, at("10:05:31"))
	require.NotNil(t, p)
	assert.Zero(t, p.Left, "vela resumes at its next reconcile")

	w = Workflow{Suspended: true, Steps: []Step{{Name: "group", Type: "step-group", Phase: "running", SubSteps: []Step{wait}}}}
	p = buildPause(&w, at("10:01:30"))
	require.NotNil(t, p, "a pause inside a step-group")
	assert.Equal(t, 4*time.Minute, p.Left)

	for name, w := range map[string]Workflow{
		"no duration":          pause(Step{Name: "approve", Type: "suspend", Phase: "suspending", Started: started}),
		"invalid duration":     pause(Step{Name: "wait", Type: "suspend", Phase: "suspending", Duration: "5 minutes", Started: started}),
		"not started":          pause(Step{Name: "wait", Type: "suspend", Phase: "suspending", Duration: "5m"}),
		"resumed":              pause(Step{Name: "wait", Type: "suspend", Phase: "running", Duration: "5m", Started: started}),
		"workflow not waiting": {Steps: []Step{wait}},
	} {
		assert.Nil(t, buildPause(&w, at("10:01:00")), name)
	}
}

func TestPlannedStepDuration(t *testing.T) {
	var a application
	require.NoError(t, jsonUnmarshal(`{"spec":{"workflow":{"steps":[
		{"name":"wait","type":"suspend","properties":{"duration":"30s"}},
		{"name":"other","type":"deploy","properties":{"duration":5}},
		{"name":"group","type":"step-group","subSteps":[{"name":"inner","type":"suspend","properties":{"duration":"1m"}}]}]}},
		"status":{"workflow":{"steps":[{"id":"1","name":"wait","type":"suspend","phase":"suspending","firstExecuteTime":"2025-01-02T10:00:00Z"},
		{"id":"3","name":"group","type":"step-group","phase":"running","subSteps":[{"id":"4","name":"inner","type":"suspend","phase":"suspending"}]}]}}}`, &a))
	w := a.workflow()
	require.Len(t, w.Steps, 3)
	assert.Equal(t, "30s", w.Steps[0].Duration)
	assert.Equal(t, at("10:00:00"), w.Steps[0].Started.UTC())
	assert.Empty(t, w.Steps[1].Duration, "only suspend steps' durations count")
	assert.Equal(t, "pending", w.Steps[1].Phase)
	require.Len(t, w.Steps[2].SubSteps, 1)
	assert.Equal(t, Step{Name: "inner", Type: "suspend", Phase: "suspending", Duration: "1m"}, w.Steps[2].SubSteps[0])
}

func TestCanaryStepAhead(t *testing.T) {
	cases := []struct {
		name  string
		steps []Step
		want  bool
	}{
		{"a rollout step to come", []Step{{Type: "canary-rollout", Phase: "succeeded"}, {Type: "suspend", Phase: "suspending"}, {Type: "canary-rollout", Phase: "pending"}}, true},
		{"the canary steps are done", []Step{{Type: "canary-rollout", Phase: "succeeded"}, {Type: "suspend", Phase: "suspending"}}, false},
		{"a running analysis", []Step{{Type: "canary-analysis", Phase: "running"}}, true},
		{"a failed step vela retries", []Step{{Type: "canary-rollout", Phase: "failed", Reason: "Execute"}}, true},
		{"a failed step vela gave up on", []Step{{Type: "canary-rollout", Phase: "failed", Reason: "FailedAfterRetries"}}, false},
		{"inside a step-group", []Step{{Type: "step-group", Phase: "running", SubSteps: []Step{{Type: "suspend", Phase: "suspending"}, {Type: "canary-rollback", Phase: "pending"}}}}, true},
		{"inside a finished step-group", []Step{{Type: "step-group", Phase: "succeeded", SubSteps: []Step{{Type: "canary-rollout", Phase: "pending"}}}}, false},
		{"no workflow", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := Workflow{Steps: tc.steps}
			assert.Equal(t, tc.want, w.CanaryStepAhead())
		})
	}
}

func TestBuildAbort(t *testing.T) {
	active := Workflow{RunID: "r", Phase: "executing"}
	ended := Workflow{RunID: "r", Phase: "failed", Terminated: true}
	rolledBack := []Component{{Name: "a", Phase: PhaseRolledBack}, {Name: "b", Phase: PhaseRolledBack}}
	halfway := []Component{{Name: "a", Phase: PhaseRolledBack}, {Name: "b", Phase: "progressing"}}
	aborted := &workflowrun.Run{AbortRequested: true, AbortReason: "why"}

	assert.Nil(t, buildAbort(&workflowrun.Run{}, &active, halfway))
	assert.Equal(t, &Abort{Reason: "why"}, buildAbort(aborted, &active, halfway), "one component still to roll back")
	assert.Equal(t, &Abort{Reason: "why", Done: true}, buildAbort(aborted, &active, rolledBack), "all rolled back")
	assert.Equal(t, &Abort{Reason: "why", Done: true}, buildAbort(aborted, &ended, halfway), "the run ended")
	assert.Equal(t, &Abort{Reason: "why"}, buildAbort(aborted, &active, nil), "nothing to tell by: until the run ends")
}

func TestWorkflowOf(t *testing.T) {
	u := &unstructured.Unstructured{}
	require.NoError(t, jsonUnmarshal(`{"metadata":{"name":"a","namespace":"n"},
		"spec":{"workflow":{"steps":[{"name":"s","type":"canary-rollout"}]}},
		"status":{"workflow":{"appRevision":"a-v2","startTime":"2025-01-02T10:00:00Z","status":"executing","steps":[{"id":"1","name":"s","type":"canary-rollout","phase":"running"}]}}}`, &u.Object))
	w, err := WorkflowOf(u)
	require.NoError(t, err)
	assert.Equal(t, "a-v2@2025-01-02T10:00:00Z", w.RunID)
	assert.True(t, w.Active())
	assert.True(t, w.CanaryStepAhead())
	assert.Equal(t, "s", w.CurrentStep().Name)
}

func TestWorkflowActive(t *testing.T) {
	assert.True(t, (&Workflow{RunID: "r", Phase: "suspending", Suspended: true}).Active())
	assert.False(t, (&Workflow{Phase: "executing"}).Active(), "no run")
	for _, phase := range []string{"succeeded", "failed", "terminated"} {
		assert.False(t, (&Workflow{RunID: "r", Phase: phase}).Active(), phase)
	}
	assert.False(t, (&Workflow{RunID: "r", Finished: true}).Active())
	assert.False(t, (&Workflow{RunID: "r", Terminated: true}).Active())
}

func TestFormatLeftAndClock(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 12 * time.Second: "12s", 4*time.Minute + 30*time.Second: "4m30s",
		time.Hour + 5*time.Minute: "1h5m", 2 * time.Hour: "2h", 26*time.Hour + 3*time.Second: "26h3s",
	} {
		assert.Equal(t, want, formatLeft(d))
	}
	assert.Equal(t, "10:05:30", clock(at("10:05:30"), time.Minute))
	assert.Equal(t, "Jan 2 10:05:30", clock(at("10:05:30"), 13*time.Hour), "the date when not within hours")
}

func TestSecondsLeft(t *testing.T) {
	now := at("10:00:00")
	assert.Equal(t, 2*time.Second, secondsLeft(now, now.Add(1500*time.Millisecond)), "rounded up")
	assert.Equal(t, time.Second, secondsLeft(now, now.Add(time.Second)))
	assert.Zero(t, secondsLeft(now, now))
	assert.Zero(t, secondsLeft(now, now.Add(-time.Second)))
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
