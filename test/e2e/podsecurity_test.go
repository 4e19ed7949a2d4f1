//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// renderedProvider renders the addon as `vela addon enable` does in the
// in-cluster mode (no providerEndpoint), without applying it, and returns
// the objects of the provider component by kind.
func (e *env) renderedProvider(params ...string) map[string]map[string]any {
	e.t.Helper()
	args := append([]string{"addon", "enable", e.stageAddon(), "--dry-run"}, params...)
	out := e.run("vela", args...)
	// vela prints a line about where the addon comes from, then the
	// Application and the definitions as YAML documents.
	start := strings.Index(out, "apiVersion:")
	require.GreaterOrEqual(e.t, start, 0, "no YAML in:\n%s", out)
	objects := map[string]map[string]any{}
	for _, doc := range strings.Split(out[start:], "\n---\n") {
		var app struct {
			Kind string `json:"kind"`
			Spec struct {
				Components []struct {
					Name       string `json:"name"`
					Properties struct {
						Objects []map[string]any `json:"objects"`
					} `json:"properties"`
				} `json:"components"`
			} `json:"spec"`
		}
		require.NoError(e.t, yaml.Unmarshal([]byte(doc), &app), doc)
		if app.Kind != "Application" {
			continue
		}
		for _, c := range app.Spec.Components {
			if c.Name != "istio-canary-provider" {
				continue
			}
			for _, o := range c.Properties.Objects {
				objects[fmt.Sprint(o["kind"])] = o
			}
		}
	}
	require.Contains(e.t, objects, "Deployment", "the in-cluster mode renders the provider Deployment:\n%s", out)
	return objects
}

// TestProviderPodSecurityRestricted: the provider's pods pass the Pod
// Security "restricted" level, checked by the API server's own PodSecurity
// admission with a server-side dry run (nothing is created, and kwok's nodes
// could not run the image anyway); without runAsNonRoot or the seccomp
// profile the same pod is rejected, so the check is not vacuous.
func TestProviderPodSecurityRestricted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	objects := e.renderedProvider()
	var deploy appsv1.Deployment
	raw, err := yaml.Marshal(objects["Deployment"])
	require.NoError(t, err)
	require.NoError(t, yaml.UnmarshalStrict(raw, &deploy))
	require.EqualValues(t, 2, *deploy.Spec.Replicas, "two instances by default")
	require.Contains(t, objects, "PodDisruptionBudget", "more than one instance: a PodDisruptionBudget")
	require.NotContains(t, e.renderedProvider("replicas=1"), "PodDisruptionBudget",
		"one instance: a PodDisruptionBudget of minAvailable 1 would block every node drain")

	namespace := fmt.Sprintf("podsecurity-%d", time.Now().UnixNano())
	_, err = e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: namespace,
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce":         "restricted",
			"pod-security.kubernetes.io/enforce-version": "latest",
		},
	}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = e.kube.CoreV1().Namespaces().Delete(context.Background(), namespace, metav1.DeleteOptions{})
	})
	// The ServiceAccount admission runs before PodSecurity and rejects a pod
	// whose account is missing, so the pod's account exists here too.
	_, err = e.kube.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: deploy.Spec.Template.Spec.ServiceAccountName},
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	dryRun := func(mutate func(*corev1.PodSpec)) error {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "istio-canary-provider", Labels: deploy.Spec.Template.Labels},
			Spec:       *deploy.Spec.Template.Spec.DeepCopy(),
		}
		mutate(&pod.Spec)
		_, err := e.kube.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}

	require.NoError(t, dryRun(func(*corev1.PodSpec) {}), "the provider's pod under Pod Security restricted")

	for _, c := range []struct {
		name, want string
		mutate     func(*corev1.PodSpec)
	}{
		{"without runAsNonRoot", "runAsNonRoot", func(s *corev1.PodSpec) {
			s.SecurityContext.RunAsNonRoot = nil
			for i := range s.Containers {
				s.Containers[i].SecurityContext.RunAsNonRoot = nil
			}
		}},
		{"without a seccomp profile", "seccompProfile", func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = nil
			for i := range s.Containers {
				s.Containers[i].SecurityContext.SeccompProfile = nil
			}
		}},
	} {
		err := dryRun(c.mutate)
		require.Error(t, err, c.name)
		require.True(t, apierrors.IsForbidden(err), "%s: %v", c.name, err)
		require.Contains(t, err.Error(), `violates PodSecurity "restricted:latest"`, c.name)
		require.Contains(t, err.Error(), c.want, c.name)
		t.Logf("%s: %v", c.name, err)
	}
}
