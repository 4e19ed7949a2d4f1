//go:build e2e && bench

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// benchRender times `vela dry-run` (the cluster's vela: it reads the
// definitions from the cluster and renders as vela-core does, traits'
// lookups of live Deployments included) of bookinfo's rollout-v2 with the
// addon's traits, against the same Application with builtin traits in
// their place, alternating, with bookinfo at v1 live in the namespace.
// Each run's time includes the CLI's start and its reading of the
// definitions, the same for both.
func benchRender(e *env) {
	rounds := benchInt(e.t, "ISTIO_CANARY_BENCH_RENDERS", 15)
	e.setupBookinfo(nil)
	dir := e.t.TempDir()
	write := func(name string, a map[string]any) string {
		delete(a["spec"].(map[string]any), "workflow") // dry-run renders components; the steps are another figure
		raw, err := yaml.Marshal(a)
		require.NoError(e.t, err)
		path := filepath.Join(dir, name)
		require.NoError(e.t, os.WriteFile(path, raw, 0o644))
		return path
	}
	ours := write("ours.yaml", e.loadExample("rollout-v2.yaml"))
	builtin := write("builtin.yaml", builtinTraits(e.loadExample("rollout-v2.yaml")))

	var wallOurs, wallBuiltin, cpuOurs, cpuBuiltin []time.Duration
	for i := range rounds + 1 {
		w1, c1, out1 := e.dryRun(ours)
		w2, c2, out2 := e.dryRun(builtin)
		require.Contains(e.t, out1, "name: reviews-v2", "ours renders the canary's Deployment")
		require.Contains(e.t, out1, "kind: VirtualService")
		require.NotContains(e.t, out2, "kind: VirtualService", "builtin traits only")
		require.Contains(e.t, out2, "name: reviews\n")
		if i == 0 { // warm-up
			continue
		}
		wallOurs, cpuOurs = append(wallOurs, w1), append(cpuOurs, c1)
		wallBuiltin, cpuBuiltin = append(wallBuiltin, w2), append(cpuBuiltin, c2)
	}
	for _, m := range []struct {
		what         string
		ours, builtn []time.Duration
	}{{"wall", wallOurs, wallBuiltin}, {"CPU (user+sys)", cpuOurs, cpuBuiltin}} {
		o, b := median(m.ours), median(m.builtn)
		e.record(benchRow{
			figure:   fmt.Sprintf("4. `vela dry-run` of bookinfo, %s time, addon's traits (median of %d)", m.what, rounds),
			measured: millis(o),
			baseline: millis(b) + " (builtin traits)",
			ratio:    fmt.Sprintf("%+.0f%%", 100*(float64(o)/float64(b)-1)),
			goal:     "≤ +25%",
			note:     verdict(float64(o) <= 1.25*float64(b)),
		})
	}
}

// dryRun runs `vela dry-run` of the file: its wall time, CPU time and output.
func (e *env) dryRun(path string) (time.Duration, time.Duration, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.c.Command(ctx, "vela", "dry-run", "-f", path, "-n", e.ns)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	require.NoError(e.t, err, "vela dry-run -f %s: %s", path, out.String())
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), out.String()
}

// builtinTraits gives bookinfo vela's builtin traits instead of the
// addon's: expose and scaler for reviews' canary-traffic and rollout,
// gateway (an Ingress) for productpage's istio-gateway.
func builtinTraits(a map[string]any) map[string]any {
	trait := func(typ string, props map[string]any) any { return map[string]any{"type": typ, "properties": props} }
	component(a, "reviews")["traits"] = []any{
		trait("expose", map[string]any{"port": []any{9080}}),
		trait("scaler", map[string]any{"replicas": 2}),
	}
	component(a, "productpage")["traits"] = []any{
		trait("expose", map[string]any{"port": []any{9080}}),
		trait("gateway", map[string]any{"http": map[string]any{"/productpage": 9080, "/static": 9080, "/login": 9080, "/api/v1/products": 9080}}),
	}
	return a
}
