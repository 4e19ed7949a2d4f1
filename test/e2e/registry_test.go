//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// localRegistry is the Helm addon registry hack/addon.sh serves the tree's
// package from.
const localRegistry = "istio-canary-local"

// TestAddonFromRegistry: hack/addon.sh up, which every test runs first,
// enables the addon as users do, from a Helm addon registry (the package of
// `vela addon package`, served on 127.0.0.1), so the other end-to-end flows,
// bookinfo's first, run on the packaged addon. vela records where the addon
// came from and its version, and lists it with the registry's versions.
func TestAddonFromRegistry(t *testing.T) {
	e := newEnv(t)
	// It only reads, so it runs with the other parallel tests, after the
	// sequential ones that disable and enable the addon.
	t.Parallel()
	e.addonUp()
	version := addonVersion(t, e.root)

	addon, err := e.dyn.Resource(applications).Namespace("vela-system").Get(context.Background(), "addon-istio-canary", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, localRegistry, addon.GetLabels()["addons.oam.dev/registry"], "the registry the addon was enabled from")
	require.Equal(t, version, addon.GetLabels()["addons.oam.dev/version"])

	out := e.run("vela", "addon", "registry", "get", localRegistry)
	require.Regexp(t, `(?m)^`+localRegistry+`\s+Helm\s+http://127\.0\.0\.1:\d+\s*$`, out)
	out = e.run("vela", "addon", "list")
	require.Regexp(t, `(?m)^istio-canary\s+`+localRegistry+`\s+.*\[`+regexp.QuoteMeta(version)+`\]\s+enabled \(`+regexp.QuoteMeta(version)+`\)`, out)
	require.Equal(t, "addon-istio-canary", e.definitionOwner(traitDefinitions, "rollout"))
}

// TestAddonNameClash: another addon owns a definition named like one of
// ours (the catalog's rollout addon owns a rollout trait; a fake one from
// testdata stands in for it). vela refuses either addon while the other
// owns the name, changes nothing, and its message names the owning addon
// (vela v1.11; v1.10 names the addon being enabled instead, see
// clashOwnerNamed) and --override-definitions; README, "Name clashes",
// gives the options. The test leaves istio-canary enabled as it found it.
func TestAddonNameClash(t *testing.T) {
	e := newEnv(t)
	e.deleteApp(e.ns, app)
	e.addonUp()
	fake := filepath.Join(e.root, "test", "e2e", "testdata", "clash", "rollout")
	provider := e.providerURL()

	// istio-canary first: enabling the other addon is refused.
	out, err := e.try("vela", "addon", "enable", fake)
	require.Error(t, err, "enabling the fake rollout addon over istio-canary's trait:\n%s", out)
	require.Contains(t, out, "definition: rollout in this addon already exist in "+clashOwnerNamed("istio-canary", "rollout"))
	require.Equal(t, "addon-istio-canary", e.definitionOwner(traitDefinitions, "rollout"))

	// The other addon first, as on a cluster that runs the catalog's.
	e.run("vela", "addon", "disable", "istio-canary", "--yes")
	t.Cleanup(e.restoreAfterClash)
	e.eventually(2*time.Minute, "istio-canary's objects to be removed", func() (bool, string) {
		left := e.addonObjects()
		return len(left) == 0, fmt.Sprint(left)
	})
	e.run("vela", "addon", "enable", fake)
	require.Equal(t, "addon-rollout", e.definitionOwner(traitDefinitions, "rollout"))

	// What the README tells users to run.
	out, err = e.try("vela", "addon", "enable", "istio-canary", "providerEndpoint="+provider)
	require.Error(t, err, "enabling istio-canary over the rollout addon's trait:\n%s", out)
	require.Contains(t, out, "definition: rollout in this addon already exist in "+clashOwnerNamed("rollout", "istio-canary"))
	require.Contains(t, out, "--override-definitions")
	require.Equal(t, "addon-rollout", e.definitionOwner(traitDefinitions, "rollout"), "the other addon's trait is left alone")
	require.Equal(t, []string{"traitdefinitions/rollout"}, e.addonObjects(), "of istio-canary's names, only the other addon's trait")
	_, err = e.dyn.Resource(applications).Namespace("vela-system").Get(context.Background(), "addon-istio-canary", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "no addon Application: %v", err)
}

// clashOwnerNamed is the addon vela's clash message names: the owner of the
// definition on vela v1.11, the addon being enabled on v1.10 (its message
// used the enabling addon's name), which `make test-compat` runs.
func clashOwnerNamed(owner, enabling string) string {
	if os.Getenv("ISTIO_CANARY_VELA_TOOLS") == "vela-1.10" {
		return enabling
	}
	return owner
}

// restoreAfterClash disables the fake addon and enables istio-canary again
// with hack/addon.sh up, which also restarts the provider: disabling the
// addon deleted its ServiceAccount, and with it the provider's token.
func (e *env) restoreAfterClash() {
	e.t.Helper()
	// try, not run: the test may have failed before the fake was enabled.
	out, err := e.try("vela", "addon", "disable", "rollout", "--yes")
	e.t.Logf("vela addon disable rollout: %v\n%s", err, out)
	e.eventually(time.Minute, "the fake addon's rollout trait to be removed", func() (bool, string) {
		owner := e.definitionOwner(traitDefinitions, "rollout")
		return owner != "addon-rollout", owner
	})
	e.addonUp()
	require.ElementsMatch(e.t, allAddonObjects, e.addonObjects())
	require.Equal(e.t, "addon-istio-canary", e.definitionOwner(traitDefinitions, "rollout"))
}

// definitionOwner is the name of the Application that controls a
// definition in vela-system (an addon's is addon-<name>), "" when the
// definition does not exist.
func (e *env) definitionOwner(gvr schema.GroupVersionResource, name string) string {
	e.t.Helper()
	def, err := e.dyn.Resource(gvr).Namespace("vela-system").Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	}
	require.NoError(e.t, err)
	owner := metav1.GetControllerOf(def)
	require.NotNil(e.t, owner, "%s %s has no controller", gvr.Resource, name)
	require.Equal(e.t, "Application", owner.Kind, "the controller of %s %s", gvr.Resource, name)
	return owner.Name
}

func addonVersion(t *testing.T, root string) string {
	t.Helper()
	var meta struct {
		Version string `json:"version"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readFile(t, filepath.Join(root, "metadata.yaml"))), &meta))
	require.NotEmpty(t, meta.Version)
	return meta.Version
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
