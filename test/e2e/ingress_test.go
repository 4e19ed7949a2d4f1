//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// productpageRoutes is how many URI matches productpage's istio-gateway has
// in the guide's files: Istio generates one gateway route per match for
// each route of the delegate.
const productpageRoutes = 4

// canaryProductpage makes the guide's productpage a canaried component
// (canary-traffic and rollout, beside its expose and istio-gateway), at the
// given image.
func canaryProductpage(image string) func(map[string]any) {
	return func(a map[string]any) {
		p := component(a, "productpage")
		if image != "" {
			p["properties"].(map[string]any)["image"] = image
		}
		p["traits"] = append(p["traits"].([]any),
			map[string]any{"type": "canary-traffic", "properties": map[string]any{"port": []any{9080}}},
			map[string]any{"type": "rollout", "properties": map[string]any{"targetSize": 2, "rolloutBatches": []any{
				map[string]any{"replicas": 1}, map[string]any{"replicas": 1}}}})
	}
}

// productpageV2 is another productpage image: the canary.
const productpageV2 = "docker.io/istio/examples-bookinfo-productpage-v1:1.17.0"

// productpageRollout is the guide's rollout with productpage canaried too:
// its steps name stable and canary, so that they split both components
// alike, and the first one sends testers (x-canary: true) to the canary.
func productpageRollout(a map[string]any) {
	canaryProductpage(productpageV2)(a)
	targets(a, "rollout-1st-batch")[0].(map[string]any)["revision"] = "stable"
	targets(a, "rollout-1st-batch")[1].(map[string]any)["revision"] = "canary"
	targets(a, "rollout-rest")[0].(map[string]any)["revision"] = "canary"
	trafficProps(a)["match"] = []any{map[string]any{"headers": map[string]any{"x-canary": map[string]any{"exact": "true"}}}}
}

// TestIngressFollowsTheCanary plays the guide's flow with productpage, the
// component behind istio-gateway, canaried: at every stage the ingress
// gateway's routes (the gateway VirtualService's delegate, merged by Istio
// with its URI matches) carry the mesh's split and tester route, on
// Istio's generated config; the rollback restores them; resume completes
// them.
func TestIngressFollowsTheCanary(t *testing.T) {
	e := newEnv(t).isolated()
	e.deleteApp(e.ns, app)
	e.addonUp()
	e.applyExampleIn(e.ns, "first-deploy.yaml", canaryProductpage(""))
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitWeights("productpage", "map[v1:100]")
	e.checkIngress("productpage", map[string]int{"v1": 100}, false)
	watch := e.watchTraffic("productpage")

	e.applyExampleIn(e.ns, "rollout-v2.yaml", productpageRollout)
	e.waitStep("manual-approval", "suspending")
	e.waitWeights("productpage", "map[v1:90 v2:10]")
	e.checkMesh("productpage", map[string]int{"v1": 90, "v2": 10})
	e.checkIngress("productpage", map[string]int{"v1": 90, "v2": 10}, true)

	e.applyExampleIn(e.ns, "rollback.yaml", canaryProductpage(productpageV2))
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitWeights("productpage", "map[v1:100]")
	e.checkIngress("productpage", map[string]int{"v1": 100}, false)
	for _, c := range []string{"productpage", "reviews"} {
		require.Equal(t, []string{contract.RouteName}, e.routing(c).names, "the rollback removes %s's tester route", c)
	}

	// Again, to the end: 90/10 was checked above.
	e.applyExampleIn(e.ns, "rollout-v2.yaml", productpageRollout)
	e.waitStep("manual-approval", "suspending")
	e.waitWeights("productpage", "map[v1:90 v2:10]")
	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitWeights("productpage", "map[v2:100]")
	e.checkIngress("productpage", map[string]int{"v2": 100}, false)
	require.Empty(t, watch.stop(), "traffic invariants")
}

// waitWeights waits for a component's weights.
func (e *env) waitWeights(component, want string) {
	e.t.Helper()
	e.eventually(3*time.Minute, fmt.Sprintf("%s weights %s", component, want), func() (bool, string) {
		w, err := e.weights(e.ns, component)
		return err == nil && fmt.Sprint(w) == want, fmt.Sprintf("%v %v", w, err)
	})
}

// checkIngress checks the ingress gateway's routes to a canaried component
// on Istio's generated config: the delegate's weighted route has the
// weights, once per URI match of the gateway, and the tester route sends
// to the canary when tester says there is one.
func (e *env) checkIngress(component string, want map[string]int, tester bool) {
	e.t.Helper()
	r := e.checkGateway(component)
	routes := map[string]meshGatewayRoute{}
	for _, g := range r.Gateways {
		require.Equal(e.t, e.ns+"/"+contract.GatewayRoutesName(component), g.Delegate, "the gateway's routes are delegated")
		require.Equal(e.t, productpageRoutes, g.IstioRoutes, "one route per URI match of the gateway: %+v", g)
		routes[g.Route] = g
	}
	require.Equal(e.t, want, routes[contract.RouteName].Istio, "the weighted route on the gateway: %+v", r.Gateways)
	if tester {
		canary := ""
		for v := range want {
			if v != "v1" {
				canary = v
			}
		}
		require.Equal(e.t, map[string]int{canary: 100}, routes[contract.MatchRouteName].Istio, "the tester route on the gateway: %+v", r.Gateways)
	} else {
		require.NotContains(e.t, routes, contract.MatchRouteName, "no tester route on the gateway: %+v", r.Gateways)
	}
}
