//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// routing is what a test reads of a component's live VirtualService: its
// routes' names in order, where the match route sends, the mirror, and
// every subset any route or mirror names.
type routing struct {
	names         []string
	matchVersion  string
	mirror        string // "<subset> <percent>%", "" without
	subsetsNamed  []string
	weightedRoute map[string]int
}

func (e *env) routing(component string) routing {
	e.t.Helper()
	vs, err := e.istio.NetworkingV1().VirtualServices(e.ns).Get(context.Background(), component, metav1.GetOptions{})
	require.NoError(e.t, err)
	var r routing
	named := map[string]bool{}
	for _, h := range vs.Spec.Http {
		r.names = append(r.names, h.Name)
		for _, d := range h.Route {
			named[d.GetDestination().GetSubset()] = true
		}
		if h.Name == contract.MatchRouteName && len(h.Route) > 0 {
			r.matchVersion = h.Route[0].GetDestination().GetSubset()
		}
		if h.Mirror != nil {
			named[h.Mirror.GetSubset()] = true
			r.mirror = fmt.Sprintf("%s %v%%", h.Mirror.GetSubset(), h.GetMirrorPercentage().GetValue())
		}
	}
	r.subsetsNamed = slices.Sorted(maps.Keys(named))
	r.weightedRoute, _ = e.weights(e.ns, component)
	return r
}

// TestABTestingThenCanary plays examples/ab-testing/rollout-ab.yaml: testers
// (header or cookie) reach v2 and nobody else, with 20% of the others'
// requests mirrored to it; the 10% step keeps the tester route and the
// mirror; v3 applied in the middle leaves none of v2's routes; completion
// leaves only the weighted route.
func TestABTestingThenCanary(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")

	e.apply("examples/ab-testing/rollout-ab.yaml")
	e.waitStep("approve-ab", "suspending")
	e.eventually(time.Minute, "the tester route and the mirror", func() (bool, string) {
		r := e.routing("reviews")
		return r.matchVersion == "v2" && r.mirror == "v2 20%", fmt.Sprintf("%+v", r)
	})
	require.Equal(t, []string{contract.MatchRouteName, contract.RouteName}, e.routing("reviews").names)
	probe := e.checkMesh("reviews", map[string]int{"v1": 100})
	require.Equal(t, &meshMirror{Version: "v2", Percent: 20}, probe.IstioMirror, "the mirror in Istio's generated route")
	for _, h := range []string{"x-canary=true", "cookie=theme=dark; canary=yes"} {
		r := e.probeMesh("reviews", h)
		require.Equal(t, map[string]int{"v2": meshRequests}, r.Measured, "requests with %s", h)
		require.Zero(t, r.Failed)
	}

	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitStep("approve-10", "suspending")
	e.eventually(time.Minute, "90/10 with the tester route and the mirror kept", func() (bool, string) {
		r := e.routing("reviews")
		return fmt.Sprint(r.weightedRoute) == "map[v1:90 v2:10]" && r.matchVersion == "v2" && r.mirror == "v2 20%", fmt.Sprintf("%+v", r)
	})
	e.checkMesh("reviews", map[string]int{"v1": 90, "v2": 10})
	require.Equal(t, map[string]int{"v2": meshRequests}, e.probeMesh("reviews", "x-canary=true").Measured)

	// A new version while the A/B canary waits: the guide's rollout, with
	// another image, so its version is v3. Its first step gives no match
	// and no mirror; v2's must not survive.
	a := e.loadExampleFile("bookinfo", "rollout-v2.yaml")
	reviews := a["spec"].(map[string]any)["components"].([]any)[0].(map[string]any)
	reviews["properties"].(map[string]any)["image"] = "docker.io/istio/examples-bookinfo-reviews-v1:1.16.2"
	// The guide's steps name reviews-v2, which this rollout does not canary.
	targets(a, "rollout-1st-batch")[0].(map[string]any)["revision"] = "stable"
	targets(a, "rollout-1st-batch")[1].(map[string]any)["revision"] = "canary"
	targets(a, "rollout-rest")[0].(map[string]any)["revision"] = "canary"
	e.applyApp(a)
	e.waitStep("manual-approval", "suspending")
	e.eventually(2*time.Minute, "v3 at 10%, none of v2's routes", func() (bool, string) {
		r := e.routing("reviews")
		return fmt.Sprint(r.weightedRoute) == "map[v1:90 v3:10]" && r.matchVersion == "" && r.mirror == "" &&
			!slices.Contains(r.subsetsNamed, "v2"), fmt.Sprintf("%+v", r)
	})
	require.Equal(t, []string{contract.RouteName}, e.routing("reviews").names)
	e.checkMesh("reviews", map[string]int{"v1": 90, "v3": 10})
	require.NotContains(t, e.probeMesh("reviews", "x-canary=true").Measured, "v2", "testers no longer reach v2")

	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v3": 2}, "map[v3:100]")
	require.Equal(t, []string{contract.RouteName}, e.routing("reviews").names)
	e.checkMesh("reviews", map[string]int{"v3": 100})
	require.Empty(t, watch.stop(), "traffic invariants")
}
