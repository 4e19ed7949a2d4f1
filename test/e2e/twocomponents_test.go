//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestTwoComponentsCanariedTogether: one step canaries every component with
// a rollout trait, each with its own versions and weights.
func TestTwoComponentsCanariedTogether(t *testing.T) {
	e := newEnv(t).isolated()
	e.deleteApp(e.ns, "shop")
	e.addonUp()
	defer e.deleteApp(e.ns, "shop")
	e.apply("examples/two-components/first-deploy.yaml")
	e.waitPhase(e.ns, "shop", "running", 3*time.Minute)

	watches := []*trafficWatch{e.watchTraffic("frontend"), e.watchTraffic("backend")}
	e.apply("examples/two-components/rollout.yaml")
	e.waitPhase(e.ns, "shop", "workflowSuspending", 3*time.Minute)
	for _, c := range []string{"frontend", "backend"} {
		e.expectSplit(c, map[string]int{"v1": 80, "v2": 20}, 1, 1)
	}

	e.run("vela", "workflow", "resume", "shop", "-n", e.ns)
	e.waitPhase(e.ns, "shop", "running", 3*time.Minute)
	for _, c := range []string{"frontend", "backend"} {
		e.expectSplit(c, map[string]int{"v2": 100}, 0, 2)
	}
	for _, w := range watches {
		if v := w.stop(); len(v) > 0 {
			t.Fatalf("traffic invariants: %v", v)
		}
	}
}

// expectSplit waits for a component's weights and ready instances of v1 and v2
// (0 instances of v1: its Deployment is gone).
func (e *env) expectSplit(component string, weights map[string]int, v1, v2 int32) {
	e.t.Helper()
	e.eventually(2*time.Minute, fmt.Sprintf("%s at %v with %d/%d instances", component, weights, v1, v2), func() (bool, string) {
		_, ready1, exists1 := e.deployment(e.ns, component+"-v1")
		_, ready2, _ := e.deployment(e.ns, component+"-v2")
		w, _ := e.weights(e.ns, component)
		ok := fmt.Sprint(w) == fmt.Sprint(weights) && ready2 == v2 && (ready1 == v1 && (v1 > 0 || !exists1))
		return ok, fmt.Sprintf("weights %v, v1 ready %d (exists %v), v2 ready %d", w, ready1, exists1, ready2)
	})
	e.checkMesh(component, weights)
}
