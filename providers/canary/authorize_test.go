package canary

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/providers/workflowrun"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// step1Live is the seed after step canary-1 applied v2's first batch and the
// 90/10 routes: its plan retires one of v1's two instances, now.
func step1Live() []runtime.Object {
	return []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")}
}

// step1Scale is the retire call step canary-1 makes in that state.
func step1Scale(t testing.TB) *ScaleParams {
	return &ScaleParams{PlanParams: *planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)), Name: "reviews-v1", Replicas: 1}
}

// setStatus replaces the run's record of step name (phase, and vela's reason).
func setStatus(name, phase string) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"name": name, "type": "canary-rollout", "phase": phase}}, "status", "workflow", "steps")
	}
}

func TestScaleDoesWhatTheRunningStepPlans(t *testing.T) {
	f := newFixture(t, step1Live()...)
	_, ctx := ktesting.NewTestContext(t)
	got, err := f.Scale(ctx, step1Scale(t))
	require.NoError(t, err)
	require.Equal(t, &ScaleResult{Done: true, Changed: true}, got)
	d, err := f.kube.AppsV1().Deployments(testNS).Get(context.Background(), "reviews-v1", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(1), *d.Spec.Replicas)
}

// Every call the Application's state does not support is refused, names
// why, and writes nothing: the provider can patch any Deployment, so it
// must never be anyone's deputy.
func TestScaleRefusesForgedCalls(t *testing.T) {
	tests := []struct {
		name string
		call func(*ScaleParams)
		app  []func(*unstructured.Unstructured)
		want string
	}{
		{
			name: "another namespace, where no such Application exists",
			call: func(c *ScaleParams) { c.Namespace = "seedv" },
			want: "application seedv/book-info does not exist",
		},
		{
			name: "another Application",
			call: func(c *ScaleParams) { c.App = "seed-info" },
			want: "application default/seed-info does not exist",
		},
		{
			name: "an Application whose workflow has finished (not canarying)",
			app:  []func(*unstructured.Unstructured){finished},
			want: "the workflow of application default/book-info for revision book-info-v2 is not running",
		},
		{
			name: "a step that is not one of the Application's",
			call: func(c *ScaleParams) { c.Step = "deploy" },
			want: "application default/book-info has no workflow step deploy",
		},
		{
			name: "a step that is not a canary step",
			call: func(c *ScaleParams) { c.Step = "approve" },
			want: "step approve of application default/book-info is a suspend step",
		},
		{
			name: "a canary step that has finished",
			app:  []func(*unstructured.Unstructured){setStatus("canary-1", "succeeded")},
			want: "step canary-1 of application default/book-info has finished",
		},
		{
			name: "a revision that is not the run's",
			call: func(c *ScaleParams) { c.Revision = "book-info-v1" },
			want: "revision book-info-v1 is not a revision of application default/book-info",
		},
		{
			name: "a component the step does not canary",
			call: func(c *ScaleParams) { c.Component = "ratings" },
			want: "component ratings of application default/book-info has no rollout trait",
		},
		{
			name: "rollout properties other than the Application's",
			call: func(c *ScaleParams) { c.Rollout.TargetSize = 40 },
			want: "rollout: the call's rollout properties of component reviews are not those of application default/book-info",
		},
		{
			name: "a batchPartition other than the step's",
			call: func(c *ScaleParams) { c.BatchPartition = ptr(1) },
			want: "batchPartition: the call's is not the one application's step canary-1 gives",
		},
		{
			name: "weights other than the step's",
			call: func(c *ScaleParams) { c.WeightedTargets = []WeightedTarget{wt("reviews-v1", 0), wt("reviews-v2", 100)} },
			want: "traffic.weightedTargets: the call's are not the ones application's step canary-1 gives",
		},
		{
			name: "a Deployment of another component",
			call: func(c *ScaleParams) { c.Name = "ratings-v1" },
			want: "does not scale ratings-v1 to 1 now (its plan scales reviews-v1 to 1)",
		},
		{
			name: "replicas other than planned",
			call: func(c *ScaleParams) { c.Replicas = 40 },
			want: "does not scale reviews-v1 to 40 now (its plan scales reviews-v1 to 1)",
		},
		{
			name: "no step or revision",
			call: func(c *ScaleParams) { c.Step, c.Revision = "", "" },
			want: "step and revision: the step passes its context.stepName and context.appRevision",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, step1Live()...)
			f.Workflows = workflowruntest.Applications(t, workflowruntest.SeedApplication, tt.app...)
			call := step1Scale(t)
			if tt.call != nil {
				tt.call(call)
			}
			_, ctx := ktesting.NewTestContext(t)
			got, err := f.Scale(ctx, call)
			require.Nil(t, got)
			require.ErrorContains(t, err, "refused: ")
			require.ErrorContains(t, err, tt.want)
			require.True(t, IsInputError(err), "the step fails with it: %v", err)
			f.requireReadOnly(t)
		})
	}
}

// finished records the run as over, as vela does when its last step ends.
func finished(u *unstructured.Unstructured) {
	_ = unstructured.SetNestedField(u.Object, true, "status", "workflow", "finished")
	_ = unstructured.SetNestedField(u.Object, "succeeded", "status", "workflow", "status")
}

// The curl that once scaled another Application's stable version to 40:
// that Application is not canarying, so nothing happens.
func TestScaleRefusesTheCurlOfAnIdleApplication(t *testing.T) {
	f := newFixture(t, step1Live()...)
	f.Workflows = workflowruntest.Applications(t, workflowruntest.SeedApplication, finished)
	_, ctx := ktesting.NewTestContext(t)
	_, err := f.Scale(ctx, &ScaleParams{PlanParams: PlanParams{Caller: testCaller()}, Name: "reviews-v1", Replicas: 40})
	require.ErrorContains(t, err, "refused: step and revision")
	f.requireReadOnly(t)
	require.Empty(t, f.actions(), "nothing is even read for it")
}

// vela-core runs the first steps of a new revision before it records the
// new run: a spec newer than the recorded status (generation ahead of
// observedGeneration) vouches for a revision of the Application. Without
// it, a call naming another revision than the recorded run's is refused.
func TestPlanOfANewRevisionBeforeVelaRecordsItsRun(t *testing.T) {
	olderRun := func(generation int64) func(u *unstructured.Unstructured) {
		return func(u *unstructured.Unstructured) {
			finished(u)
			_ = unstructured.SetNestedField(u.Object, "book-info-v1", "status", "workflow", "appRevision")
			u.SetGeneration(generation)
			_ = unstructured.SetNestedField(u.Object, int64(2), "status", "observedGeneration")
		}
	}
	f := newFixture(t, step1Live()...)
	f.Workflows = workflowruntest.Applications(t, workflowruntest.SeedApplication, olderRun(3))
	_, ctx := ktesting.NewTestContext(t)
	res, err := f.Plan(ctx, planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)))
	require.NoError(t, err)
	require.True(t, res.Planned)

	call := planStep(t, ptr(0))
	call.Revision = "book-info-v3" // no such revision object
	_, err = f.Plan(ctx, call)
	require.ErrorContains(t, err, "refused: revision book-info-v3 is not a revision of application default/book-info")

	f.Workflows = workflowruntest.Applications(t, workflowruntest.SeedApplication, olderRun(2))
	_, err = f.Plan(ctx, planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)))
	require.ErrorContains(t, err, "refused: revision book-info-v2 of application default/book-info is not the one its workflow runs (book-info-v1), and no new run is starting")
	f.requireReadOnly(t)
}

// With app.oam.dev/publishVersion, vela records the run under the pin
// ("2"), not the revision's name: the revision object, which carries the
// pin it was made for, ties the two. An abort of that run is honoured.
func TestCallsOfAnApplicationWithAPublishVersion(t *testing.T) {
	pinned := func(u *unstructured.Unstructured) {
		u.SetAnnotations(map[string]string{"app.oam.dev/publishVersion": "2"})
		_ = unstructured.SetNestedField(u.Object, "2", "status", "workflow", "appRevision")
	}
	docs := strings.Replace(workflowruntest.SeedApplication, "    app.oam.dev/name: book-info\n",
		"    app.oam.dev/name: book-info\n  annotations:\n    app.oam.dev/publishVersion: \"2\"\n", 1)
	require.NotEqual(t, workflowruntest.SeedApplication, docs)
	f := newFixture(t, step1Live()...)
	f.Workflows = workflowruntest.Applications(t, docs, pinned)
	_, ctx := ktesting.NewTestContext(t)
	got, err := f.Scale(ctx, step1Scale(t))
	require.NoError(t, err)
	require.True(t, got.Changed)

	runs := &workflowruntest.Runs{Run: workflowrun.Run{Namespace: testNS, App: testApp, ID: "2@2026-11-29T21:00:00Z", Revision: "2",
		PublishVersion: "2", AbortRequested: true, AbortReason: "aborted by alice"}}
	f.Analysis = &Analysis{Runs: runs}
	res, err := f.plan(ctx, planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)), nil)
	require.NoError(t, err)
	require.Equal(t, "aborted by alice", res.Aborted, "the pinned run's abort applies to its revision's steps")
}

// Analyze queries only the Prometheus the Application's step names.
func TestAnalyzeRefusesAnotherPrometheus(t *testing.T) {
	f := newFixture(t, deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2"))
	f = withAnalysis(f, &workflowruntest.Runs{})
	call := analyzeStep(t)
	call.Analysis.Prometheus.Address = "http://attacker.example:9090"
	_, ctx := ktesting.NewTestContext(t)
	_, err := f.Analyze(ctx, call)
	require.ErrorContains(t, err, `refused: prometheus: the call's address "http://attacker.example:9090" is not the one application's step analysis-10 gives ("http://127.0.0.1:9090")`)

	call = analyzeStep(t)
	call.Step = "canary-1"
	_, err = f.Analyze(ctx, call)
	require.ErrorContains(t, err, "refused: step canary-1 of application default/book-info is a canary-rollout step; only [canary-analysis] steps make this call")
	f.requireReadOnly(t)
}
