//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// badInput is an invalid change to rollout-v2.yaml and the words its failure
// message must contain (the field, and what is wrong with it).
type badInput struct {
	name   string
	mutate func(app map[string]any)
	want   []string
}

var badInputs = []badInput{
	{"weights not adding to 100", func(a map[string]any) { setWeights(a, "rollout-1st-batch", 90, 20) },
		[]string{"traffic.weightedTargets", "add up to 110"}},
	{"negative weight", func(a map[string]any) { setWeights(a, "rollout-1st-batch", 110, -10) },
		[]string{"traffic.weightedTargets[1].weight: -10 is not between 0 and 100"}},
	{"unknown revision", func(a map[string]any) {
		targets(a, "rollout-1st-batch")[1].(map[string]any)["revision"] = "reviews-v9"
	}, []string{"traffic.weightedTargets[1].revision", "reviews-v9", "reviews-v1 (stable)"}},
	{"batchPartition out of range", func(a map[string]any) { stepProps(a, "rollout-1st-batch")["batchPartition"] = 5 },
		[]string{"batchPartition", "out of range"}},
	{"batches not adding up to targetSize", func(a map[string]any) {
		traitProps(a, "reviews", "rollout")["rolloutBatches"] = []any{map[string]any{"replicas": 1}, map[string]any{"replicas": 2}}
	}, []string{"rolloutBatches", "targetSize"}},
	{"targetSize 0", func(a map[string]any) {
		p := traitProps(a, "reviews", "rollout")
		p["targetSize"] = 0
		delete(p, "rolloutBatches")
	}, []string{"targetSize"}},
	{"missing port", func(a map[string]any) { delete(traitProps(a, "reviews", "canary-traffic"), "port") },
		[]string{"port"}},
	{"bad host", func(a map[string]any) { traitProps(a, "productpage", "istio-gateway")["hosts"] = []any{"Bad_Host!"} },
		[]string{"hosts[0]", "Bad_Host!"}},
	{"unknown match kind", func(a map[string]any) {
		traitProps(a, "productpage", "istio-gateway")["match"] = []any{map[string]any{"suffix": "/x"}}
	}, []string{"match", "suffix"}},
	{"canary-rollout on a component without rollout", func(a map[string]any) {
		stepProps(a, "rollout-1st-batch")["components"] = []any{"details"}
	}, []string{"components", "details has no rollout trait"}},
	{"same version name, different pod template", func(a map[string]any) {
		traitProps(a, "reviews", "rollout")["version"] = "v1"
	}, []string{"rollout.version", `"v1"`, "different pod template"}},
	{"scaleDownDelay not a duration", func(a map[string]any) {
		traitProps(a, "reviews", "rollout")["scaleDownDelay"] = "30 seconds"
	}, []string{"scaleDownDelay", `"30 seconds" is not a duration`}},
	{"unknown request match key", func(a map[string]any) {
		trafficProps(a)["match"] = []any{map[string]any{"hedaers": map[string]any{"x-canary": map[string]any{"exact": "true"}}}}
	}, []string{"traffic.match[0]", `unknown key "hedaers"`, "headers"}},
	{"empty request match", func(a map[string]any) { trafficProps(a)["match"] = []any{map[string]any{}} },
		[]string{"traffic.match[0] is empty", "would match every request"}},
	{"mirror percent out of range", func(a map[string]any) { trafficProps(a)["mirror"] = map[string]any{"percent": 150} },
		[]string{"traffic.mirror.percent", "150", "between 0 and 100"}},
	{"request match on a component without canary-traffic", func(a map[string]any) {
		p := stepProps(a, "rollout-1st-batch")
		p["components"] = []any{"reviews", "ratings"}
		ratings := component(a, "ratings")
		ratings["traits"] = append(ratings["traits"].([]any), map[string]any{"type": "rollout", "properties": map[string]any{"targetSize": 1}})
		p["traffic"] = map[string]any{"match": []any{map[string]any{"headers": map[string]any{"x-canary": map[string]any{"exact": "true"}}}}}
	}, []string{"traffic.match", "ratings has no canary-traffic trait"}},
}

// trafficProps is the traffic property of rollout-v2.yaml's first step.
func trafficProps(app map[string]any) map[string]any {
	return stepProps(app, "rollout-1st-batch")["traffic"].(map[string]any)
}

// TestBadInputIsRejectedAndChangesNothing applies invalid updates to a running
// bookinfo: each must fail with a message naming the field, and no live
// object may change.
func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	e := isolatedBookinfo(t)
	before := e.snapshot()
	for _, bad := range badInputs {
		t.Run(bad.name, func(t *testing.T) {
			app := e.loadExample("rollout-v2.yaml")
			bad.mutate(app)
			app["metadata"].(map[string]any)["annotations"] = map[string]any{"e2e.istio-canary/case": bad.name}
			e.applyApp(app)
			e.waitMessage(bad.want...)
			require.Equal(t, before, e.snapshot(), "a rejected update must not change live objects")
		})
	}
}

// TestProviderUnreachableChangesNothing: a step that cannot reach the
// provider fails and changes nothing. It stops the provider, so it does not
// run in parallel with the others.
func TestProviderUnreachableChangesNothing(t *testing.T) {
	e := setupBookinfo(t)
	before := e.snapshot()
	e.stopProvider()
	defer e.addonUp()
	app := e.loadExample("rollout-v2.yaml")
	app["metadata"].(map[string]any)["annotations"] = map[string]any{"e2e.istio-canary/case": "unreachable"}
	e.applyApp(app)
	e.waitMessage("provider.reachable", "/ping", "connection refused")
	require.Equal(t, before, e.snapshot(), "a step that cannot reach the provider must not change live objects")
}

// stopProvider stops the provider that hack/addon.sh started.
func (e *env) stopProvider() { e.signalProvider(syscall.SIGTERM) }

// signalProvider sends sig to the provider and waits until it has exited.
func (e *env) signalProvider(sig syscall.Signal) {
	e.t.Helper()
	pid := e.providerPID()
	require.NoError(e.t, syscall.Kill(pid, sig))
	e.eventually(30*time.Second, "the provider to stop", func() (bool, string) {
		return syscall.Kill(pid, 0) != nil, "still running"
	})
}

func (e *env) loadExample(name string) map[string]any {
	e.t.Helper()
	return e.loadExampleFile("bookinfo", name)
}

// applyApp replaces the Application's spec, as `kubectl apply` of the file would.
func (e *env) applyApp(app map[string]any) {
	e.t.Helper()
	raw, err := json.Marshal(app)
	require.NoError(e.t, err)
	path := filepath.Join(e.t.TempDir(), "app.json")
	require.NoError(e.t, os.WriteFile(path, raw, 0o644))
	e.run("kubectl", "apply", "-f", path)
}

// waitMessage waits until the Application's workflow reports a message
// holding all the words.
func (e *env) waitMessage(words ...string) {
	e.t.Helper()
	e.eventually(3*time.Minute, fmt.Sprintf("a failure message with %q", words), func() (bool, string) {
		app, err := e.app(e.ns, app)
		if err != nil {
			return false, err.Error()
		}
		msgs := messages(app)
		for _, m := range msgs {
			ok := true
			for _, w := range words {
				ok = ok && strings.Contains(m, w)
			}
			if ok {
				return true, ""
			}
		}
		return false, strings.Join(msgs, " | ")
	})
}

func messages(app *unstructured.Unstructured) []string {
	var out []string
	steps, _, _ := unstructured.NestedSlice(app.Object, "status", "workflow", "steps")
	for _, s := range steps {
		if m, ok := s.(map[string]any)["message"].(string); ok && m != "" {
			out = append(out, m)
		}
	}
	conds, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any)["message"].(string); ok && m != "" {
			out = append(out, m)
		}
	}
	if m, _, _ := unstructured.NestedString(app.Object, "status", "workflow", "message"); m != "" {
		out = append(out, m)
	}
	return out
}

// snapshot records what every object the addon or vela could change in the
// namespace does: Deployment replicas and pod templates, Service, Gateway,
// VirtualService and DestinationRule specs. (Not resourceVersions: vela
// re-applies expose's Services, a PostDispatch trait, under every new
// Application revision, even one whose workflow fails, which only changes
// their revision labels.)
func (e *env) snapshot() []string {
	ctx := context.Background()
	var out []string
	add := func(kind, name string, v any) {
		raw, err := json.Marshal(v)
		require.NoError(e.t, err)
		out = append(out, fmt.Sprintf("%s/%s %s", kind, name, raw))
	}
	deps, err := e.kube.AppsV1().Deployments(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(e.t, err)
	for _, d := range deps.Items {
		add("Deployment", d.Name, []any{*d.Spec.Replicas, d.Spec.Template.Spec.Containers, d.Spec.Template.Labels})
	}
	svcs, err := e.kube.CoreV1().Services(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(e.t, err)
	for _, s := range svcs.Items {
		add("Service", s.Name, []any{s.Spec.Ports, s.Spec.Selector})
	}
	vss, err := e.istio.NetworkingV1().VirtualServices(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(e.t, err)
	for _, v := range vss.Items {
		add("VirtualService", v.Name, &v.Spec)
	}
	drs, err := e.istio.NetworkingV1().DestinationRules(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(e.t, err)
	for _, d := range drs.Items {
		add("DestinationRule", d.Name, &d.Spec)
	}
	gws, err := e.istio.NetworkingV1().Gateways(e.ns).List(ctx, metav1.ListOptions{})
	require.NoError(e.t, err)
	for _, g := range gws.Items {
		add("Gateway", g.Name, &g.Spec)
	}
	sort.Strings(out)
	return out
}

// Accessors into an Application's YAML, failing loudly on a shape change.

func component(app map[string]any, name string) map[string]any {
	for _, c := range app["spec"].(map[string]any)["components"].([]any) {
		if m := c.(map[string]any); m["name"] == name {
			return m
		}
	}
	panic("no component " + name)
}

func traitProps(app map[string]any, comp, typ string) map[string]any {
	for _, t := range component(app, comp)["traits"].([]any) {
		if m := t.(map[string]any); m["type"] == typ {
			return m["properties"].(map[string]any)
		}
	}
	panic("no trait " + typ + " on " + comp)
}

func stepProps(app map[string]any, step string) map[string]any {
	for _, s := range app["spec"].(map[string]any)["workflow"].(map[string]any)["steps"].([]any) {
		if m := s.(map[string]any); m["name"] == step {
			return m["properties"].(map[string]any)
		}
	}
	panic("no step " + step)
}

func targets(app map[string]any, step string) []any {
	return stepProps(app, step)["traffic"].(map[string]any)["weightedTargets"].([]any)
}

func setWeights(app map[string]any, step string, stable, canary int) {
	t := targets(app, step)
	t[0].(map[string]any)["weight"] = stable
	t[1].(map[string]any)["weight"] = canary
}
