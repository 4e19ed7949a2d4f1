//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestForeignRouteSurvivesTheSeedFlow: a route that another trait puts in
// front of canary-traffic's own (a header match to another host) is left in
// place, unchanged, through the whole seed flow, while the steps move the
// weights of the route they own.
func TestForeignRouteSurvivesTheSeedFlow(t *testing.T) {
	newEnv(t).run("vela", "def", "apply", "test/e2e/testdata/debug-route.cue")
	e := isolatedBookinfoWith(t, withDebugRoute)
	want := e.foreignRoute("debug")
	require.Contains(t, want, `"x-debug"`, "the first deploy renders the debug route")

	watch := e.watchTraffic("reviews")
	e.applyExampleIn(e.ns, "rollout-v2.yaml", withDebugRoute)
	e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]")
	require.Equal(t, want, e.foreignRoute("debug"), "the debug route at 90/10")

	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	require.Equal(t, want, e.foreignRoute("debug"), "the debug route once v2 has all the traffic")
	require.Empty(t, watch.stop(), "traffic invariants")
}

// withDebugRoute adds the debug-route trait to reviews, after canary-traffic.
func withDebugRoute(a map[string]any) {
	c := component(a, "reviews")
	c["traits"] = append(c["traits"].([]any), map[string]any{
		"type":       "debug-route",
		"properties": map[string]any{"host": "ratings"},
	})
}

// foreignRoute returns the JSON of reviews' HTTP route of that name, and
// checks that it comes first.
func (e *env) foreignRoute(name string) string {
	e.t.Helper()
	vs, err := e.istio.NetworkingV1().VirtualServices(e.ns).Get(context.Background(), "reviews", metav1.GetOptions{})
	require.NoError(e.t, err)
	require.NotEmpty(e.t, vs.Spec.Http)
	require.Equal(e.t, name, vs.Spec.Http[0].Name, "the first route of reviews' VirtualService")
	raw, err := json.Marshal(vs.Spec.Http[0])
	require.NoError(e.t, err)
	return string(raw)
}
