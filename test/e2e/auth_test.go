//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/istio-canary/istio-canary/test/cluster"
)

// authEnv is set by `make test-auth`, whose cluster runs vela-core in
// authentication mode (test/cluster reads the same variable).
const authEnv = "ISTIO_CANARY_VELA_AUTH"

// appTeamRules are what a user of an app team needs in their namespace to
// run the seed's canary with vela's authentication on (withUser): vela-core
// does everything the Application's workflow does as the user who wrote the
// Application, so besides managing the Application (and patching its status:
// `vela workflow resume`), the user must be allowed what vela does to the
// objects it renders: get, create and patch them, and delete them when
// they go (the old version's Deployment after the release, everything when
// the Application is deleted). Nothing more: neither list nor watch nor
// update, no ConfigMap, no Pod. The test checks that vela-core used every
// one of these permissions on the applied objects, as the user, and was
// refused none.
var appTeamRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"core.oam.dev"}, Resources: []string{"applications"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	{APIGroups: []string{"core.oam.dev"}, Resources: []string{"applications/status"}, Verbs: []string{"patch"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: appliedVerbs},
	{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: appliedVerbs},
	{APIGroups: []string{"networking.istio.io"}, Resources: []string{"virtualservices", "destinationrules", "gateways"}, Verbs: appliedVerbs},
}

// appliedVerbs are what vela-core does, as the Application's user, to the
// objects it applies.
var appliedVerbs = []string{"get", "create", "patch", "delete"}

// appTeamClusterRules are what `vela workflow resume` needs beyond the
// namespace: it lists the Application's ResourceTrackers, which are
// cluster-scoped, to find Kruise Rollouts to resume (vela's
// pkg/rollout.getAssociatedRollouts), whatever the workflow.
var appTeamClusterRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"core.oam.dev"}, Resources: []string{"resourcetrackers"}, Verbs: []string{"get", "list"}},
}

// TestAuthSeedFlowAsAppTeamUser plays the seed's story with vela's
// authentication on: the admin enables the addon; alice, a user with a Role
// in her namespace only, applies the seed's Applications with her own
// kubeconfig and resumes the workflow with `vela workflow resume`. vela-core
// runs her workflow as her (the webhook records her in the Application), so
// the canary steps work under impersonation: 1 of 2 at 90/10, suspended,
// then 2 of 2 at 100%. The API server's audit log shows what vela-core did
// as alice, and that none of it was forbidden.
func TestAuthSeedFlowAsAppTeamUser(t *testing.T) {
	if os.Getenv(authEnv) == "" {
		t.Skipf("needs a cluster in authentication mode: make test-auth (%s=1)", authEnv)
	}
	e := newEnv(t)
	require.True(t, e.c.Auth, "the cluster in %s does not run vela-core in authentication mode", e.c.Dir)
	user := cluster.AuthUser
	kubeconfig := e.c.UserKubeconfig(user)
	require.NotEmpty(t, kubeconfig, "no kubeconfig of %s", user)
	e.ns = testNamespace(t, e.kube)
	e.addonUp()
	e.grantAppTeam(user)
	start := auditSize(t, e.c.AuditLog)

	out, err := e.tryAs(kubeconfig, "kubectl", "get", "deployments", "-n", cluster.VelaSystemNamespace)
	require.Error(t, err, "%s may read vela-system: %s", user, out)
	require.Contains(t, out, "forbidden")

	e.applyAs(kubeconfig, "first-deploy.yaml")
	e.requireAppUser(user)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2}, "map[v1:100]")

	watch := e.watchTraffic("reviews")
	e.applyAs(kubeconfig, "rollout-v2.yaml")
	e.requireAppUser(user)
	e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]")
	e.checkMesh("reviews", map[string]int{"v1": 90, "v2": 10})

	e.runAs(kubeconfig, "vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	require.Equal(t, []string{"v2"}, e.subsets(e.ns, "reviews"))
	require.Empty(t, watch.stop(), "traffic invariants")
	e.checkMesh("reviews", map[string]int{"v2": 100})
	e.requireAppUser(user)

	// Deleting the Application: vela-core collects everything, as alice.
	e.runAs(kubeconfig, "kubectl", "delete", "application", app, "-n", e.ns, "--timeout=3m")
	e.eventually(2*time.Minute, "vela to collect the Application's objects", func() (bool, string) {
		deps, err := e.kube.AppsV1().Deployments(e.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		vss, err := e.istio.NetworkingV1().VirtualServices(e.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(deps.Items) == 0 && len(vss.Items) == 0, fmt.Sprintf("%d Deployments, %d VirtualServices", len(deps.Items), len(vss.Items))
	})

	used, forbidden := impersonatedRequests(t, e.c.AuditLog, start, user)
	t.Logf("vela-core's requests as %s, by permission:", user)
	for _, p := range slices.Sorted(maps.Keys(used)) {
		t.Logf("  %5d  %s", used[p], p)
	}
	require.Empty(t, forbidden, "requests of vela-core as %s that her Role does not allow", user)
	var unused []string
	for _, rule := range appTeamRules[2:] { // the applied objects
		for _, g := range rule.APIGroups {
			for _, r := range rule.Resources {
				for _, v := range rule.Verbs {
					if p := permission(g, r, v); used[p] == 0 {
						unused = append(unused, p)
					}
				}
			}
		}
	}
	require.Empty(t, unused, "granted to %s on the applied objects but not used by vela-core as her (is it impersonating? or is the Role more than needed?)", user)
}

// grantAppTeam gives user the app team's Role in the test's namespace.
func (e *env) grantAppTeam(user string) {
	e.t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "app-team", Namespace: e.ns}, Rules: appTeamRules}
	_, err := e.kube.RbacV1().Roles(e.ns).Create(ctx, role, metav1.CreateOptions{})
	require.NoError(e.t, err)
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "app-team-" + user, Namespace: e.ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	_, err = e.kube.RbacV1().RoleBindings(e.ns).Create(ctx, binding, metav1.CreateOptions{})
	require.NoError(e.t, err)

	name := "app-team-" + user + "-" + e.ns
	clusterRole := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: appTeamClusterRules}
	_, err = e.kube.RbacV1().ClusterRoles().Create(ctx, clusterRole, metav1.CreateOptions{})
	require.NoError(e.t, err)
	clusterBinding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   binding.Subjects,
	}
	_, err = e.kube.RbacV1().ClusterRoleBindings().Create(ctx, clusterBinding, metav1.CreateOptions{})
	require.NoError(e.t, err)
	e.t.Cleanup(func() {
		_ = e.kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = e.kube.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// tryAs runs a program of the cluster as the user of kubeconfig.
func (e *env) tryAs(kubeconfig, program string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.c.Command(ctx, program, args...)
	cmd.Env = append(cmd.Env, "KUBECONFIG="+kubeconfig) // the last value wins
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runAs is tryAs that fails the test when the program fails, retrying vela's
// workflow verbs on a write conflict as run does.
func (e *env) runAs(kubeconfig, program string, args ...string) string {
	e.t.Helper()
	out, err := e.tryAs(kubeconfig, program, args...)
	for i := 0; i < 5 && err != nil && program == "vela" && strings.Contains(out, conflictMessage); i++ {
		time.Sleep(time.Second)
		out, err = e.tryAs(kubeconfig, program, args...)
	}
	require.NoError(e.t, err, "%s %s (as %s):\n%s", program, strings.Join(args, " "), kubeconfig, out)
	return out
}

// applyAs applies examples/bookinfo/<file>, in the test's namespace, with
// kubectl as the user of kubeconfig.
func (e *env) applyAs(kubeconfig, file string) {
	e.t.Helper()
	raw, err := yaml.Marshal(e.loadExample(file))
	require.NoError(e.t, err)
	path := filepath.Join(e.t.TempDir(), file)
	require.NoError(e.t, os.WriteFile(path, raw, 0o644))
	e.runAs(kubeconfig, "kubectl", "apply", "-f", path)
}

// requireAppUser checks that vela's webhook recorded user as the
// Application's user: the one vela-core impersonates.
func (e *env) requireAppUser(user string) {
	e.t.Helper()
	a, err := e.app(e.ns, app)
	require.NoError(e.t, err)
	require.Equal(e.t, user, a.GetAnnotations()["app.oam.dev/username"], "annotations %v", a.GetAnnotations())
}

func auditSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	return info.Size()
}

// impersonatedRequests reads, from offset start of the audit log, the
// requests made on behalf of user (vela-core is a ServiceAccount, so the
// audit policy records them): how many of each permission, and those
// forbidden.
func impersonatedRequests(t *testing.T, path string, start int64, user string) (map[string]int, []string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.Seek(start, 0)
	require.NoError(t, err)
	used := map[string]int{}
	var forbidden []string
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		var ev struct {
			auditEvent
			ImpersonatedUser *struct {
				Username string `json:"username"`
			} `json:"impersonatedUser"`
		}
		require.NoError(t, json.Unmarshal(lines.Bytes(), &ev))
		if ev.ImpersonatedUser == nil || ev.ImpersonatedUser.Username != user || ev.Stage != "ResponseComplete" || ev.ObjectRef == nil {
			continue
		}
		p := ev.permission()
		used[p]++
		if ev.ResponseStatus.Code == 403 {
			forbidden = append(forbidden, ev.describe())
		}
	}
	require.NoError(t, lines.Err())
	return used, forbidden
}
