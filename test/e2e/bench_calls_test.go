//go:build e2e && bench

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/stretchr/testify/require"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/test/cluster"
)

// callPeriod paces the calls. The provider's clients have client-go's
// default rate limit (5 requests a second, bursts of 10, per client),
// shared with the calls the waiting step makes meanwhile, and the
// baseline's clients copy it. One call and its baseline per period keeps
// both under it: at 0.8 s, with the rollback step's own calls, a scale
// took 0.8 s at the median, which was the limiter's wait, not the call.
const callPeriod = 1500 * time.Millisecond

// benchProviderCalls times plan and scale calls that the provider accepts,
// in two steady states where an accepted call writes nothing, against the
// same reads made with client-go: the objects each call reads, one after
// the other as the provider reads them, with the provider's kubeconfig
// (its ServiceAccount, client-go's default settings).
func benchProviderCalls(e *env) {
	t := e.t
	n := benchInt(t, "ISTIO_CANARY_BENCH_CALLS", 100)
	e.setupBookinfo(nil)
	e.rolloutFirstBatch()
	base := e.providerClients()
	component := func(d string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := base.kube.AppsV1().Deployments(e.ns).Get(ctx, d, metav1.GetOptions{})
			return err
		}
	}
	// What plan reads: the Application (authorize), the rendered
	// version's Deployment (a takeover check), the component's Deployments,
	// its VirtualService and DestinationRule.
	planReads := []func(context.Context) error{
		func(ctx context.Context) error {
			_, err := base.dyn.Resource(applications).Namespace(e.ns).Get(ctx, app, metav1.GetOptions{})
			return err
		},
		component("reviews-v2"),
		func(ctx context.Context) error {
			_, err := base.kube.AppsV1().Deployments(e.ns).List(ctx, metav1.ListOptions{LabelSelector: contract.LabelAppName + "=" + app + "," + contract.LabelComponent + "=reviews"})
			return err
		},
		func(ctx context.Context) error {
			_, err := base.istio.NetworkingV1().VirtualServices(e.ns).Get(ctx, "reviews", metav1.GetOptions{})
			return err
		},
		func(ctx context.Context) error {
			_, err := base.istio.NetworkingV1().DestinationRules(e.ns).Get(ctx, "reviews", metav1.GetOptions{})
			return err
		},
	}

	// plan: at the approval, the step after it (rollout-rest) may plan; its
	// plan reads and answers what it would apply, and writes nothing.
	before := e.replicasOf("reviews-v1", "reviews-v2")
	plan := e.callParams("rollout", "rollout-rest", map[string]any{
		"batchPartition":  1,
		"weightedTargets": []map[string]any{{"revision": "reviews-v2", "weight": 100}},
	})
	e.timeCalls(n, "plan", plan, func(reply map[string]any) bool { return reply["planned"] == true && reply["done"] == false }, planReads)
	require.Equal(t, before, e.replicasOf("reviews-v1", "reviews-v2"), "a plan writes nothing")
	w, _ := e.weights(e.ns, "reviews")
	require.Equal(t, "map[v1:90 v2:10]", fmt.Sprint(w), "a plan writes nothing")

	// scale: a rollback from 90/10 with the node cordoned. The step sends
	// the traffic back, retires reviews-v2 to 0 and waits for reviews-v1's
	// second instance, which cannot be scheduled; meanwhile its plan keeps
	// retiring reviews-v2 to 0 now, so that scale is accepted and finds
	// nothing to write.
	e.run("kubectl", "cordon", cluster.FakeNodeName)
	t.Cleanup(func() { _, _ = e.try("kubectl", "uncordon", cluster.FakeNodeName) })
	e.apply("examples/bookinfo/rollback.yaml")
	e.waitStep("rollback", "running")
	e.eventually(2*time.Minute, "all traffic on reviews-v1, reviews-v2 at 0, reviews-v1 waiting for its second instance", func() (bool, string) {
		r1, ready1, _ := e.deployment(e.ns, "reviews-v1")
		r2, _, v2 := e.deployment(e.ns, "reviews-v2")
		w, _ := e.weights(e.ns, "reviews")
		return r1 == 2 && ready1 == 1 && v2 && r2 == 0 && fmt.Sprint(w) == "map[v1:100]",
			fmt.Sprintf("reviews-v1 %d/%d, reviews-v2 exists=%v wants %d, weights %v", ready1, r1, v2, r2, w)
	})
	scale := e.callParams("rollback", "rollback", map[string]any{"name": "reviews-v2", "replicas": 0})
	// What scale reads: plan's reads, then the Deployment it scales.
	e.timeCalls(n, "scale", scale, func(reply map[string]any) bool { return reply["done"] == true && reply["changed"] == false },
		append(planReads, component("reviews-v2")))
	e.waitStep("rollback", "running") // still waiting: the calls changed nothing
}

// baseClients are client-go clients built as the provider builds its own.
type baseClients struct {
	kube  kubernetes.Interface
	istio istioclient.Interface
	dyn   dynamic.Interface
}

func (e *env) providerClients() baseClients {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(e.root, ".cluster", "provider.kubeconfig"))
	require.NoError(e.t, err)
	var c baseClients
	c.kube, err = kubernetes.NewForConfig(cfg)
	require.NoError(e.t, err)
	c.istio, err = istioclient.NewForConfig(cfg)
	require.NoError(e.t, err)
	c.dyn, err = dynamic.NewForConfig(cfg)
	require.NoError(e.t, err)
	return c
}

// callParams is what the step of that action and name sends for reviews:
// the rendered workload (the live reviews-v2, as the owner wrote it), the
// rollout trait's properties, and the extra fields.
func (e *env) callParams(action, step string, extra map[string]any) []byte {
	d, err := e.kube.AppsV1().Deployments(e.ns).Get(context.Background(), "reviews-v2", metav1.GetOptions{})
	require.NoError(e.t, err)
	workload, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	require.NoError(e.t, err)
	delete(workload, "status")
	workload["apiVersion"], workload["kind"] = "apps/v1", "Deployment"
	workload["metadata"] = map[string]any{"name": d.Name, "namespace": d.Namespace, "labels": d.Labels, "annotations": d.Annotations}
	params := map[string]any{
		"namespace": e.ns, "app": app, "component": "reviews", "action": action,
		"step": step, "revision": e.appRevision(e.ns, app),
		"workload":   workload,
		"rollout":    map[string]any{"targetSize": 2, "rolloutBatches": []map[string]any{{"replicas": 1}, {"replicas": 1}}},
		"components": []string{"reviews"},
		"traffic":    map[string]any{"port": 9080},
	}
	for k, v := range extra {
		params[k] = v
	}
	raw, err := json.Marshal(params)
	require.NoError(e.t, err)
	return raw
}

// timeCalls makes n calls of the provider's function with body, each
// checked by accepted, and n runs of the baseline reads, interleaved and
// paced, after a few of each to warm up; it records p50 and p99 of both.
func (e *env) timeCalls(n int, function string, body []byte, accepted func(map[string]any) bool, reads []func(context.Context) error) {
	t := e.t
	providerURL := e.providerURL()
	client := &http.Client{Timeout: 30 * time.Second}
	call := func() time.Duration {
		start := time.Now()
		resp, err := client.Post(providerURL+"/"+function, "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		require.NoError(t, err)
		var reply map[string]any
		require.NoError(t, json.Unmarshal(raw, &reply), "%s", raw)
		require.True(t, accepted(reply), "the provider did not accept the %s call: %s", function, raw)
		return took
	}
	baseline := func() time.Duration {
		ctx := context.Background()
		start := time.Now()
		for _, read := range reads {
			require.NoError(t, read(ctx))
		}
		return time.Since(start)
	}
	var provider, direct []time.Duration
	for i := range n + 5 {
		next := time.Now().Add(callPeriod)
		p, b := call, baseline
		if i%2 == 1 { // neither side always goes first
			p, b = baseline, call
		}
		d1, d2 := p(), b()
		if i%2 == 1 {
			d1, d2 = d2, d1
		}
		if i >= 5 {
			provider, direct = append(provider, d1), append(direct, d2)
		}
		time.Sleep(time.Until(next))
	}
	for _, q := range []float64{50, 99} {
		pv, bv := percentile(provider, q), percentile(direct, q)
		e.record(benchRow{
			figure:   fmt.Sprintf("1. `%s` over HTTP, p%.0f (%d accepted calls)", function, q, n),
			measured: millis(pv),
			baseline: fmt.Sprintf("%s (%d client-go reads)", millis(bv), len(reads)),
			ratio:    ratio(pv, bv),
			goal:     "≤ 2×",
			note:     verdict(float64(pv) <= 2*float64(bv)),
		})
	}
}
