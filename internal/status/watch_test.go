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
	k8stesting "k8s.io/client-go/testing"
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
	assert.Equal(t, "rolling out: waiting for reviews-v2 (1/2 ready)", v.Next.Text)

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
