//go:build e2e && faults

package e2e

// The fault matrix (`make test-faults`): a release of bookinfo's reviews
// while a part of the control plane dies, a human edits what the canary
// holds, a new version arrives, another namespace releases the same
// component, or the Application goes away. Each test ends in the state its
// flow wants, and the traffic sampler's invariants (weights add up to 100,
// no weight on a version without a ready instance) hold at every sampled
// moment, except right after a hand edit that itself breaks one, until the
// release mends it.
//
// The tests that stop a process of the control plane (or cordon its node to
// hold a step) run first, one at a time; the others in parallel after them,
// each in a namespace of its own.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	istioapi "istio.io/api/networking/v1alpha3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/test/cluster"
)

// TestFaultProviderKilledMidStep: the provider dies (SIGKILL) while the
// first canary step waits for reviews-v2's instance and comes back a little
// later; vela's retries of the step carry the release on to 90/10, then to
// 100% on resume.
func TestFaultProviderKilledMidStep(t *testing.T) {
	e := setupBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.duringFirstStep(func() {
		e.killProvider()
		e.uncordon()
		e.waitMessage("/ping", "connection refused")
		e.addonUp()
	})
	e.suspendedAtFirstBatch()
	e.resumeToV2()
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestFaultProviderDownPastRetries: the provider stays down until vela stops
// retrying the step. The workflow says why; once the provider is back,
// running the workflow again finishes the release.
func TestFaultProviderDownPastRetries(t *testing.T) {
	e := setupBookinfo(t)
	watch := e.watchTraffic("reviews")
	var down time.Duration
	e.duringFirstStep(func() {
		e.killProvider()
		killed := time.Now()
		e.uncordon()
		e.waitPhase(e.ns, app, "workflowFailed", 5*time.Minute)
		down = time.Since(killed)
	})
	msg := strings.Join(messages(e.appObject()), " | ")
	t.Logf("the workflow failed %.0fs after the provider died: %s", down.Seconds(), msg)
	// vela's message for a failed call carries the call's value: the ping
	// that goes first keeps it to a few lines, the address in the first.
	require.Contains(t, msg, "function call error for provider.reachable", "the failure names the provider call")
	require.Regexp(t, `Post "http://127\.0\.0\.1:\d+/ping": dial tcp .*connection refused`, msg, "and says where it could not be reached")
	require.Less(t, strings.Count(msg, "\n"), 15, "a message of a few lines, not the plan call's value")
	e.addonUp()
	e.run("vela", "workflow", "restart", app, "-n", e.ns)
	e.suspendedAtFirstBatch()
	e.resumeToV2()
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestFaultVelaCoreRestartedMidStep: vela-core stops while the first step
// waits, the instance becomes ready meanwhile, and vela-core starts again.
func TestFaultVelaCoreRestartedMidStep(t *testing.T) {
	e := setupBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.duringFirstStep(func() {
		require.NoError(t, e.c.Stop("vela-core"))
		e.uncordon()
		e.eventually(time.Minute, "reviews-v2's instance ready while vela-core is down", func() (bool, string) {
			_, ready, _ := e.deployment(e.ns, "reviews-v2")
			return ready == 1, fmt.Sprintf("%d ready", ready)
		})
		e.startAgain("vela-core")
	})
	e.suspendedAtFirstBatch()
	e.resumeToV2()
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestFaultAPIServerRestartedMidStep: kube-apiserver and etcd stop while
// the first step waits and start again once the provider has seen them go.
func TestFaultAPIServerRestartedMidStep(t *testing.T) {
	e := setupBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.duringFirstStep(func() {
		require.NoError(t, e.c.Stop("kube-apiserver", "etcd"))
		e.eventually(time.Minute, "the provider to find the API server gone", func() (bool, string) {
			err := e.providerReady()
			return err != nil, "still ready"
		})
		e.startAgain("etcd", "kube-apiserver")
		e.uncordon()
	})
	e.suspendedAtFirstBatch()
	e.resumeToV2()
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestFaultHandEditedWeightsWhileSuspended: 50/50 by hand at the approval;
// the release still ends at 100% on v2.
func TestFaultHandEditedWeightsWhileSuspended(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.rolloutFirstBatch()
	e.editRoute(func(w map[string]int32) { w["v1"], w["v2"] = 50, 50 })
	e.resumeToV2()
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestFaultHandEditedSubsetsWhileSuspended: v2's subset deleted by hand at
// the approval; the release puts it back and ends at 100% on v2.
func TestFaultHandEditedSubsetsWhileSuspended(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.rolloutFirstBatch()
	ctx := context.Background()
	dr, err := e.istio.NetworkingV1().DestinationRules(e.ns).Get(ctx, "reviews", metav1.GetOptions{})
	require.NoError(t, err)
	dr.Spec.Subsets = slices.DeleteFunc(dr.Spec.Subsets, func(s *istioapi.Subset) bool { return s.GetName() == "v2" })
	_, err = e.istio.NetworkingV1().DestinationRules(e.ns).Update(ctx, dr, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"v1"}, e.subsets(e.ns, "reviews"))
	e.resumeToV2()
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestFaultStableScaledToZeroThenRollback: the stable version scaled to 0 by
// hand at the approval (90% of the traffic now goes nowhere); the rollback
// brings its instances back before it moves the traffic onto them.
func TestFaultStableScaledToZeroThenRollback(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.rolloutFirstBatch()
	watch.tolerateUntilMended()
	e.run("kubectl", "-n", e.ns, "scale", "deployment/reviews-v1", "--replicas=0")
	e.waitBroken(watch)
	e.apply("examples/bookinfo/rollback.yaml")
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2}, "map[v1:100]")
	require.Equal(t, []string{"v1"}, e.subsets(e.ns, "reviews"))
	require.Empty(t, watch.stop(), "traffic invariants once the rollback had mended the hand edit")
}

// TestFaultCanaryDeletedWhileSuspended: the canary's Deployment deleted by
// hand at the approval (10% of the traffic goes nowhere); resuming creates
// it again and finishes the release.
func TestFaultCanaryDeletedWhileSuspended(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.rolloutFirstBatch()
	watch.tolerateUntilMended()
	require.NoError(t, e.kube.AppsV1().Deployments(e.ns).Delete(context.Background(), "reviews-v2", metav1.DeleteOptions{}))
	e.waitBroken(watch)
	e.resumeToV2()
	require.Empty(t, watch.stop(), "traffic invariants once the release had mended the hand edit")
}

// TestFaultNewVersionWhileSuspended: v3 applied while v2 waits at 10%. The
// new release canaries v3 against the stable v1; once v3's instance is
// ready, v2 loses its traffic and is scaled to 0 at once, and its
// Deployment goes with vela's garbage collection of the old revision when
// the workflow succeeds.
func TestFaultNewVersionWhileSuspended(t *testing.T) {
	e := isolatedBookinfo(t)
	watch := e.watchTraffic("reviews")
	e.rolloutFirstBatch()
	before := e.appRevision(e.ns, app)
	e.applyExampleIn(e.ns, "rollout-v2.yaml", func(a map[string]any) {
		component(a, "reviews")["properties"].(map[string]any)["image"] = reviewsV1Image
		useStableAndCanary(a)
	})
	// The Application is suspended already, by v2's run: wait for v3's.
	e.eventually(3*time.Minute, "the new release's run at the approval", func() (bool, string) {
		rev := e.appRevision(e.ns, app)
		phase, _ := e.appPhase(e.ns, app)
		return rev != before && phase == "workflowSuspending", rev + " " + phase
	})
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 0, "reviews-v3": 1}, "map[v1:90 v3:10]")
	replicas, _, _ := e.deployment(e.ns, "reviews-v2")
	require.Zero(t, replicas, "the overtaken canary keeps no instance")
	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v3": 2}, "map[v3:100]")
	require.Equal(t, []string{"v3"}, e.subsets(e.ns, "reviews"))
	require.Empty(t, watch.stop(), "traffic invariants")
}

// TestFaultSameComponentInTwoNamespaces: two Applications named alike, each
// with a reviews component, release at once in two namespaces; one goes on,
// the other rolls back, and neither touches the other.
func TestFaultSameComponentInTwoNamespaces(t *testing.T) {
	e := isolatedBookinfo(t)
	other := newEnv(t)
	other.ns = testNamespace(t, e.kube)
	other.setupBookinfo(nil)
	watches := []*trafficWatch{e.watchTraffic("reviews"), other.watchTraffic("reviews")}

	e.apply("examples/bookinfo/rollout-v2.yaml")
	other.apply("examples/bookinfo/rollout-v2.yaml")
	for _, x := range []*env{e, other} {
		x.waitPhase(x.ns, app, "workflowSuspending", 3*time.Minute)
		x.waitVersions(x.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]")
	}
	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	other.apply("examples/bookinfo/rollback.yaml")
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	other.waitPhase(other.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	other.waitVersions(other.ns, map[string]int32{"reviews-v1": 2}, "map[v1:100]")
	for _, w := range watches {
		require.Empty(t, w.stop(), "traffic invariants")
	}
}

// TestFaultApplicationDeletedMidCanary: the Application is deleted while its
// analysed canary runs at 10%; nothing of the release is left: no
// Deployment, Service, VirtualService, DestinationRule or analysis state.
func TestFaultApplicationDeletedMidCanary(t *testing.T) {
	e := isolatedBookinfo(t)
	e.healthyTelemetry()
	e.apply("examples/analysis/rollout-analysed.yaml")
	e.waitStep("analysis-10", "running")
	e.eventually(time.Minute, "the analysis state", func() (bool, string) {
		_, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(context.Background(), contract.AnalysisStateName(app), metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	e.deleteApp(e.ns, app)
	e.eventually(2*time.Minute, "nothing of book-info left", func() (bool, string) {
		left := e.leftOf(app)
		return len(left) == 0, strings.Join(left, ", ")
	})
}

// duringFirstStep applies rollout-v2 with the (only) node cordoned, so that
// the first canary step creates reviews-v2 and waits for its instance,
// which cannot be scheduled; fault runs then, and must uncordon the node.
func (e *env) duringFirstStep(fault func()) {
	e.t.Helper()
	e.run("kubectl", "cordon", cluster.FakeNodeName)
	e.t.Cleanup(func() { _, _ = e.try("kubectl", "uncordon", cluster.FakeNodeName) })
	e.apply("examples/bookinfo/rollout-v2.yaml")
	e.waitStep("rollout-1st-batch", "running")
	e.eventually(time.Minute, "reviews-v2 waiting for its instance", func() (bool, string) {
		replicas, ready, exists := e.deployment(e.ns, "reviews-v2")
		w, _ := e.weights(e.ns, "reviews")
		return exists && replicas == 1 && ready == 0 && fmt.Sprint(w) == "map[v1:100]",
			fmt.Sprintf("reviews-v2 exists=%v %d/%d, weights %v", exists, ready, replicas, w)
	})
	fault()
}

func (e *env) uncordon() {
	e.t.Helper()
	e.run("kubectl", "uncordon", cluster.FakeNodeName)
}

// suspendedAtFirstBatch waits for the approval at 90/10, one instance each.
func (e *env) suspendedAtFirstBatch() {
	e.t.Helper()
	e.waitPhase(e.ns, app, "workflowSuspending", 4*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]")
	sub := e.subsets(e.ns, "reviews")
	slices.Sort(sub)
	require.Equal(e.t, []string{"v1", "v2"}, sub)
}

// resumeToV2 approves and waits for 2 of 2 on v2 with all the traffic.
func (e *env) resumeToV2() {
	e.t.Helper()
	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	require.Equal(e.t, []string{"v2"}, e.subsets(e.ns, "reviews"))
}

// killProvider kills the provider at once (SIGKILL: no graceful shutdown).
func (e *env) killProvider() { e.signalProvider(syscall.SIGKILL) }

// providerReady asks the provider's /readyz (it checks its API connection).
func (e *env) providerReady() error {
	out, err := e.try("curl", "-fsS", "--max-time", "5", e.providerURL()+"/readyz")
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// startAgain starts stopped processes of the control plane again.
func (e *env) startAgain(names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(e.t, e.c.Start(ctx, names...))
}

func (e *env) appObject() *unstructured.Unstructured {
	e.t.Helper()
	a, err := e.app(e.ns, app)
	require.NoError(e.t, err)
	return a
}

// editRoute changes the weights of the canary's route by hand.
func (e *env) editRoute(edit func(map[string]int32)) {
	e.t.Helper()
	ctx := context.Background()
	vs, err := e.istio.NetworkingV1().VirtualServices(e.ns).Get(ctx, "reviews", metav1.GetOptions{})
	require.NoError(e.t, err)
	route := vs.Spec.Http[contract.OurRoute(vs.Spec.Http)]
	weights := map[string]int32{}
	for _, d := range route.Route {
		weights[d.Destination.Subset] = d.Weight
	}
	edit(weights)
	for _, d := range route.Route {
		d.Weight = weights[d.Destination.Subset]
	}
	_, err = e.istio.NetworkingV1().VirtualServices(e.ns).Update(ctx, vs, metav1.UpdateOptions{})
	require.NoError(e.t, err)
}

// waitBroken waits until the watch has seen the break a hand edit made.
func (e *env) waitBroken(w *trafficWatch) {
	e.t.Helper()
	e.eventually(time.Minute, "the sampler to see the hand edit's break", func() (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.tolerating != awaitBreak, "not seen yet"
	})
}

// tolerateUntilMended makes the watch ignore the violations of a break
// about to be injected by hand, until a sample shows it mended.
func (w *trafficWatch) tolerateUntilMended() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tolerating = awaitBreak
}

var resourceTrackers = schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "resourcetrackers"}

// leftOf lists what of an Application is left in the namespace.
func (e *env) leftOf(name string) []string {
	e.t.Helper()
	ctx := context.Background()
	// Everything vela or the provider made for the Application carries its name.
	selector := metav1.ListOptions{LabelSelector: contract.LabelAppName + "=" + name}
	var left []string
	deps, err := e.kube.AppsV1().Deployments(e.ns).List(ctx, selector)
	require.NoError(e.t, err)
	for _, d := range deps.Items {
		left = append(left, "deployment/"+d.Name)
	}
	svcs, err := e.kube.CoreV1().Services(e.ns).List(ctx, selector)
	require.NoError(e.t, err)
	for _, s := range svcs.Items {
		left = append(left, "service/"+s.Name)
	}
	cms, err := e.kube.CoreV1().ConfigMaps(e.ns).List(ctx, selector)
	require.NoError(e.t, err)
	for _, c := range cms.Items {
		left = append(left, "configmap/"+c.Name)
	}
	vss, err := e.istio.NetworkingV1().VirtualServices(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(e.t, err)
	for _, v := range vss.Items {
		left = append(left, "virtualservice/"+v.Name)
	}
	drs, err := e.istio.NetworkingV1().DestinationRules(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(e.t, err)
	for _, d := range drs.Items {
		left = append(left, "destinationrule/"+d.Name)
	}
	if _, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(ctx, contract.AnalysisStateName(name), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		left = append(left, fmt.Sprintf("configmap/%s (%v)", contract.AnalysisStateName(name), err))
	}
	trackers, err := e.dyn.Resource(resourceTrackers).List(ctx, metav1.ListOptions{
		LabelSelector: contract.LabelAppName + "=" + name + ",app.oam.dev/namespace=" + e.ns})
	require.NoError(e.t, err)
	for _, r := range trackers.Items {
		left = append(left, "resourcetracker/"+r.GetName())
	}
	// The namespace is the test's own: any pod is the Application's.
	pods, err := e.kube.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(e.t, err)
	for _, p := range pods.Items {
		left = append(left, "pod/"+p.Name)
	}
	return left
}
