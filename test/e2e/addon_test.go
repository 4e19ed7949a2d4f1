//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	traitDefinitions = schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "traitdefinitions"}
	stepDefinitions  = schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "workflowstepdefinitions"}
	packages         = schema.GroupVersionResource{Group: "cue.oam.dev", Version: "v1alpha1", Resource: "packages"}
)

// addonObjects lists which of the addon's cluster objects exist.
func (e *env) addonObjects() []string {
	ctx := context.Background()
	var found []string
	check := func(gvr schema.GroupVersionResource, namespace, name string) {
		_, err := e.dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			found = append(found, gvr.Resource+"/"+name)
		} else if !apierrors.IsNotFound(err) {
			e.t.Fatalf("get %s %s: %v", gvr.Resource, name, err)
		}
	}
	for _, n := range []string{"rollout", "canary-traffic", "istio-gateway"} {
		check(traitDefinitions, "vela-system", n)
	}
	for _, n := range []string{"canary-rollout", "canary-rollback"} {
		check(stepDefinitions, "vela-system", n)
	}
	check(packages, "vela-system", "istio-canary")
	// The provider's identity, in both modes.
	check(schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "vela-system", "istio-canary-provider")
	check(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, "", "istio-canary-provider")
	check(schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, "", "istio-canary-provider")
	return found
}

var allAddonObjects = []string{
	"traitdefinitions/rollout", "traitdefinitions/canary-traffic", "traitdefinitions/istio-gateway",
	"workflowstepdefinitions/canary-rollout", "workflowstepdefinitions/canary-rollback",
	"packages/istio-canary",
	"serviceaccounts/istio-canary-provider", "clusterroles/istio-canary-provider", "clusterrolebindings/istio-canary-provider",
}

// TestAddonEnableAndDisable: enabling installs the definitions and the
// Package; disabling removes them all; the in-cluster mode (no
// providerEndpoint) installs the provider with least privilege.
func TestAddonEnableAndDisable(t *testing.T) {
	e := newEnv(t)
	e.deleteApp(e.ns, app)
	e.addonUp()
	require.ElementsMatch(t, allAddonObjects, e.addonObjects())

	e.run("vela", "addon", "disable", "istio-canary", "--yes")
	e.eventually(2*time.Minute, "the addon's objects to be removed", func() (bool, string) {
		left := e.addonObjects()
		return len(left) == 0, fmt.Sprint(left)
	})

	// In-cluster mode: the provider Deployment, its Service and identity,
	// and the Package pointing at the Service.
	e.run("vela", "addon", "enable", e.stageAddon(), "--yes")
	defer e.addonUp()
	require.ElementsMatch(t, allAddonObjects, e.addonObjects())
	ctx := context.Background()
	_, err := e.kube.AppsV1().Deployments("vela-system").Get(ctx, "istio-canary-provider", metav1.GetOptions{})
	require.NoError(t, err, "the in-cluster provider Deployment")
	_, err = e.kube.CoreV1().Services("vela-system").Get(ctx, "istio-canary-provider", metav1.GetOptions{})
	require.NoError(t, err, "the provider Service")
	pkg, err := e.dyn.Resource(packages).Namespace("vela-system").Get(ctx, "istio-canary", metav1.GetOptions{})
	require.NoError(t, err)
	endpoint, _, _ := unstructured.NestedString(pkg.Object, "spec", "provider", "endpoint")
	require.Equal(t, "http://istio-canary-provider.vela-system.svc:8080", endpoint)

	sa := "system:serviceaccount:vela-system:istio-canary-provider"
	for _, c := range []struct {
		verb, resource, namespace string
		allowed                   bool
	}{
		{"get", "deployments.apps", "default", true},
		{"patch", "deployments.apps", "default", true},
		{"delete", "deployments.apps", "default", false},
		{"create", "deployments.apps", "default", false},
		{"get", "virtualservices.networking.istio.io", "default", true},
		{"patch", "virtualservices.networking.istio.io", "default", false},
		{"list", "applicationrevisions.core.oam.dev", "default", true},
		{"update", "applications.core.oam.dev", "default", false},
		{"get", "secrets", "default", false},
		{"get", "secrets", "vela-system", false},
		{"create", "secrets", "vela-system", false},
	} {
		out, _ := e.try("kubectl", "auth", "can-i", c.verb, c.resource, "-n", c.namespace, "--as", sa)
		require.Equal(t, c.allowed, strings.TrimSpace(out) == "yes", "%s %s in %s: %s", c.verb, c.resource, c.namespace, out)
	}

	e.run("vela", "addon", "disable", "istio-canary", "--yes")
	e.eventually(2*time.Minute, "the in-cluster provider to be removed", func() (bool, string) {
		_, err := e.kube.AppsV1().Deployments("vela-system").Get(ctx, "istio-canary-provider", metav1.GetOptions{})
		left := e.addonObjects()
		return apierrors.IsNotFound(err) && len(left) == 0, fmt.Sprint(err, left)
	})
}

// stageAddon copies the addon's files into a directory named istio-canary
// (vela names an addon after its directory), as hack/addon.sh does, and
// returns it.
func (e *env) stageAddon() string {
	e.t.Helper()
	return strings.TrimSpace(e.run("hack/addon.sh", "stage", e.t.TempDir()))
}
