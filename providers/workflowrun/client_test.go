package workflowrun

import (
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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/istio-canary/istio-canary/internal/contract"
)

func fakeDynamic(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{ApplicationGVR: "ApplicationList"}, objs...)
}

// writes lists the actions that are not reads, as "verb[/subresource]".
func writes(f *dynamicfake.FakeDynamicClient) []string {
	var out []string
	for _, a := range f.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		w := a.GetVerb()
		if a.GetSubresource() != "" {
			w += "/" + a.GetSubresource()
		}
		out = append(out, w)
	}
	return out
}

func current(t *testing.T, f *dynamicfake.FakeDynamicClient) *unstructured.Unstructured {
	t.Helper()
	u, err := f.Resource(ApplicationGVR).Namespace("default").Get(context.Background(), "book-info", metav1.GetOptions{})
	require.NoError(t, err)
	return u
}

func TestAbortSuspendedRun(t *testing.T) {
	f := fakeDynamic(app(nil))
	c := Client{Dynamic: f}
	run, err := c.Abort(context.Background(), "default", "book-info", "bad canary")
	require.NoError(t, err)
	assert.Equal(t, runID, run.ID)
	assert.True(t, run.AbortRequested)
	assert.Equal(t, "bad canary", run.AbortReason)
	assert.True(t, run.Suspended, "the run as it was found: suspended")
	assert.Equal(t, "manual-approval", run.SuspendedStep())

	require.Equal(t, []string{"patch", "update/status"}, writes(f))
	var patch k8stesting.PatchAction
	for _, a := range f.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			patch = p
		}
	}
	assert.Equal(t, types.MergePatchType, patch.GetPatchType())
	var body map[string]any
	require.NoError(t, json.Unmarshal(patch.GetPatch(), &body))
	assert.Equal(t, map[string]any{"metadata": map[string]any{
		"uid": "uid-1",
		"annotations": map[string]any{
			contract.AnnotationAbort:       runID,
			contract.AnnotationAbortReason: "bad canary",
		},
	}}, body, "the annotation names the run; the UID guards against a recreated Application")

	u := current(t, f)
	assert.Equal(t, runID, u.GetAnnotations()[contract.AnnotationAbort])
	suspend, _, _ := unstructured.NestedBool(u.Object, "status", "workflow", "suspend")
	assert.False(t, suspend, "resumed")
	steps, _, _ := unstructured.NestedSlice(u.Object, "status", "workflow", "steps")
	require.Len(t, steps, 2)
	assert.Equal(t, "succeeded", steps[0].(map[string]any)["phase"])
	assert.Equal(t, "running", steps[1].(map[string]any)["phase"], "the suspending step runs again")
	after, err := FromObject(u)
	require.NoError(t, err)
	assert.True(t, after.AbortRequested)
	assert.Equal(t, runID, after.ID, "resuming is no new run")
}

func TestAbortTwiceWritesOnce(t *testing.T) {
	f := fakeDynamic(app(nil))
	c := Client{Dynamic: f}
	_, err := c.Abort(context.Background(), "default", "book-info", "first")
	require.NoError(t, err)
	f.ClearActions()

	run, err := c.Abort(context.Background(), "default", "book-info", "second")
	require.NoError(t, err)
	assert.True(t, run.AbortRequested)
	assert.Equal(t, "first", run.AbortReason, "the first reason stays")
	assert.Empty(t, writes(f), "already aborted and no longer suspended: nothing to write")
	assert.Equal(t, "first", current(t, f).GetAnnotations()[contract.AnnotationAbortReason])
}

func TestAbortAgainResumesALaterSuspension(t *testing.T) {
	// The run was aborted, and vela suspended it again at a later step:
	// aborting again only resumes it.
	u := app(map[string]any{contract.AnnotationAbort: runID, contract.AnnotationAbortReason: "first"})
	f := fakeDynamic(u)
	run, err := Client{Dynamic: f}.Abort(context.Background(), "default", "book-info", "second")
	require.NoError(t, err)
	assert.Equal(t, "first", run.AbortReason)
	assert.Equal(t, []string{"update/status"}, writes(f))
}

func TestAbortRunningRunOnlyAnnotates(t *testing.T) {
	u := app(nil)
	require.NoError(t, unstructured.SetNestedField(u.Object, false, "status", "workflow", "suspend"))
	require.NoError(t, unstructured.SetNestedField(u.Object, "executing", "status", "workflow", "status"))
	f := fakeDynamic(u)
	_, err := Client{Dynamic: f}.Abort(context.Background(), "default", "book-info", "r")
	require.NoError(t, err)
	assert.Equal(t, []string{"patch"}, writes(f), "a running workflow needs no resume")
}

func TestAbortNothingInFlight(t *testing.T) {
	cases := map[string]func(*unstructured.Unstructured){
		"finished": func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, true, "status", "workflow", "finished")
		},
		"terminated": func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, true, "status", "workflow", "terminated")
		},
		"not started": func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, "status", "workflow") },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			u := app(nil)
			mutate(u)
			f := fakeDynamic(u)
			run, err := Client{Dynamic: f}.Abort(context.Background(), "default", "book-info", "r")
			require.ErrorIs(t, err, ErrNotActive)
			assert.Contains(t, err.Error(), "application default/book-info")
			require.NotNil(t, run, "the run comes back, so that callers can say why")
			assert.Empty(t, writes(f))
		})
	}
}

func TestAbortApplicationNotFound(t *testing.T) {
	f := fakeDynamic()
	_, err := Client{Dynamic: f}.Abort(context.Background(), "default", "book-info", "r")
	require.Error(t, err)
	assert.True(t, apierrors.IsNotFound(err), "%v", err)
	assert.False(t, errors.Is(err, ErrNotActive))
	assert.Contains(t, err.Error(), "application default/book-info")
}

func TestAbortResumeRetriesOnConflict(t *testing.T) {
	f := fakeDynamic(app(nil))
	conflicts := 0
	f.PrependReactor("update", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(ApplicationGVR.GroupResource(), "book-info", errors.New("modified"))
		}
		return false, nil, nil
	})
	_, err := Client{Dynamic: f}.Abort(context.Background(), "default", "book-info", "r")
	require.NoError(t, err)
	assert.Equal(t, 1, conflicts)
	assert.Equal(t, []string{"patch", "update/status", "update/status"}, writes(f))
	suspend, _, _ := unstructured.NestedBool(current(t, f).Object, "status", "workflow", "suspend")
	assert.False(t, suspend)
}

func TestAbortResumeErrorIsWrapped(t *testing.T) {
	f := fakeDynamic(app(nil))
	f.PrependReactor("update", "applications", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(ApplicationGVR.GroupResource(), "book-info", errors.New("no"))
	})
	run, err := Client{Dynamic: f}.Abort(context.Background(), "default", "book-info", "r")
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err))
	assert.Contains(t, err.Error(), "application default/book-info: resume the workflow")
	require.NotNil(t, run, "the abort is recorded: the caller can say so")
	assert.True(t, run.AbortRequested)
	assert.Equal(t, runID, current(t, f).GetAnnotations()[contract.AnnotationAbort])
}

func TestNotify(t *testing.T) {
	f := fakeDynamic(app(nil))
	require.NoError(t, Client{Dynamic: f}.Notify(context.Background(), "default", "book-info", "analyze: Successful"))
	assert.Equal(t, "analyze: Successful", current(t, f).GetAnnotations()[contract.AnnotationAnalysis])
	assert.Equal(t, []string{"patch"}, writes(f))
}

func TestAbortWithNoCanaryStepAheadMarksButDoesNotResume(t *testing.T) {
	u := app(nil)
	steps, _, _ := unstructured.NestedSlice(u.Object, "spec", "workflow", "steps")
	require.NoError(t, unstructured.SetNestedSlice(u.Object, steps[:2], "spec", "workflow", "steps"))
	f := fakeDynamic(u)
	run, err := Client{Dynamic: f}.Abort(context.Background(), "default", "book-info", "late failure")
	require.NoError(t, err)
	assert.True(t, run.AbortRequested)
	assert.Equal(t, []string{"patch"}, writes(f), "resuming would only finish the release with the canary in it")
	suspended, _, _ := unstructured.NestedBool(current(t, f).Object, "status", "workflow", "suspend")
	assert.True(t, suspended)
}
