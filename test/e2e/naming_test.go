//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// reviewsV1Image is a pod template bookinfo's files never give reviews: a
// third version.
const reviewsV1Image = "docker.io/istio/examples-bookinfo-reviews-v1:1.16.2"

// TestVersionNamesFollowPodTemplates: without a version property, the first
// pod template of a component is v1 and every new one the next number; a
// pod template seen before keeps its name, whether its Deployment still
// runs or only the history of the live ones remembers it; an explicit
// version wins; each namespace counts on its own.
func TestVersionNamesFollowPodTemplates(t *testing.T) {
	e := isolatedBookinfo(t)
	other := testNamespace(t, e.kube)
	e.applyExampleIn(other, "first-deploy.yaml", nil)
	e.waitPhase(other, app, "running", 3*time.Minute)
	e.waitVersions(other, map[string]int32{"reviews-v1": 2}, "map[v1:100]")

	watch := e.watchTraffic("reviews")
	seen := e.recordDeployments(e.ns, "reviews")

	// Back to v1's pod template while v1 still runs: v1, not a new name.
	e.rolloutFirstBatch()
	e.apply("examples/bookinfo/first-deploy.yaml")
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2}, "map[v1:100]")

	// v2's pod template again, v2 gone: the history on reviews-v1 names it v2.
	e.rolloutFirstBatch()
	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")

	// A third pod template: v3.
	e.applyExampleIn(e.ns, "rollout-v2.yaml", func(a map[string]any) {
		component(a, "reviews")["properties"].(map[string]any)["image"] = reviewsV1Image
		useStableAndCanary(a)
	})
	e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 1, "reviews-v3": 1}, "map[v2:90 v3:10]")
	history := e.versionHistory(e.ns, "reviews-v3")
	require.ElementsMatch(t, []string{"v1", "v2", "v3"}, keys(history), "reviews-v3's version history: %v", history)
	require.Empty(t, watch.stop(), "traffic invariants")
	require.Equal(t, []string{"reviews-v1", "reviews-v2", "reviews-v3"}, seen.stop(), "the Deployments of reviews seen in namespace %s", e.ns)

	// The other namespace counts on its own: its second pod template is v2,
	// and an explicit version wins there.
	e.applyExampleIn(other, "rollout-v2.yaml", nil)
	e.waitPhase(other, app, "workflowSuspending", 3*time.Minute)
	e.waitVersions(other, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]")
	e.run("vela", "workflow", "resume", app, "-n", other)
	e.waitPhase(other, app, "running", 3*time.Minute)
	e.waitVersions(other, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	e.applyExampleIn(other, "rollout-v2.yaml", func(a map[string]any) {
		component(a, "reviews")["properties"].(map[string]any)["image"] = reviewsV1Image
		traitProps(a, "reviews", "rollout")["version"] = "blue"
		useStableAndCanary(a)
	})
	e.waitPhase(other, app, "workflowSuspending", 3*time.Minute)
	e.waitVersions(other, map[string]int32{"reviews-v2": 1, "reviews-blue": 1}, "map[blue:10 v2:90]")
	e.deleteApp(other, app)
}

// applyExampleIn applies examples/bookinfo/<file> to namespace, changed by
// mutate when it is not nil.
func (e *env) applyExampleIn(namespace, file string, mutate func(map[string]any)) {
	e.t.Helper()
	a := e.loadExample(file)
	a["metadata"].(map[string]any)["namespace"] = namespace
	if mutate != nil {
		mutate(a)
	}
	e.applyApp(a)
}

// useStableAndCanary makes the rollout's steps name the versions by role,
// for a pod template whose version is not reviews-v2.
func useStableAndCanary(a map[string]any) {
	setTargets := func(step string, t []any) {
		stepProps(a, step)["traffic"] = map[string]any{"weightedTargets": t}
	}
	setTargets("rollout-1st-batch", []any{
		map[string]any{"revision": "stable", "weight": 90},
		map[string]any{"revision": "canary", "weight": 10},
	})
	setTargets("rollout-rest", []any{map[string]any{"revision": "canary", "weight": 100}})
}

// waitVersions waits until reviews' Deployments in namespace are exactly the
// given ones, each with that many ready instances, and its weights print as
// weights.
func (e *env) waitVersions(namespace string, ready map[string]int32, weights string) {
	e.t.Helper()
	e.eventually(3*time.Minute, fmt.Sprintf("reviews in %s: %v, weights %s", namespace, ready, weights), func() (bool, string) {
		got := e.readyByDeployment(namespace, "reviews")
		w, err := e.weights(namespace, "reviews")
		return fmt.Sprint(got) == fmt.Sprint(ready) && fmt.Sprint(w) == weights,
			fmt.Sprintf("deployments %v, weights %v %v", got, w, err)
	})
}

// readyByDeployment maps each Deployment of the component to its ready
// instances.
func (e *env) readyByDeployment(namespace, component string) map[string]int32 {
	e.t.Helper()
	deps, err := e.kube.AppsV1().Deployments(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app.oam.dev/component=" + component})
	require.NoError(e.t, err)
	out := map[string]int32{}
	for _, d := range deps.Items {
		out[d.Name] = d.Status.ReadyReplicas
	}
	return out
}

// versionHistory reads the version history a Deployment carries.
func (e *env) versionHistory(namespace, name string) map[string]string {
	e.t.Helper()
	d, err := e.kube.AppsV1().Deployments(namespace).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(e.t, err)
	raw := d.Annotations["canary.oam.dev/versions"]
	var h map[string]string
	require.NoError(e.t, json.Unmarshal([]byte(raw), &h), "annotation canary.oam.dev/versions of %s: %q", name, raw)
	return h
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// deploymentRecorder collects the names of a component's Deployments seen
// while a flow runs, to show that no unexpected version name ever appeared.
type deploymentRecorder struct {
	stopc chan struct{}
	done  chan []string
}

func (e *env) recordDeployments(namespace, component string) *deploymentRecorder {
	r := &deploymentRecorder{stopc: make(chan struct{}), done: make(chan []string, 1)}
	go func() {
		names := map[string]bool{}
		for {
			deps, err := e.kube.AppsV1().Deployments(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app.oam.dev/component=" + component})
			if err == nil {
				for _, d := range deps.Items {
					names[d.Name] = true
				}
			}
			select {
			case <-r.stopc:
				var out []string
				for n := range names {
					out = append(out, n)
				}
				sort.Strings(out)
				r.done <- out
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return r
}

func (r *deploymentRecorder) stop() []string {
	close(r.stopc)
	return <-r.done
}
