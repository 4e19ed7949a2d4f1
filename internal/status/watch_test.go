package status

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/istio-canary/istio-canary/internal/contract"
)

func TestWatch(t *testing.T) {
	f := loadFixtures(t, "first-batch-suspended")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	views := make(chan View, 16)
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, f.Clients, "default", "book-info", 10*time.Millisecond, func(v View, err error) {
			assert.NoError(t, err)
			views <- v
		})
	}()
	next := func() View {
		t.Helper()
		select {
		case v := <-views:
			return v
		case <-time.After(10 * time.Second):
			t.Fatal("no view within 10s")
			return View{}
		}
	}

	first := next()
	assert.Equal(t, ActionSuspended, first.Next.Kind)

	// A change that does not alter the view (an annotation of another VirtualService)
	// emits nothing; the next view must be the one of the resume below.
	gw, err := f.istio.NetworkingV1().VirtualServices("default").Get(ctx, "productpage-gateway", metav1.GetOptions{})
	require.NoError(t, err)
	gw.Annotations = map[string]string{"touched": "yes"}
	_, err = f.istio.NetworkingV1().VirtualServices("default").Update(ctx, gw, metav1.UpdateOptions{})
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)

	// `vela workflow resume`: the workflow runs rollout-rest, reviews-v2 scales to 2.
	app, err := f.dyn.Resource(ApplicationGVR).Namespace("default").Get(ctx, "book-info", metav1.GetOptions{})
	require.NoError(t, err)
	require.NoError(t, unstructured.SetNestedField(app.Object, "runningWorkflow", "status", "status"))
	require.NoError(t, unstructured.SetNestedField(app.Object, false, "status", "workflow", "suspend"))
	require.NoError(t, unstructured.SetNestedField(app.Object, "executing", "status", "workflow", "status"))
	_, err = f.dyn.Resource(ApplicationGVR).Namespace("default").Update(ctx, app, metav1.UpdateOptions{})
	require.NoError(t, err)
	dep, err := f.kube.AppsV1().Deployments("default").Get(ctx, "reviews-v2", metav1.GetOptions{})
	require.NoError(t, err)
	two := int32(2)
	dep.Spec.Replicas = &two
	_, err = f.kube.AppsV1().Deployments("default").Update(ctx, dep, metav1.UpdateOptions{})
	require.NoError(t, err)

	// The two updates may come as one view or two; the last one shows both.
	var v View
	for v = next(); v.Next.Kind != ActionRollingOut || v.Component("reviews").Version("v2").Desired != 2; v = next() {
		assert.NotEqual(t, first, v, "an unchanged view was emitted again")
	}
	assert.Equal(t, "rolling out: waiting for reviews-v2 (1/2 ready); to roll back: `istio-canary abort book-info`", v.Next.Text)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestWatchApplicationAPIMissing(t *testing.T) {
	f := loadFixtures(t, "no-rollout")
	f.dyn.PrependReactor("list", "applications", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(ApplicationGVR.GroupResource(), "")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Watch(ctx, f.Clients, "default", "book-info", 0, func(View, error) {
		t.Error("no view expected")
	})
	require.Error(t, err)
	assert.True(t, apierrors.IsNotFound(err), "%v", err)
	assert.Contains(t, err.Error(), "list applications in default")
}

func TestWatchApplicationCreatedLater(t *testing.T) {
	f := loadFixtures(t, "no-rollout")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	views := make(chan View, 16)
	go func() {
		_ = Watch(ctx, f.Clients, "default", "shop", 10*time.Millisecond, func(v View, err error) {
			assert.NoError(t, err)
			views <- v
		})
	}()
	v := <-views
	assert.False(t, v.Found)
	assert.Equal(t, ActionNone, v.Next.Kind)

	app := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "core.oam.dev/v1beta1", "kind": "Application",
		"metadata": map[string]any{"name": "shop", "namespace": "default"},
		"spec":     map[string]any{"components": []any{map[string]any{"name": "web", "type": "webservice"}}},
	}}
	_, err := f.dyn.Resource(ApplicationGVR).Namespace("default").Create(ctx, app, metav1.CreateOptions{})
	require.NoError(t, err)
	select {
	case v = <-views:
	case <-ctx.Done():
		t.Fatal("no view after the Application was created")
	}
	assert.True(t, v.Found)
	assert.Equal(t, ActionWaiting, v.Next.Kind)
	require.Len(t, v.Others, 1)
	assert.Equal(t, "web", v.Others[0].Name)
}

// watchViews runs Watch in the background and returns its views.
func watchViews(ctx context.Context, t *testing.T, f fixtureClients) <-chan View {
	t.Helper()
	views := make(chan View, 64)
	go func() {
		_ = Watch(ctx, f.Clients, "default", "book-info", 10*time.Millisecond, func(v View, err error) {
			assert.NoError(t, err)
			views <- v
		})
	}()
	return views
}

func nextView(t *testing.T, views <-chan View) View {
	t.Helper()
	select {
	case v := <-views:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no view within 10s")
		return View{}
	}
}

// A timed pause counts down by itself: a view per second, with no event.
func TestWatchCountsDownAPause(t *testing.T) {
	f := loadFixtures(t, "timed-pause")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The pause of 5m ends 2 to 3 seconds from now, on a whole second as vela writes it.
	until := time.Now().Truncate(time.Second).Add(3 * time.Second)
	app, err := f.dyn.Resource(ApplicationGVR).Namespace("default").Get(ctx, "book-info", metav1.GetOptions{})
	require.NoError(t, err)
	steps, _, _ := unstructured.NestedSlice(app.Object, "status", "workflow", "steps")
	steps[1].(map[string]any)["firstExecuteTime"] = until.Add(-5 * time.Minute).UTC().Format(time.RFC3339)
	require.NoError(t, unstructured.SetNestedSlice(app.Object, steps, "status", "workflow", "steps"))
	_, err = f.dyn.Resource(ApplicationGVR).Namespace("default").Update(ctx, app, metav1.UpdateOptions{})
	require.NoError(t, err)

	views := watchViews(ctx, t, f)
	var lefts []time.Duration
	for v := nextView(t, views); ; v = nextView(t, views) {
		require.NotNil(t, v.Pause, v.Next.Text)
		require.Equal(t, ActionPausing, v.Next.Kind)
		lefts = append(lefts, v.Pause.Left)
		if v.Pause.Left == 0 {
			assert.Contains(t, v.Next.Text, "pausing: the pause ended at")
			break
		}
	}
	require.GreaterOrEqual(t, len(lefts), 3, "%v", lefts)
	for i := 1; i < len(lefts); i++ {
		assert.Equal(t, lefts[i-1]-time.Second, lefts[i], "one view per second, none skipped: %v", lefts)
	}
	select {
	case v := <-views:
		t.Fatalf("a view after the countdown ended, with nothing changed: %s", v.Next.Text)
	case <-time.After(1500 * time.Millisecond):
	}
}

// The analysis state ConfigMap is watched: created, then updated.
func TestWatchAnalysisState(t *testing.T) {
	f := loadFixtures(t, "first-batch-suspended")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	views := watchViews(ctx, t, f)
	v := nextView(t, views)
	assert.Empty(t, v.Analyses)

	cm := stateConfigMap(`{"runID":"` + testRun + `","analyses":[{"step":"analyze","background":true,"spec":{"count":5},"outcome":{"phase":"Running"}}]}`)
	_, err := f.kube.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
	require.NoError(t, err)
	v = nextView(t, views)
	require.Len(t, v.Analyses, 1)
	assert.Equal(t, "Running", v.Analyses[0].Phase)

	cm.Data[contract.AnalysisStateKey] = `{"runID":"` + testRun + `","analyses":[{"step":"analyze","background":true,"spec":{"count":5},"outcome":{"phase":"Failed","message":"bad"}}]}`
	_, err = f.kube.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{})
	require.NoError(t, err)
	v = nextView(t, views)
	require.Len(t, v.Analyses, 1)
	assert.Equal(t, "Failed", v.Analyses[0].Phase)
}

// Without the right to list ConfigMaps the view still comes, saying so.
func TestWatchAnalysisStateForbidden(t *testing.T) {
	f := loadFixtures(t, "analysis-running")
	f.kube.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "", nil)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := nextView(t, watchViews(ctx, t, f))
	assert.Empty(t, v.Analyses)
	assert.Contains(t, v.AnalysisProblem, "cannot read the analyses (configmap default/book-info-canary-analysis)")
	require.NotNil(t, v.Component("reviews"))
}

func TestNextTick(t *testing.T) {
	now := at("10:00:00")
	d, ok := nextTick([]time.Time{now.Add(2300 * time.Millisecond), now.Add(5100 * time.Millisecond)}, now)
	require.True(t, ok)
	assert.Equal(t, 120*time.Millisecond, d, "the earliest crossing of a whole second, and a little")
	d, ok = nextTick([]time.Time{now.Add(3 * time.Second)}, now)
	require.True(t, ok)
	assert.Equal(t, 1020*time.Millisecond, d)
	_, ok = nextTick([]time.Time{now, now.Add(-time.Second)}, now)
	assert.False(t, ok, "nothing left to count down")
}
