//go:build e2e && bench

package e2e

import (
	"fmt"
	"os/exec"
	"time"

	"github.com/stretchr/testify/require"
)

// benchRollback times the way back from the suspended 90/10 to 100% on
// reviews-v1, by the two ways a user has: applying the canary-rollback
// workflow (examples/bookinfo/rollback.yaml), and `istio-canary abort`
// (the run's next canary step rolls back). Each milestone is counted from
// the Application's update as the watches saw it, or from the start of the
// abort command, as received by this process's watches.
func benchRollback(e *env) {
	rounds := benchInt(e.t, "ISTIO_CANARY_BENCH_ROLLBACKS", 3)
	e.setupBookinfo(nil)
	bin := buildStatusBinary(e.t, e)
	tl := e.watchTimeline(e.ns)
	milestones := func(start time.Time, step string) []time.Duration {
		return []time.Duration{
			e.first(tl, start, "step "+step+" running", appStep(app, step, "running", "succeeded", "failed")).Sub(start),
			e.first(tl, start, "all traffic on reviews-v1", routed("reviews", "map[v1:100]")).Sub(start),
			e.first(tl, start, "reviews-v2 at 0", func(ev event) bool {
				return scaledTo("reviews-v2", 0)(ev) || scaledTo("reviews-v2", -1)(ev)
			}).Sub(start),
		}
	}
	var byRollback, byAbort [][]time.Duration
	for range rounds {
		e.rolloutFirstBatch()
		start := e.applyTimed(tl, e.loadExample("rollback.yaml"))
		m := milestones(start, "rollback")
		m = append(m, e.first(tl, start, "reviews-v2 deleted", scaledTo("reviews-v2", -1)).Sub(start))
		byRollback = append(byRollback, m)
		e.waitPhase(e.ns, app, "running", 3*time.Minute)
		e.backToV1()

		e.rolloutFirstBatch()
		start = time.Now()
		cmd := exec.Command(bin, "abort", app, "-n", e.ns)
		cmd.Env = e.c.Environ()
		out, err := cmd.CombinedOutput()
		require.NoError(e.t, err, "istio-canary abort: %s", out)
		m = append([]time.Duration{time.Since(start)}, milestones(start, "rollout-rest")...)
		byAbort = append(byAbort, m)
		e.waitPhase(e.ns, app, "workflowFailed", 3*time.Minute)
		e.waitVersions(e.ns, map[string]int32{"reviews-v1": 2, "reviews-v2": 0}, "map[v1:100]")
		e.backToV1()
	}
	row := func(flow, milestone string, rounds [][]time.Duration, i int) {
		var d []time.Duration
		for _, r := range rounds {
			d = append(d, r[i])
		}
		e.record(benchRow{
			figure:   fmt.Sprintf("5. %s → %s (median of %d)", flow, milestone, len(rounds)),
			measured: secs(median(d)),
			note:     fmt.Sprintf("rounds: %v", roundTo(d)),
		})
	}
	for i, m := range []string{"step rollback running", "weights 100% reviews-v1 visible", "reviews-v2 scaled to 0", "reviews-v2 deleted (workflow succeeded, vela's GC)"} {
		row("rollback.yaml applied", m, byRollback, i)
	}
	for i, m := range []string{"command returned", "step rollout-rest running", "weights 100% reviews-v1 visible", "reviews-v2 scaled to 0 (kept: the run failed)"} {
		row("`istio-canary abort`", m, byAbort, i)
	}
}

// roundTo rounds durations to tenths of a second, to print them.
func roundTo(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, v := range d {
		out[i] = v.Round(100 * time.Millisecond)
	}
	return out
}
