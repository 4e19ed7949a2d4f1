//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// blueGreenDelay is the scaleDownDelay of the second release.
const blueGreenDelay = 10 * time.Second

// TestBlueGreenPreviewSwitchRollbackAndDelay plays
// examples/blue-green/rollout-blue-green.yaml twice. First: the preview (v2
// whole, reached only with the header, everyone else on v1), the switch
// (all the traffic to v2, v1 still whole), and an abort within the delay,
// which moves the traffic back to v1's very pods. Then the same release
// with a shorter delay (a new release: a restart of the aborted run would
// leave v1 among the resources of its revision, which the rollback applied
// it under), switched and left alone: v1 stays whole until the delay has
// passed since the switch, and is then removed.
func TestBlueGreenPreviewSwitchRollbackAndDelay(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	blue := e.podsOf("reviews", "v1")

	e.apply("examples/blue-green/rollout-blue-green.yaml")
	e.waitStep("approve", "suspending")
	e.previewed()

	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.switched()
	e.eventually(time.Minute, "the status view on the kept version", func() (bool, string) {
		next := e.collect(e.statusClients()).Next.Text
		return strings.Contains(next, "keeps reviews-v1 (2/2 ready) for the rollout trait's scaleDownDelay") && strings.Contains(next, "istio-canary abort"), next
	})
	e.run("go", "run", "./cmd/istio-canary", "abort", app, "-n", e.ns, "--reason", "green answers 500s")
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 0}, "map[v1:100]")
	e.waitMessage("rolled back", "green answers 500s")
	require.Equal(t, blue, e.podsOf("reviews", "v1"), "the rollback needed no new pods: v1's instances served throughout")
	e.checkMesh("reviews", map[string]int{"v1": 100})

	again := e.loadExampleFile("blue-green", "rollout-blue-green.yaml")
	traitProps(again, "reviews", "rollout")["scaleDownDelay"] = blueGreenDelay.String()
	e.applyApp(again)
	e.waitStep("approve", "suspending")
	e.previewed()
	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	completed := e.switched()
	// Every look at v1 before the delay ends must find it whole.
	e.eventually(blueGreenDelay+3*time.Minute, "reviews-v1 removed after the delay", func() (bool, string) {
		replicas, ready, exists := e.deployment(e.ns, "reviews-v1")
		if time.Now().Before(completed.Add(blueGreenDelay)) {
			require.True(t, exists && replicas == 2 && ready == 2, "reviews-v1 must stay whole until %s: replicas %d, ready %d, exists %v", completed.Add(blueGreenDelay), replicas, ready, exists)
		}
		return !exists, fmt.Sprintf("replicas %d, ready %d", replicas, ready)
	})
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	e.checkMesh("reviews", map[string]int{"v2": 100})
	require.Empty(t, watch.stop(), "traffic invariants")
}

// previewed checks the preview: both versions whole, v2 reached only with
// the header.
func (e *env) previewed() {
	e.t.Helper()
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 2}, "map[v1:100]")
	e.eventually(time.Minute, "the preview route", func() (bool, string) {
		r := e.routing("reviews")
		return r.matchVersion == "v2", fmt.Sprintf("%+v", r)
	})
	e.checkMesh("reviews", map[string]int{"v1": 100})
	require.Equal(e.t, map[string]int{"v2": meshRequests}, e.probeMesh("reviews", "x-preview=true").Measured, "requests with the header")
}

// switched waits for the switch (all the traffic to v2, the preview route
// gone, v1 still whole) and returns when it happened, as recorded.
func (e *env) switched() time.Time {
	e.t.Helper()
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 2}, "map[v2:100]")
	require.Equal(e.t, []string{contract.RouteName}, e.routing("reviews").names, "the switch drops the preview route")
	vs, err := e.istio.NetworkingV1().VirtualServices(e.ns).Get(context.Background(), "reviews", metav1.GetOptions{})
	require.NoError(e.t, err)
	at, ok := contract.CompletedAt(vs.Annotations)
	require.True(e.t, ok, "the switch time is recorded: %v", vs.Annotations)
	e.checkMesh("reviews", map[string]int{"v2": 100})
	replicas, ready, _ := e.deployment(e.ns, "reviews-v1")
	require.Equal(e.t, [2]int32{2, 2}, [2]int32{replicas, ready}, "reviews-v1 is kept whole after the switch")
	return at
}

// podsOf identifies the pods of one version of a component.
func (e *env) podsOf(component, version string) []string {
	e.t.Helper()
	pods, err := e.kube.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: contract.LabelComponent + "=" + component + "," + contract.LabelVersion + "=" + version,
	})
	require.NoError(e.t, err)
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Name+"/"+string(p.UID))
	}
	sort.Strings(out)
	return out
}
