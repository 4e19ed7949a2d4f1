//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The `vela workflow` verbs a user may type while the canary waits for
// approval at 90/10. Each test checks the end state and that the traffic
// invariants held all along.

// TestWorkflowRollbackWithoutPublishVersion: vela writes the current spec
// back, so nothing changes; the canary stays at 90/10, waiting.
func TestWorkflowRollbackWithoutPublishVersion(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.rolloutFirstBatch()

	out := e.run("vela", "workflow", "rollback", app, "-n", e.ns)
	require.Contains(t, out, "Successfully rollback workflow to the latest revision")
	e.stillAt(map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]", "workflowSuspending")
	require.Empty(t, watch.stop(), "traffic invariants")
	e.statusNextMentions("vela workflow resume book-info", "canary-rollback", "publishVersion")
}

// TestWorkflowRollbackWithPublishVersion: with app.oam.dev/publishVersion
// on every release, vela puts back the last release that succeeded (the
// first deploy): all instances and all the traffic on v1, v2 removed.
func TestWorkflowRollbackWithPublishVersion(t *testing.T) {
	// Not in parallel: vela's rollback freezes the Application, rewrites its
	// spec, status and ResourceTracker, and unfreezes it, each write retried
	// a few times on conflicts with vela-core; under the load of parallel
	// tests a write can run out of retries and leave the Application
	// frozen (vela-core then ignores it).
	e := newEnv(t).setupBookinfo(publishVersion("1"))

	watch := e.watchTraffic("reviews")
	e.applyExampleIn(e.ns, "rollout-v2.yaml", publishVersion("2"))
	e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]")
	e.statusNextMentions("vela workflow rollback book-info")

	e.run("vela", "workflow", "rollback", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2}, "map[v1:100]")
	require.Equal(t, []string{"v1"}, e.subsets(e.ns, "reviews"))
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestWorkflowTerminateThenRestart: terminate leaves the canary where it is
// (90/10, both versions ready); restart runs the workflow again from its
// first step, which finds the first batch done and waits for approval again.
func TestWorkflowTerminateThenRestart(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.rolloutFirstBatch()

	e.run("vela", "workflow", "terminate", app, "-n", e.ns)
	e.stillAt(map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]", "workflowTerminated")
	e.statusNextMentions("vela workflow restart book-info", "canary-rollback")

	e.run("vela", "workflow", "restart", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
	e.stillAt(map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]", "workflowSuspending")

	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestWorkflowRestartAndSuspendWhileSuspended: restart while suspended runs
// the workflow again to the same approval; suspend changes nothing.
func TestWorkflowRestartAndSuspendWhileSuspended(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.rolloutFirstBatch()

	e.run("vela", "workflow", "suspend", app, "-n", e.ns)
	e.stillAt(map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]", "workflowSuspending")

	e.run("vela", "workflow", "restart", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
	e.stillAt(map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]", "workflowSuspending")

	e.apply("examples/bookinfo/rollback.yaml")
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2}, "map[v1:100]")
	require.Empty(t, watch.stop(), "traffic invariants")
}

// publishVersion sets the app.oam.dev/publishVersion annotation.
func publishVersion(v string) func(map[string]any) {
	return func(a map[string]any) {
		meta := a["metadata"].(map[string]any)
		meta["annotations"] = map[string]any{"app.oam.dev/publishVersion": v}
	}
}

// stillAt checks that reviews is at the given state and phase, and stays
// there for a few reconciles: a verb that changes nothing must not let vela
// or the provider move anything either.
func (e *env) stillAt(ready map[string]int32, weights, phase string) {
	e.t.Helper()
	e.waitVersions(e.ns, ready, weights)
	e.waitPhase(e.ns, app, phase, 3*time.Minute)
	// Force reconciles and check the state after each one.
	for i := 0; i < 3; i++ {
		e.forceReconcile(e.ns, app)
		got := e.readyByDeployment(e.ns, "reviews")
		w, err := e.weights(e.ns, "reviews")
		require.NoError(e.t, err)
		require.Equal(e.t, fmt.Sprint(ready), fmt.Sprint(got), "Deployments of reviews after reconcile %d", i+1)
		require.Equal(e.t, weights, fmt.Sprint(w), "weights after reconcile %d", i+1)
		e.phaseAfterReconcile(phase, i+1)
	}
}

// phaseAfterReconcile checks the Application's phase after a forced
// reconcile. vela-core ends a reconcile that hit a transient error (a
// conflict writing the revision, say, under the load of parallel tests)
// with phase rendering and a ReconcileError condition, and retries; that is
// vela's own bookkeeping, so the check waits for the retry. Any other phase
// fails at once.
func (e *env) phaseAfterReconcile(want string, reconcile int) {
	e.t.Helper()
	// One read for the phase and the condition: the retry may end between two.
	a, err := e.app(e.ns, app)
	require.NoError(e.t, err)
	p, seen := phaseOf(a)
	if p == "rendering" && want != "rendering" {
		if reason := reconcileError(a); reason != "" {
			e.t.Logf("reconcile %d ended in vela-core's retry (%s); waiting for it", reconcile, reason)
			e.waitPhase(e.ns, app, want, time.Minute)
			return
		}
	}
	require.Equal(e.t, want, p, "phase after reconcile %d: %s", reconcile, seen)
}

// reconcileError is the message of the Application's Ready condition when
// vela-core marked its last reconcile as failed, or "" otherwise.
func reconcileError(a *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(a.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "False" && m["reason"] == "ReconcileError" {
			return fmt.Sprint(m["message"])
		}
	}
	return ""
}

// statusNextMentions checks the Next line of `istio-canary status`.
func (e *env) statusNextMentions(words ...string) {
	e.t.Helper()
	v := e.collect(e.statusClients())
	for _, w := range words {
		require.True(e.t, strings.Contains(v.Next.Text, w), "the Next line %q must mention %q", v.Next.Text, w)
	}
}
