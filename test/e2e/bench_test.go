//go:build e2e && bench

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The benchmark suite (make bench; docs/benchmarks.md). Each test plays a
// flow on the local control plane, asserts only that the flow reached its
// states, and records its figures with their goal and the ratio to a
// baseline measured in the same run: a figure is never asserted, since a
// loaded machine would make a timed assertion fail for the wrong reason.
// The tests run one after the other, in this order (the scale test last:
// it leaves the most behind while its namespaces are deleted).

// TestBenchProviderCalls: plan and scale over HTTP against client-go GETs
// of the objects they read.
func TestBenchProviderCalls(t *testing.T) { benchProviderCalls(benchEnv(t)) }

// TestBenchStepOverhead: a canary step's first write against vela's
// builtin apply-component step.
func TestBenchStepOverhead(t *testing.T) { benchStepOverhead(benchEnv(t)) }

// TestBenchRender: rendering bookinfo with the addon's traits against the
// same Application with builtin traits only.
func TestBenchRender(t *testing.T) { benchRender(benchEnv(t)) }

// TestBenchRollback: a suspended 90/10 back to 100% stable, by a
// canary-rollback workflow and by istio-canary abort.
func TestBenchRollback(t *testing.T) { benchRollback(benchEnv(t)) }

// TestBenchScale: many bookinfo Applications canarying at once.
func TestBenchScale(t *testing.T) { benchScale(benchEnv(t)) }

// benchEnv is a test's own namespace, without t.Parallel: a benchmark
// shares the machine with nothing of its own suite.
func benchEnv(t *testing.T) *env {
	e := newEnv(t)
	e.ns = testNamespace(t, e.kube)
	return e
}

// benchRow is one line of the results table: what was measured, the
// baseline it is compared with, their ratio (or difference) and the goal.
type benchRow struct {
	figure, measured, baseline, ratio, goal, note string
}

// record logs the row and appends it, as a Markdown table row, to the file
// ISTIO_CANARY_BENCH_OUT names (make bench prints that file).
func (e *env) record(r benchRow) {
	e.t.Helper()
	cells := []string{r.figure, r.measured, r.baseline, r.ratio, r.goal, r.note}
	for i, c := range cells {
		if c == "" {
			cells[i] = "–"
		}
	}
	line := "| " + strings.Join(cells, " | ") + " |"
	e.t.Log(line)
	path := os.Getenv("ISTIO_CANARY_BENCH_OUT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(e.t, err)
	defer f.Close()
	_, err = fmt.Fprintln(f, line)
	require.NoError(e.t, err)
}

// benchInt reads a positive integer parameter of the suite from the
// environment.
func benchInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	require.Positive(t, n, name)
	return n
}

// percentile is the nearest-rank percentile p (0-100) of the durations.
func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(d []time.Duration) time.Duration { return percentile(d, 50) }

// millis prints a duration in milliseconds, secs in seconds.
func millis(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// ratio prints a/b as a factor.
func ratio(a, b time.Duration) string { return fmt.Sprintf("%.2f×", float64(a)/float64(b)) }

// verdict says whether a figure met its goal, in words for the table.
func verdict(met bool) string {
	if met {
		return "goal met"
	}
	return "goal NOT met"
}
