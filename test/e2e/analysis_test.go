//go:build e2e

package e2e

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/internal/status"
	"github.com/istio-canary/istio-canary/providers/analysisrun"
)

// TestAnalysisPromotesAHealthyCanary: 10% → analysis → 50% → analysis →
// 100% with no human, while Prometheus sees the canary answer well.
func TestAnalysisPromotesAHealthyCanary(t *testing.T) {
	e := isolatedBookinfo(t)
	e.healthyTelemetry()
	seen := e.recordWeights("reviews")
	watch := e.watchTraffic("reviews")

	e.apply("examples/analysis/rollout-analysed.yaml")
	e.waitPhase(e.ns, app, "running", 4*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	e.checkMesh("reviews", map[string]int{"v2": 100})
	require.Empty(t, watch.stop(), "traffic invariants")
	require.Equal(t, []string{"map[v1:100]", "map[v1:90 v2:10]", "map[v1:50 v2:50]", "map[v2:100]"}, seen.stop(),
		"the weights the rollout went through")
	state := e.analysisState()
	require.Len(t, state.Analyses, 2)
	for _, a := range state.Analyses {
		require.Equal(t, "Successful", string(a.Outcome.Phase), "%s: %s", a.Step, a.Outcome.Message)
		for _, m := range a.Targets[0].Run.Metrics {
			require.Len(t, m.Measurements, 2, "%s/%s: count 2", a.Step, m.Name)
		}
	}
}

// TestAnalysisRollsBackAFailingCanary: the canary's error share rises after
// the 10% step; the analysis rolls it back by itself, and the step says
// which metric, what value and which bound. It prints the reaction time.
func TestAnalysisRollsBackAFailingCanary(t *testing.T) {
	e := isolatedBookinfo(t)
	tm := e.healthyTelemetry()
	rolledBack := e.whenWeights("reviews", "map[v1:100]", "map[v1:90 v2:10]")

	// The benchmark may let the canary pass a number of measurements
	// first, and set another interval, to show how vela's backoff of the
	// waiting step weighs.
	healthyFirst, _ := strconv.Atoi(os.Getenv("ISTIO_CANARY_BENCH_HEALTHY_MEASUREMENTS"))
	interval := os.Getenv("ISTIO_CANARY_BENCH_INTERVAL")
	if d, err := time.ParseDuration(interval); err == nil {
		tm.waitQuiet(d)
	}
	if healthyFirst == 0 && interval == "" {
		e.apply("examples/analysis/rollout-analysed.yaml")
	} else {
		a := e.loadExampleFile("analysis", "rollout-analysed.yaml")
		stepProps(a, "analysis-10")["count"] = healthyFirst + 10
		if interval != "" {
			stepProps(a, "analysis-10")["interval"] = interval
		}
		e.applyApp(a)
	}
	e.waitStep("analysis-10", "running")
	e.eventually(time.Duration(healthyFirst+2)*2*time.Minute, fmt.Sprintf("%d healthy measurements", healthyFirst), func() (bool, string) {
		cm, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(context.Background(), contract.AnalysisStateName(app), metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s, err := analysisrun.Decode(cm)
		if err != nil || len(s.Analyses) == 0 {
			return false, fmt.Sprint(err)
		}
		n := len(s.Analyses[0].Targets[0].Run.Metrics[0].Measurements)
		return n >= healthyFirst, fmt.Sprintf("%d measurements", n)
	})
	tm.set("v2", failing)

	e.waitPhase(e.ns, app, "workflowFailed", 4*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 0}, "map[v1:100]")
	e.checkMesh("reviews", map[string]int{"v1": 100})
	e.waitMessage("rolled back", "analysis-10", `metric "success-rate"`, "thresholdRange.min 99")

	reaction := rolledBack().Sub(tm.firstErrorSample("v2"))
	t.Logf("BENCHMARK analysis rollback after %d healthy measurements, interval %s: first failing sample stored in Prometheus to the VirtualService at 100%% stable: %.1fs (goal: one interval + 5s)", healthyFirst, cmp.Or(interval, "10s"), reaction.Seconds())
	if f := os.Getenv("ISTIO_CANARY_BENCH_OUT"); f != "" {
		require.NoError(t, os.WriteFile(f, []byte(fmt.Sprintf("%.2f\n", reaction.Seconds())), 0o644))
	}
}

// TestAnalysisWithoutCanaryTrafficAsksAHuman: no traffic reaches the
// canary, so the analysis cannot tell: the workflow suspends at the
// analysis with the reason, the canary is never promoted, and
// `istio-canary abort` rolls it back from there.
func TestAnalysisWithoutCanaryTrafficAsksAHuman(t *testing.T) {
	e := isolatedBookinfo(t)
	tm := e.startTelemetry()
	tm.set("v1", healthy)

	e.apply("examples/analysis/rollout-analysed.yaml")
	e.waitStep("analysis-10", "suspending")
	e.waitPhase(e.ns, app, "workflowSuspending", time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]")
	e.checkMesh("reviews", map[string]int{"v1": 90, "v2": 10})
	a := e.analysisOf("analysis-10")
	require.Equal(t, "Inconclusive", string(a.Outcome.Phase))
	require.Contains(t, a.Outcome.Message, "inconclusive")

	out := e.run("go", "run", "./cmd/istio-canary", "abort", app, "-n", e.ns)
	require.Contains(t, out, "abort")
	e.waitPhase(e.ns, app, "workflowFailed", 2*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 0}, "map[v1:100]")
	e.checkMesh("reviews", map[string]int{"v1": 100})
	e.waitMessage("rolled back", "aborted")
}

// TestBackgroundAnalysisRollsBackDuringApproval: the Argo-Rollouts shape;
// the canary fails while the workflow waits for a human, and the
// background analysis rolls it back without one.
func TestBackgroundAnalysisRollsBackDuringApproval(t *testing.T) {
	e := isolatedBookinfo(t)
	tm := e.healthyTelemetry()

	e.apply("examples/analysis/rollout-paused.yaml")
	e.waitStep("manual-approval", "suspending")
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:90 v2:10]")
	e.checkMesh("reviews", map[string]int{"v1": 90, "v2": 10})
	tm.set("v2", failing)

	e.waitPhase(e.ns, app, "workflowFailed", 2*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 0}, "map[v1:100]")
	e.checkMesh("reviews", map[string]int{"v1": 100})
	e.waitMessage("rolled back", "watch-success-rate", `metric "success-rate"`)
}

// TestAbortDuringManualApproval: `istio-canary abort` at the guide's
// approval rolls the canary back, without editing the Application.
func TestAbortDuringManualApproval(t *testing.T) {
	e := isolatedBookinfo(t)
	e.rolloutFirstBatch()
	out := e.run("go", "run", "./cmd/istio-canary", "abort", app, "-n", e.ns, "--reason", "red stars look wrong")
	require.Contains(t, out, "manual-approval")
	e.waitPhase(e.ns, app, "workflowFailed", 2*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 0}, "map[v1:100]")
	e.checkMesh("reviews", map[string]int{"v1": 100})
	e.waitMessage("rolled back", "red stars look wrong")

	_, err := e.try("go", "run", "./cmd/istio-canary", "abort", app, "-n", e.ns)
	require.Error(t, err, "nothing is left to abort once the run has ended")
}

// TestTimedPausesRunThrough: approval, then pauses of 20s that end by
// themselves, counted down by the status view, up to 100%.
func TestTimedPausesRunThrough(t *testing.T) {
	e := isolatedBookinfo(t)
	e.healthyTelemetry()

	e.apply("examples/analysis/rollout-paused.yaml")
	e.waitStep("manual-approval", "suspending")
	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitStep("pause-30", "suspending")
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 1, "reviews-v2": 1}, "map[v1:70 v2:30]")
	// The view as the command renders it, collected in process: a `go run`
	// per poll can take longer than the pause under the load of the other
	// tests (the command itself is tested in status_test.go).
	e.eventually(15*time.Second, "the status view counts the pause down", func() (bool, string) {
		v, err := status.Collect(context.Background(), e.statusClients(), e.ns, app)
		if err != nil {
			return false, err.Error()
		}
		out := status.Render(v, status.Options{})
		return strings.Contains(out, "pause-30") && strings.Contains(out, "left"), out
	})
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v2": 2}, "map[v2:100]")
	e.checkMesh("reviews", map[string]int{"v2": 100})
	bg := e.analysisOf("watch-success-rate")
	require.NotEqual(t, "Failed", string(bg.Outcome.Phase), bg.Outcome.Message)
	require.NotEmpty(t, bg.Targets[0].Run.Metrics[0].Measurements, "the background analysis measured during the pauses")
}

// TestAnalysisPrometheusDownRollsBack: Prometheus cannot be reached, so
// every measurement is an error; past consecutiveErrorLimit the canary is
// rolled back, and the message says Prometheus could not be queried.
func TestAnalysisPrometheusDownRollsBack(t *testing.T) {
	e := isolatedBookinfo(t)
	a := e.loadExampleFile("analysis", "rollout-analysed.yaml")
	p := stepProps(a, "analysis-10")
	p["prometheus"] = "http://127.0.0.1:1"
	p["interval"] = "2s"
	p["consecutiveErrorLimit"] = 2
	e.applyApp(a)
	e.waitPhase(e.ns, app, "workflowFailed", 2*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 0}, "map[v1:100]")
	e.checkMesh("reviews", map[string]int{"v1": 100})
	e.waitMessage("rolled back", "could not be measured 3 times in a row", "connection refused")
}

// TestAnalysisBadInputChangesNothing: each bad property of canary-analysis
// fails the step at once, naming the field; no live object changes.
func TestAnalysisBadInputChangesNothing(t *testing.T) {
	e := isolatedBookinfo(t)
	tm := e.startTelemetry()
	tm.set("v1", healthy)
	before := e.snapshot()
	metric := func(a map[string]any) map[string]any {
		return stepProps(a, "analysis-10")["metrics"].([]any)[0].(map[string]any)
	}
	for _, bad := range []badInput{
		{"unknown template", func(a map[string]any) { metric(a)["template"] = "request-succes-rate" },
			[]string{"metrics[0].template", "request-succes-rate"}},
		{"query Prometheus cannot parse", func(a map[string]any) {
			m := metric(a)
			delete(m, "template")
			m["query"] = `sum(rate(istio_requests_total{destination_version="{{canary}}"}[{{interval}}])) by`
		}, []string{"metrics[0].query", "Prometheus cannot run it", "parse error"}},
		{"condition that does not compile", func(a map[string]any) { metric(a)["successCondition"] = "result >=" },
			[]string{"metrics[0].successCondition"}},
		{"condition that is not boolean", func(a map[string]any) { metric(a)["successCondition"] = "result * 2" },
			[]string{"metrics[0].successCondition", "bool"}},
		{"zero interval", func(a map[string]any) { stepProps(a, "analysis-10")["interval"] = "0s" },
			[]string{"interval"}},
		{"zero count", func(a map[string]any) { stepProps(a, "analysis-10")["count"] = 0 },
			[]string{"count"}},
		{"negative count", func(a map[string]any) { stepProps(a, "analysis-10")["count"] = -1 },
			[]string{"count"}},
		{"Prometheus address without a scheme", func(a map[string]any) {
			stepProps(a, "analysis-10")["prometheus"] = "prometheus:9090"
		}, []string{"prometheus", "prometheus:9090"}},
	} {
		t.Run(bad.name, func(t *testing.T) {
			a := e.loadExampleFile("analysis", "rollout-analysed.yaml")
			// The analysis first: what it rejects, nothing else changes.
			steps := a["spec"].(map[string]any)["workflow"].(map[string]any)
			all := steps["steps"].([]any)
			steps["steps"] = all[1:]
			bad.mutate(a)
			a["metadata"].(map[string]any)["annotations"] = map[string]any{"e2e.istio-canary/case": bad.name}
			e.applyApp(a)
			e.waitMessage(bad.want...)
			require.Equal(t, before, e.snapshot(), "a rejected analysis must not change live objects")
		})
	}
}

// waitStep waits until the workflow step has the phase.
func (e *env) waitStep(step, phase string) {
	e.t.Helper()
	e.eventually(3*time.Minute, fmt.Sprintf("step %s %s", step, phase), func() (bool, string) {
		a, err := e.app(e.ns, app)
		if err != nil {
			return false, err.Error()
		}
		steps, _, _ := unstructured.NestedSlice(a.Object, "status", "workflow", "steps")
		var seen []string
		for _, s := range steps {
			m := s.(map[string]any)
			seen = append(seen, fmt.Sprintf("%v=%v (%v)", m["name"], m["phase"], m["message"]))
			if m["name"] == step && m["phase"] == phase {
				return true, ""
			}
		}
		return false, strings.Join(seen, ", ")
	})
}

// analysisState reads the analyses the provider keeps for the Application.
func (e *env) analysisState() analysisrun.State {
	e.t.Helper()
	cm, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(context.Background(), contract.AnalysisStateName(app), metav1.GetOptions{})
	require.NoError(e.t, err)
	s, err := analysisrun.Decode(cm)
	require.NoError(e.t, err)
	return s
}

func (e *env) analysisOf(step string) analysisrun.Analysis {
	e.t.Helper()
	for _, a := range e.analysisState().Analyses {
		if a.Step == step {
			return a
		}
	}
	e.t.Fatalf("no analysis of step %s", step)
	return analysisrun.Analysis{}
}

// loadExampleFile reads examples/<dir>/<name>, moved to the test's namespace.
func (e *env) loadExampleFile(dir, name string) map[string]any {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.root, "examples", dir, name))
	require.NoError(e.t, err)
	var a map[string]any
	require.NoError(e.t, yaml.Unmarshal(raw, &a))
	a["metadata"].(map[string]any)["namespace"] = e.ns
	return a
}

// weightsRecorder keeps every distinct weights value the component's route
// showed, in order.
type weightsRecorder struct {
	stopc chan struct{}
	done  chan []string
}

func (e *env) recordWeights(component string) *weightsRecorder {
	r := &weightsRecorder{stopc: make(chan struct{}), done: make(chan []string)}
	go func() {
		var seen []string
		for {
			if w, err := e.weights(e.ns, component); err == nil {
				if s := fmt.Sprint(w); len(seen) == 0 || seen[len(seen)-1] != s {
					seen = append(seen, s)
				}
			}
			select {
			case <-r.stopc:
				r.done <- seen
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return r
}

func (r *weightsRecorder) stop() []string {
	close(r.stopc)
	return <-r.done
}

// whenWeights watches the component's route and returns a function that
// waits for, and gives, the time it first showed want after it had shown
// from.
func (e *env) whenWeights(component, want, from string) func() time.Time {
	found := make(chan time.Time, 1)
	stop := make(chan struct{})
	e.t.Cleanup(func() { close(stop) })
	go func() {
		armed := false
		for {
			if w, err := e.weights(e.ns, component); err == nil {
				s := fmt.Sprint(w)
				if s == from {
					armed = true
				}
				if armed && s == want {
					found <- time.Now()
					return
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() time.Time {
		select {
		case at := <-found:
			return at
		case <-time.After(3 * time.Minute):
			e.t.Fatalf("the weights of %s never went from %s to %s", component, from, want)
			return time.Time{}
		}
	}
}
