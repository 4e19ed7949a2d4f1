package canarytest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	istioapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func deployment(name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels, Annotations: map[string]string{"a": "1"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: "app:1",
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
			}}}},
		},
		Status: appsv1.DeploymentStatus{ReadyReplicas: replicas},
	}
}

func TestDeployments(t *testing.T) {
	ctx := context.Background()
	c := NewCluster(t, deployment("b", 1, map[string]string{"app": "x"}), deployment("a", 2, map[string]string{"app": "x"}), deployment("c", 1, map[string]string{"app": "y"}))
	deployments := c.Kube().AppsV1().Deployments("default")

	got, err := deployments.Get(ctx, "a", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(2), *got.Spec.Replicas)
	got.Labels["app"] = "changed" // a copy: the cluster keeps its own
	again, err := deployments.Get(ctx, "a", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "x", again.Labels["app"])

	_, err = deployments.Get(ctx, "missing", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "%v", err)
	_, err = c.Kube().AppsV1().Deployments("other").Get(ctx, "a", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "another namespace: %v", err)

	list, err := deployments.List(ctx, metav1.ListOptions{LabelSelector: "app=x"})
	require.NoError(t, err)
	require.Len(t, list.Items, 2)
	require.Equal(t, []string{"a", "b"}, []string{list.Items[0].Name, list.Items[1].Name}, "sorted by name")
	list, err = deployments.List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 3)
	_, err = deployments.List(ctx, metav1.ListOptions{LabelSelector: "app in (x"})
	require.Error(t, err)

	_, err = deployments.Create(ctx, deployment("a", 1, nil), metav1.CreateOptions{})
	require.True(t, apierrors.IsAlreadyExists(err), "%v", err)
	_, err = deployments.Update(ctx, deployment("missing", 1, nil), metav1.UpdateOptions{})
	require.True(t, apierrors.IsNotFound(err), "%v", err)
	_, err = c.Kube().AppsV1().Deployments("other").Create(ctx, deployment("d", 1, nil), metav1.CreateOptions{})
	require.True(t, apierrors.IsBadRequest(err), "the object's namespace is not the request's: %v", err)

	d := deployment("d", 3, nil)
	d.Namespace = ""
	created, err := deployments.Create(ctx, d, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Equal(t, "default", created.Namespace, "takes the request's namespace")
	d.Annotations["a"] = "changed after the write"
	stored, err := deployments.Get(ctx, "d", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "1", stored.Annotations["a"])

	// An update replaces the whole object, as client-go's fake does: no
	// generation or status of its own.
	stored.Spec.Replicas = ptr(int32(5))
	stored.Status.ReadyReplicas = 4
	_, err = deployments.Update(ctx, stored, metav1.UpdateOptions{})
	require.NoError(t, err)
	stored, err = deployments.Get(ctx, "d", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(5), *stored.Spec.Replicas)
	require.Equal(t, int32(4), stored.Status.ReadyReplicas)
	require.Zero(t, stored.Generation)

	require.Equal(t, []string{"get", "get", "get", "get", "list", "list", "list", "create", "update", "create", "create", "get", "update", "get"}, verbs(c.Calls()))
	c.ClearCalls()
	require.Empty(t, c.Calls())
}

func TestDeploymentPatch(t *testing.T) {
	ctx := context.Background()
	c := NewCluster(t, deployment("a", 2, map[string]string{"app": "x", "tier": "web"}))
	deployments := c.Kube().AppsV1().Deployments("default")

	patched, err := deployments.Patch(ctx, "a", types.MergePatchType, []byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(0), *patched.Spec.Replicas)
	got, err := deployments.Get(ctx, "a", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(0), *got.Spec.Replicas)
	require.Equal(t, int32(2), got.Status.ReadyReplicas, "the rest stays")

	_, err = deployments.Patch(ctx, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"tier":null}}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	got, err = deployments.Get(ctx, "a", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"app": "x"}, got.Labels, "null removes a member")

	_, err = deployments.Patch(ctx, "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
	require.True(t, apierrors.IsNotFound(err), "%v", err)
	_, err = deployments.Patch(ctx, "a", types.StrategicMergePatchType, []byte(`{}`), metav1.PatchOptions{})
	require.Error(t, err)
	_, err = deployments.Patch(ctx, "a", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}, "scale")
	require.Error(t, err)
}

// TestMergePatch checks mergePatch against the merge itself, for patches
// that it applies the short way and for ones that it does not.
func TestMergePatch(t *testing.T) {
	old := deployment("a", 2, map[string]string{"app": "x"})
	for _, patch := range []string{
		`{"spec":{"replicas":3}}`,
		`{"metadata":{"labels":{"tier":"web"},"annotations":{"a":"2"}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"other","image":"other:2"}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"app","resources":{"limits":{"memory":"1Gi"}}}]}}}}`,
		`{"status":{"readyReplicas":1,"conditions":[{"type":"Available","status":"True"}]}}`,
		`{"metadata":{"annotations":{"a":null}},"spec":{"replicas":1}}`,
		`{}`,
	} {
		var short, long appsv1.Deployment
		require.NoError(t, mergePatch(old, []byte(patch), &short), patch)
		raw, err := json.Marshal(old)
		require.NoError(t, err)
		var p any
		require.NoError(t, json.Unmarshal([]byte(patch), &p))
		require.NoError(t, mergeJSON(raw, p, &long), patch)
		require.Equal(t, long, short, patch)
	}
}

func TestIstio(t *testing.T) {
	ctx := context.Background()
	vs := &networkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "default"}}
	vs.Spec.Http = []*istioapi.HTTPRoute{{Route: []*istioapi.HTTPRouteDestination{{Destination: &istioapi.Destination{Host: "reviews", Subset: "v1"}, Weight: 100}}}}
	c := NewCluster(t, vs)
	vss := c.Istio().NetworkingV1().VirtualServices("default")

	got, err := vss.Get(ctx, "reviews", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "v1", got.Spec.Http[0].Route[0].Destination.Subset)
	got.Spec.Http[0].Route[0].Weight = 10
	_, err = vss.Update(ctx, got, metav1.UpdateOptions{})
	require.NoError(t, err)
	got.Spec.Http[0].Route[0].Weight = 20 // after the write: not stored
	got, err = vss.Get(ctx, "reviews", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(10), got.Spec.Http[0].Route[0].Weight)

	drs := c.Istio().NetworkingV1().DestinationRules("default")
	_, err = drs.Get(ctx, "reviews", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "%v", err)
	var status apierrors.APIStatus
	require.ErrorAs(t, err, &status)
	require.Equal(t, "reviews", status.Status().Details.Name, "names the object, as a served API's 404 does")
	dr := &networkingv1.DestinationRule{ObjectMeta: metav1.ObjectMeta{Name: "reviews"}}
	_, err = drs.Create(ctx, dr, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = drs.Update(ctx, dr, metav1.UpdateOptions{})
	require.NoError(t, err)
	_, err = drs.Get(ctx, "reviews", metav1.GetOptions{})
	require.NoError(t, err)

	_, err = c.Istio().NetworkingV1beta1().VirtualServices("default").Get(ctx, "reviews", metav1.GetOptions{})
	require.ErrorContains(t, err, "serves networking.istio.io/v1 only")
	_, err = c.Istio().NetworkingV1beta1().DestinationRules("default").Get(ctx, "reviews", metav1.GetOptions{})
	require.ErrorContains(t, err, "serves networking.istio.io/v1 only")

	require.Equal(t, []string{"get", "update", "get", "get", "create", "update", "get"}, verbs(c.Calls()))
}

func verbs(calls []Call) []string {
	out := []string{}
	for _, c := range calls {
		out = append(out, c.Verb)
	}
	return out
}

func ptr[T any](v T) *T { return &v }
