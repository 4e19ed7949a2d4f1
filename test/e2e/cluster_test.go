//go:build e2e

// End-to-end checks of the local control plane itself (test/cluster): the
// fake node, a Deployment that becomes ready through kube-scheduler,
// kube-controller-manager and kwok, and a KubeVela Application reconciled by
// vela-core. The addon's own e2e tests stand on these.
package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/istio-canary/istio-canary/test/cluster"
)

// testNamespace creates a namespace of its own for the test and deletes it
// afterwards.
func testNamespace(t *testing.T, clients kubernetes.Interface) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano()%100000)
	_, err := clients.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err, "create namespace %s", name)
	t.Cleanup(func() {
		_ = clients.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

func clientsFor(t *testing.T, c *cluster.Cluster) (kubernetes.Interface, dynamic.Interface) {
	t.Helper()
	config, err := c.RESTConfig()
	require.NoError(t, err)
	clients, err := kubernetes.NewForConfig(config)
	require.NoError(t, err)
	dyn, err := dynamic.NewForConfig(config)
	require.NoError(t, err)
	return clients, dyn
}

func TestClusterKubectlShowsFakeNode(t *testing.T) {
	c := cluster.ForTest(t)
	out, err := c.Command(t.Context(), "kubectl", "get", "nodes", "--no-headers").CombinedOutput()
	require.NoError(t, err, "kubectl get nodes: %s", out)
	require.Contains(t, string(out), cluster.FakeNodeName)
	require.Contains(t, string(out), " Ready ")
}

func TestClusterDeploymentBecomesReady(t *testing.T) {
	c := cluster.ForTest(t)
	clients, _ := clientsFor(t, c)
	ns := testNamespace(t, clients)

	labels := map[string]string{"app": "web"}
	deployment := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
	_, err := clients.AppsV1().Deployments(ns).Create(t.Context(), deployment, metav1.CreateOptions{})
	require.NoError(t, err)

	require.EventuallyWithT(t, func(collect *assert.CollectT) {
		got, err := clients.AppsV1().Deployments(ns).Get(t.Context(), "web", metav1.GetOptions{})
		require.NoError(collect, err)
		require.Equal(collect, int32(2), got.Status.ReadyReplicas, "readyReplicas")
	}, 2*time.Minute, 250*time.Millisecond, "Deployment web never had 2 ready replicas")
}

func TestClusterApplicationWithWebserviceIsRunning(t *testing.T) {
	c := cluster.ForTest(t)
	clients, dyn := clientsFor(t, c)
	ns := testNamespace(t, clients)

	applications := dyn.Resource(schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "applications"}).Namespace(ns)
	app := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "core.oam.dev/v1beta1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": "hello", "namespace": ns},
		"spec": map[string]any{
			"components": []any{map[string]any{
				"name": "hello",
				"type": "webservice",
				"properties": map[string]any{
					"image": "nginx:1.27",
					"ports": []any{map[string]any{"port": int64(80), "expose": true}},
				},
			}},
		},
	}}
	_, err := applications.Create(t.Context(), app, metav1.CreateOptions{})
	require.NoError(t, err)

	require.EventuallyWithT(t, func(collect *assert.CollectT) {
		got, err := applications.Get(t.Context(), "hello", metav1.GetOptions{})
		require.NoError(collect, err)
		phase, _, _ := unstructured.NestedString(got.Object, "status", "status")
		require.Equal(collect, "running", phase, "Application phase")
	}, 3*time.Minute, 250*time.Millisecond, "Application hello never reached phase running")

	// webservice renders a Deployment named after the component; kwok made its pod Ready.
	deployment, err := clients.AppsV1().Deployments(ns).Get(t.Context(), "hello", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, int32(1), deployment.Status.ReadyReplicas)
}
