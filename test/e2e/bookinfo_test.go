//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const app = "book-info"

var untouched = []string{"productpage", "details", "ratings"}

// TestBookinfoCanaryThenResume plays the seed's story: first deploy, canary 1
// of 2 instances with 90/10, suspend, `vela workflow resume`, 2 of 2 at 100%.
func TestBookinfoCanaryThenResume(t *testing.T) {
	e := isolatedBookinfo(t)
	others := e.generations(untouched)
	watch := e.watchTraffic("reviews")

	e.rolloutFirstBatch()

	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.eventually(2*time.Minute, "reviews-v2 2/2 with all the traffic and reviews-v1 collected", func() (bool, string) {
		r2, ready2, _ := e.deployment(e.ns, "reviews-v2")
		_, _, v1 := e.deployment(e.ns, "reviews-v1")
		w, _ := e.weights(e.ns, "reviews")
		return r2 == 2 && ready2 == 2 && !v1 && fmt.Sprint(w) == "map[v2:100]",
			fmt.Sprintf("reviews-v2 %d/%d, reviews-v1 exists=%v, weights %v, subsets %v", ready2, r2, v1, w, e.subsets(e.ns, "reviews"))
	})
	require.Equal(t, []string{"v2"}, e.subsets(e.ns, "reviews"))
	require.Equal(t, others, e.generations(untouched), "the other components must not be touched")
	require.Empty(t, watch.stop(), "traffic invariants")
	e.checkMesh("reviews", map[string]int{"v2": 100})
	e.checkGateway("productpage")
	e.checkStateKeep(map[string]int{"v2": 100})
}

// TestBookinfoRollbackFromFirstBatch rolls back from the suspended 90/10 state.
func TestBookinfoRollbackFromFirstBatch(t *testing.T) {
	e := isolatedBookinfo(t)
	others := e.generations(untouched)
	watch := e.watchTraffic("reviews")

	e.rolloutFirstBatch()
	e.checkForgedCallsRefused()

	e.apply("examples/bookinfo/rollback.yaml")
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.eventually(2*time.Minute, "reviews-v1 2/2 with all the traffic and reviews-v2 gone", func() (bool, string) {
		r1, ready1, _ := e.deployment(e.ns, "reviews-v1")
		_, _, v2 := e.deployment(e.ns, "reviews-v2")
		w, _ := e.weights(e.ns, "reviews")
		return r1 == 2 && ready1 == 2 && !v2 && fmt.Sprint(w) == "map[v1:100]",
			fmt.Sprintf("reviews-v1 %d/%d, reviews-v2 exists=%v, weights %v", ready1, r1, v2, w)
	})
	require.Equal(t, []string{"v1"}, e.subsets(e.ns, "reviews"))
	require.Equal(t, others, e.generations(untouched), "the other components must not be touched")
	require.Empty(t, watch.stop(), "traffic invariants")
	e.checkMesh("reviews", map[string]int{"v1": 100})
	e.checkStateKeep(map[string]int{"v1": 100})
	_, _, v1 := e.deployment(e.ns, "reviews-v1")
	require.True(t, v1, "reviews-v1 must survive the garbage collection after the rollback")
}

// setupBookinfo enables the addon and deploys the first version of bookinfo
// in the default namespace.
func setupBookinfo(t *testing.T) *env { return newEnv(t).setupBookinfo(nil) }

// isolatedBookinfo is setupBookinfo in a namespace of the test's own, in
// parallel with the other isolated tests.
func isolatedBookinfo(t *testing.T) *env { return newEnv(t).isolated().setupBookinfo(nil) }

// isolatedBookinfoWith is isolatedBookinfo with the first deploy changed by
// mutate.
func isolatedBookinfoWith(t *testing.T, mutate func(map[string]any)) *env {
	return newEnv(t).isolated().setupBookinfo(mutate)
}

// setupBookinfo deploys the first version of bookinfo in the test's
// namespace, changed by mutate when it is not nil.
func (e *env) setupBookinfo(mutate func(map[string]any)) *env {
	t := e.t
	t.Helper()
	e.deleteApp(e.ns, app)
	e.addonUp()
	if mutate == nil {
		e.apply("examples/bookinfo/first-deploy.yaml")
	} else {
		e.applyExampleIn(e.ns, "first-deploy.yaml", mutate)
	}
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2}, "map[v1:100]")
	replicas, _, _ := e.deployment(e.ns, "reviews-v1")
	require.Equal(t, int32(2), replicas, "reviews-v1's desired instances")
	for _, c := range untouched {
		_, ready, _ := e.deployment(e.ns, c)
		require.Equal(t, int32(1), ready, c)
	}
	e.checkMesh("reviews", map[string]int{"v1": 100})
	return e
}

// rolloutFirstBatch applies rollout-v2 and checks the suspended 90/10 state.
func (e *env) rolloutFirstBatch() {
	e.t.Helper()
	e.apply("examples/bookinfo/rollout-v2.yaml")
	e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
	e.eventually(time.Minute, "1 instance of each version, 90/10", func() (bool, string) {
		_, ready1, _ := e.deployment(e.ns, "reviews-v1")
		_, ready2, _ := e.deployment(e.ns, "reviews-v2")
		w, _ := e.weights(e.ns, "reviews")
		return ready1 == 1 && ready2 == 1 && fmt.Sprint(w) == "map[v1:90 v2:10]",
			fmt.Sprintf("reviews-v1 ready %d, reviews-v2 ready %d, weights %v", ready1, ready2, w)
	})
	sub := e.subsets(e.ns, "reviews")
	sort.Strings(sub)
	require.Equal(e.t, []string{"v1", "v2"}, sub)
	e.checkMesh("reviews", map[string]int{"v1": 90, "v2": 10})
}

// checkStateKeep forces a reconcile and a hand edit of the weights, and
// expects vela's state-keep to put the weights back.
func (e *env) checkStateKeep(want map[string]int) {
	e.t.Helper()
	ctx := context.Background()
	e.forceReconcile(e.ns, app)
	w, err := e.weights(e.ns, "reviews")
	require.NoError(e.t, err)
	require.Equal(e.t, want, w, "a forced reconcile must change nothing")

	vs, err := e.istio.NetworkingV1().VirtualServices(e.ns).Get(ctx, "reviews", metav1.GetOptions{})
	require.NoError(e.t, err)
	vs.Spec.Http[0].Route[0].Weight = 50
	_, err = e.istio.NetworkingV1().VirtualServices(e.ns).Update(ctx, vs, metav1.UpdateOptions{})
	require.NoError(e.t, err)
	e.forceReconcile(e.ns, app)
	e.eventually(2*time.Minute, "state-keep to restore the weights", func() (bool, string) {
		vs, err := e.istio.NetworkingV1().VirtualServices(e.ns).Get(ctx, "reviews", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return vs.Spec.Http[0].Route[0].Weight != 50, fmt.Sprint(vs.Spec.Http[0].Route)
	})
}

// generations identifies the running pods of each component: a component
// that was restarted or rolled gets new pods. (vela's re-dispatch under a
// new Application revision may bump a Deployment's metadata.generation
// without changing its pods; that is not a touch that users see.)
func (e *env) generations(names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		pods, err := e.kube.CoreV1().Pods(e.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.oam.dev/component=" + n})
		require.NoError(e.t, err)
		var ids []string
		for _, p := range pods.Items {
			ready := false
			for _, c := range p.Status.Conditions {
				ready = ready || (c.Type == "Ready" && c.Status == "True")
			}
			ids = append(ids, fmt.Sprintf("%s/%s ready=%v", p.Name, p.UID, ready))
		}
		sort.Strings(ids)
		out[n] = fmt.Sprint(ids)
	}
	return out
}

// trafficWatch samples a component's VirtualService while a flow runs and
// records every state that breaks an invariant: weights sum to 100, and no
// weight goes to a version without a ready instance.
type trafficWatch struct {
	stopc      chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	violations []string
	// A fault injected by hand may itself break an invariant (a version
	// that gets traffic scaled to 0): tolerating is then set until the
	// break is seen and mended (see tolerateUntilMended).
	tolerating tolerance
}

func (e *env) watchTraffic(component string) *trafficWatch {
	return e.watchTrafficIn(e.ns, component)
}

// watchTrafficIn samples the component's traffic in namespace namespace.
func (e *env) watchTrafficIn(namespace, component string) *trafficWatch {
	w := &trafficWatch{stopc: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.stopc:
				return
			case <-time.After(100 * time.Millisecond):
			}
			weights, err := e.weights(namespace, component)
			if err != nil {
				continue
			}
			var found []string
			sum := 0
			for v, wt := range weights {
				sum += wt
				if wt == 0 {
					continue
				}
				if _, ready, _ := e.deployment(namespace, component+"-"+v); ready == 0 {
					found = append(found, fmt.Sprintf("%d%% to %s-%s, which has no ready instance (weights %v)", wt, component, v, weights))
				}
			}
			if sum != 100 {
				found = append(found, fmt.Sprintf("weights add up to %d: %v", sum, weights))
			}
			w.sampled(found)
		}
	}()
	return w
}

// tolerance is where a watch stands with a break injected by hand.
type tolerance int

const (
	strict       tolerance = iota // every violation counts
	awaitBreak                    // the injected break is not seen yet
	awaitMending                  // seen; it counts from the first sound sample on
)

// sampled records one sample's violations, or none while a break injected
// by hand is tolerated.
func (w *trafficWatch) sampled(found []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.tolerating == awaitBreak && len(found) > 0:
		w.tolerating = awaitMending
	case w.tolerating == awaitMending && len(found) == 0:
		w.tolerating = strict
	case w.tolerating == strict:
		for _, v := range found {
			if len(w.violations) < 20 {
				w.violations = append(w.violations, v)
			}
		}
	}
}

func (w *trafficWatch) stop() []string {
	close(w.stopc)
	w.wg.Wait()
	return w.violations
}
