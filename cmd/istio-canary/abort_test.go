package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/internal/status"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// runID is the run of testdata/book-info.yaml.
const runID = "book-info-v2@2025-01-02T10:00:00Z"

// abortEnv runs `istio-canary abort` against the fixture, changed by
// mutate, as the kubeconfig user given.
type abortEnv struct {
	t   *testing.T
	dyn *dynamicfake.FakeDynamicClient
	c   status.Clients
}

func newAbortEnv(t *testing.T, mutate func(map[string]any)) *abortEnv {
	t.Helper()
	f := fakes(t)
	e := &abortEnv{t: t, dyn: f.Dynamic, c: status.Clients{Kube: f.Kube, Dynamic: f.Dynamic, Istio: f.Istio}}
	if mutate != nil {
		u := e.app()
		mutate(u.Object)
		_, err := f.Dynamic.Resource(status.ApplicationGVR).Namespace("default").Update(context.Background(), u, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	f.Dynamic.ClearActions()
	return e
}

func (e *abortEnv) run(user string, args ...string) (string, error) {
	var out bytes.Buffer
	env := &env{
		stdout: &out, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" },
		newClients: func(kubeFlags) (status.Clients, string, error) { return e.c, "default", nil },
		user:       func(kubeFlags) string { return user },
	}
	cmd := newRootCmd(env)
	cmd.SetArgs(append([]string{"abort"}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func (e *abortEnv) app() *unstructured.Unstructured {
	e.t.Helper()
	u, err := e.dyn.Resource(status.ApplicationGVR).Namespace("default").Get(context.Background(), "book-info", metav1.GetOptions{})
	require.NoError(e.t, err)
	return u
}

// writes lists what was written to the Application: "patch <body>" and
// "update/status".
func (e *abortEnv) writes() []string {
	var out []string
	for _, a := range e.dyn.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
		case "patch":
			p := a.(k8stesting.PatchAction)
			assert.Equal(e.t, types.MergePatchType, p.GetPatchType())
			out = append(out, "patch "+string(p.GetPatch()))
		case "update":
			out = append(out, "update/"+a.GetSubresource())
		default:
			out = append(out, a.GetVerb())
		}
	}
	return out
}

func annotationPatch(reason string) string {
	raw, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{contract.AnnotationAbort: runID, contract.AnnotationAbortReason: reason},
		"uid":         "7d6c1e0a-0000-4000-8000-000000000001",
	}})
	return "patch " + string(raw)
}

func TestAbortSuspendedCanary(t *testing.T) {
	e := newAbortEnv(t, nil)
	out, err := e.run("alice", "book-info")
	require.NoError(t, err)
	assert.Equal(t, "Aborted run "+runID+" of application default/book-info (reason: \"aborted by alice with istio-canary abort\").\n"+
		"The workflow was suspended at step manual-approval: resumed, so that its next canary step rolls back.\n"+
		"Watch the rollback with: `istio-canary status book-info --watch`\n", out)
	assert.Equal(t, []string{annotationPatch("aborted by alice with istio-canary abort"), "update/status"}, e.writes())

	u := e.app()
	suspend, found, _ := unstructured.NestedBool(u.Object, "status", "workflow", "suspend")
	assert.True(t, found)
	assert.False(t, suspend, "resumed")
	steps, _, _ := unstructured.NestedSlice(u.Object, "status", "workflow", "steps")
	require.Len(t, steps, 2)
	assert.Equal(t, "succeeded", steps[0].(map[string]any)["phase"])
	assert.Equal(t, "running", steps[1].(map[string]any)["phase"], "manual-approval: suspending -> running")

	// The status view now shows the abort.
	v, err := status.Collect(context.Background(), e.c, "default", "book-info")
	require.NoError(t, err)
	require.NotNil(t, v.Abort)
	assert.Equal(t, "aborted by alice with istio-canary abort", v.Abort.Reason)
	assert.Equal(t, status.ActionAborting, v.Next.Kind)
}

func TestAbortTwice(t *testing.T) {
	e := newAbortEnv(t, nil)
	_, err := e.run("alice", "book-info")
	require.NoError(t, err)
	e.dyn.ClearActions()

	out, err := e.run("bob", "book-info", "--reason", "again")
	require.NoError(t, err)
	assert.Equal(t, "Run "+runID+" of application default/book-info was already aborted (reason: \"aborted by alice with istio-canary abort\"): nothing new written.\n"+
		"The workflow is running: its canary steps roll back instead of going on.\n"+
		"Watch the rollback with: `istio-canary status book-info --watch`\n", out)
	assert.Empty(t, e.writes(), "no second annotation, nothing to resume")
	assert.Equal(t, "aborted by alice with istio-canary abort", e.app().GetAnnotations()[contract.AnnotationAbortReason])
}

func TestAbortRunningWorkflowWithReason(t *testing.T) {
	e := newAbortEnv(t, func(o map[string]any) {
		_ = unstructured.SetNestedField(o, false, "status", "workflow", "suspend")
		_ = unstructured.SetNestedField(o, "executing", "status", "workflow", "status")
		_ = unstructured.SetNestedSlice(o, []any{
			map[string]any{"id": "s1", "name": "rollout-1st-batch", "type": "canary-rollout", "phase": "running"},
		}, "status", "workflow", "steps")
	})
	out, err := e.run("", "book-info", "--reason", "error rate too high")
	require.NoError(t, err)
	assert.Contains(t, out, "Aborted run "+runID+" of application default/book-info (reason: \"error rate too high\").\n")
	assert.Contains(t, out, "The workflow is running: its canary steps roll back instead of going on.\n")
	assert.Equal(t, []string{annotationPatch("error rate too high")}, e.writes(), "a running workflow is not resumed")
}

func TestAbortDefaultReasonWithoutUser(t *testing.T) {
	e := newAbortEnv(t, nil)
	_, err := e.run("", "book-info")
	require.NoError(t, err)
	assert.Equal(t, "aborted by a user with istio-canary abort", e.app().GetAnnotations()[contract.AnnotationAbortReason])
}

func TestAbortNothingToAbort(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(map[string]any)
		want   []string
	}{
		{"finished", func(o map[string]any) {
			_ = unstructured.SetNestedField(o, true, "status", "workflow", "finished")
			_ = unstructured.SetNestedField(o, "succeeded", "status", "workflow", "status")
		}, []string{"the workflow of book-info-v2 has finished", "deploy it again", "`vela workflow rollback book-info`", "publishVersion"}},
		{"terminated", func(o map[string]any) {
			_ = unstructured.SetNestedField(o, true, "status", "workflow", "terminated")
			_ = unstructured.SetNestedField(o, "terminated", "status", "workflow", "status")
		}, []string{"has stopped (terminated)", "canary-rollback", "`vela workflow restart book-info`"}},
		{"not started", func(o map[string]any) {
			unstructured.RemoveNestedField(o, "status", "workflow")
		}, []string{"its workflow has not started", "`istio-canary status book-info --watch`"}},
		{"aborted and ended", func(o map[string]any) {
			_ = unstructured.SetNestedField(o, true, "status", "workflow", "terminated")
			_ = unstructured.SetNestedField(o, "failed", "status", "workflow", "status")
			_ = unstructured.SetNestedStringMap(o, map[string]string{contract.AnnotationAbort: runID, contract.AnnotationAbortReason: "why"}, "metadata", "annotations")
		}, []string{"run " + runID + " was aborted (why) and has ended (failed)"}},
		{"no canary step left", func(o map[string]any) {
			_ = unstructured.SetNestedSlice(o, []any{
				map[string]any{"name": "rollout-1st-batch", "type": "canary-rollout"},
				map[string]any{"name": "manual-approval", "type": "suspend"},
			}, "spec", "workflow", "steps")
		}, []string{"no canary step", "an abort would roll nothing back", "apply a canary-rollback workflow instead"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newAbortEnv(t, tc.mutate)
			out, err := e.run("alice", "book-info")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "application default/book-info: ")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, out)
			assert.Empty(t, e.writes(), "nothing written")
		})
	}
}

func TestAbortApplicationNotFound(t *testing.T) {
	e := newAbortEnv(t, nil)
	out, err := e.run("alice", "nope")
	require.Error(t, err)
	assert.True(t, apierrors.IsNotFound(err))
	assert.Contains(t, err.Error(), "application nope not found in namespace default (check the name and -n)")
	assert.Empty(t, out)
	assert.Empty(t, e.writes())
}

func TestAbortRecordedButNotResumed(t *testing.T) {
	e := newAbortEnv(t, nil)
	e.dyn.PrependReactor("update", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(workflowrun.ApplicationGVR.GroupResource(), "book-info", errors.New("may not update status"))
	})
	_, err := e.run("alice", "book-info")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the abort of run "+runID+" is recorded, but the workflow could not be resumed")
	assert.Contains(t, err.Error(), "run `vela workflow resume book-info` so that its next canary step rolls back")
	assert.Equal(t, runID, e.app().GetAnnotations()[contract.AnnotationAbort])
}

func TestAbortArgs(t *testing.T) {
	e := newAbortEnv(t, nil)
	_, err := e.run("alice")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "accepts 1 arg(s), received 0")
}

func TestDefaultReasonAndCommand(t *testing.T) {
	assert.Equal(t, "aborted by alice with istio-canary abort", defaultReason("alice"))
	assert.Equal(t, "`vela workflow resume shop -n team-a`", command("vela workflow resume", "shop", "team-a"))
	assert.Equal(t, "`vela workflow resume shop`", command("vela workflow resume", "shop", "default"))
	assert.Equal(t, "`istio-canary status shop -n team-a --watch`", command("istio-canary status", "shop", "team-a", "--watch"))
}
