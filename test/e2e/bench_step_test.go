//go:build e2e && bench

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/stretchr/testify/require"
)

// benchStepOverhead times, from the update of the Application to the
// creation of reviews-v2, the canary's first step (canary-rollout: render,
// plan, apply) against vela's builtin apply-component step of the same
// component, traits and update. Rounds alternate between the two, each from
// bookinfo at v1; the figure is the difference of the medians.
func benchStepOverhead(e *env) {
	rounds := benchInt(e.t, "ISTIO_CANARY_BENCH_ROUNDS", 5)
	e.setupBookinfo(nil)
	tl := e.watchTimeline(e.ns)
	var canary, planned, builtin, weights []time.Duration
	for range rounds {
		start := e.applyTimed(tl, e.loadExample("rollout-v2.yaml"))
		canary = append(canary, e.first(tl, start, "reviews-v2 created", created("reviews-v2")).Sub(start))
		planned = append(planned, e.providerPlanned(start).Sub(start))
		weights = append(weights, e.first(tl, start, "the 90/10 weights", routed("reviews", "map[v1:90 v2:10]")).Sub(start))
		e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
		e.backToV1()

		start = e.applyTimed(tl, builtinWorkflow(e.loadExample("rollout-v2.yaml")))
		builtin = append(builtin, e.first(tl, start, "reviews-v2 created", created("reviews-v2")).Sub(start))
		e.waitPhase(e.ns, app, "workflowSuspending", 3*time.Minute)
		e.backToV1()
	}
	over := median(canary) - median(builtin)
	e.record(benchRow{
		figure:   fmt.Sprintf("2. Application updated → reviews-v2 created, canary-rollout step (median of %d)", rounds),
		measured: millis(median(canary)),
		baseline: millis(median(builtin)) + " (apply-component)",
		ratio:    fmt.Sprintf("%+.0f ms", float64(over)/float64(time.Millisecond)),
		goal:     "≤ +100 ms",
		note:     verdict(over <= 100*time.Millisecond),
	})
	e.record(benchRow{
		figure:   fmt.Sprintf("2. Application updated → 90/10 weights visible, canary-rollout step (median of %d)", rounds),
		measured: millis(median(weights)),
		note:     "includes the new pod becoming ready (kwok)",
	})
	e.record(benchRow{
		figure:   fmt.Sprintf("2. of which: Application updated → the step's plan answered, by the provider's log (median of %d)", rounds),
		measured: millis(median(planned)),
		note:     "vela-core's reconcile and the step's evaluation up to its plan call, and the call",
	})
	steps := e.velaStepDurations()
	require.NotEmpty(e.t, steps["rollout-1st-batch"], "vela-core's log of the canary step")
	require.NotEmpty(e.t, steps["apply-reviews"], "vela-core's log of the builtin step")
	e.record(benchRow{
		figure: fmt.Sprintf("2. vela-core's own time for one run of the step, by its log (median of %d and %d runs)",
			len(steps["rollout-1st-batch"]), len(steps["apply-reviews"])),
		measured: millis(median(steps["rollout-1st-batch"])) + " (canary-rollout, 4 components)",
		baseline: millis(median(steps["apply-reviews"])) + " (apply-component, reviews only)",
		ratio:    ratio(median(steps["rollout-1st-batch"]), median(steps["apply-reviews"])),
	})
	e.t.Logf("canary %v, planned %v, builtin %v, weights %v", canary, planned, builtin, weights)
}

// velaStepRE matches vela-core's log line for the end of a run of a
// workflow step, with its duration.
var velaStepRE = regexp.MustCompile(`application="([^"]+)".* step_name="([^"]+)" step_type="[^"]+" duration="([^"]+)"`)

// velaStepDurations reads, from vela-core's log, how long each run of each
// step of the test's Application took, by step name.
func (e *env) velaStepDurations() map[string][]time.Duration {
	e.t.Helper()
	raw, err := os.ReadFile(e.c.LogFile("vela-core"))
	require.NoError(e.t, err)
	out := map[string][]time.Duration{}
	for _, m := range velaStepRE.FindAllStringSubmatch(string(raw), -1) {
		if d, err := time.ParseDuration(m[3]); err == nil && m[1] == e.ns+"/"+app {
			out[m[2]] = append(out[m[2]], d)
		}
	}
	return out
}

// providerPlanned is when the provider logged its first plan
// in the test's namespace at or after from (klog's time stamps, to the
// microsecond, on this machine's clock).
func (e *env) providerPlanned(from time.Time) time.Time {
	e.t.Helper()
	logFile := filepath.Join(e.root, ".cluster", "logs", "provider.log")
	var at time.Time
	e.eventually(time.Minute, "the provider's log of the step's plan", func() (bool, string) {
		raw, err := os.ReadFile(logFile)
		if err != nil {
			return false, err.Error()
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if !strings.Contains(line, `"planned" function="plan" namespace="`+e.ns+`"`) {
				continue
			}
			if t, ok := klogTime(line, from); ok && !t.Before(from) {
				at = t
				return true, ""
			}
		}
		return false, "not yet"
	})
	return at
}

// applyTimed applies the Application and returns when the watches saw the
// API server hold its new spec.
func (e *env) applyTimed(tl *timeline, a map[string]any) time.Time {
	e.t.Helper()
	before := time.Now()
	e.applyApp(a)
	u, err := e.app(e.ns, app)
	require.NoError(e.t, err)
	return e.first(tl, before, "the update of the application", appGeneration(app, u.GetGeneration()))
}

// backToV1 applies the first deploy again and waits for reviews-v1 alone
// with all the traffic.
func (e *env) backToV1() {
	e.t.Helper()
	e.apply("examples/bookinfo/first-deploy.yaml")
	e.waitPhase(e.ns, app, "running", 3*time.Minute)
	e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2}, "map[v1:100]")
}

// builtinWorkflow replaces the canary workflow with vela's builtin steps
// doing the same work without the addon's steps: apply every component
// (reviews first), wait for approval, apply reviews again.
func builtinWorkflow(a map[string]any) map[string]any {
	var steps []any
	for _, c := range []string{"reviews", "productpage", "ratings", "details"} {
		steps = append(steps, map[string]any{"name": "apply-" + c, "type": "apply-component", "properties": map[string]any{"component": c}})
	}
	steps = append(steps,
		map[string]any{"name": "manual-approval", "type": "suspend"},
		map[string]any{"name": "apply-reviews-again", "type": "apply-component", "properties": map[string]any{"component": "reviews"}})
	a["spec"].(map[string]any)["workflow"] = map[string]any{"steps": steps}
	return a
}
