package status

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// checkGolden compares got with testdata/<name>.golden (or rewrites it with -update).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/status -update to create it")
	assert.Equal(t, string(want), got, "output differs from %s (go test ./internal/status -update rewrites it)", path)
}

func TestGolden(t *testing.T) {
	type versionWant struct {
		name           string
		role           Role
		ready, desired int32
		weight         int32
		deployment     string
	}
	cases := []struct {
		state          string
		next           ActionKind
		nextText       string
		stable, canary string
		versions       []versionWant
	}{
		{
			state: "no-rollout", next: ActionDone, nextText: "done: reviews serves v1 (100% of traffic)",
			stable:   "v1",
			versions: []versionWant{{"v1", RoleStable, 2, 2, 100, "reviews-v1"}},
		},
		{
			state: "first-batch-suspended", next: ActionSuspended,
			nextText: "suspended at step manual-approval: run `vela workflow resume book-info` to continue, or run `istio-canary abort book-info` to roll back (or apply a canary-rollback workflow; without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)",
			stable:   "v1", canary: "v2",
			versions: []versionWant{{"v1", RoleStable, 1, 1, 90, "reviews-v1"}, {"v2", RoleCanary, 1, 1, 10, "reviews-v2"}},
		},
		{
			state: "rolling-out", next: ActionRollingOut, nextText: "rolling out: waiting for reviews-v2 (1/2 ready); to roll back: `istio-canary abort book-info`",
			stable: "v1", canary: "v2",
			versions: []versionWant{{"v1", RoleStable, 1, 1, 90, "reviews-v1"}, {"v2", RoleCanary, 1, 2, 10, "reviews-v2"}},
		},
		{
			state: "completed", next: ActionDone, nextText: "done: reviews serves v2 (100% of traffic)",
			stable: "v1", canary: "v2",
			versions: []versionWant{{"v1", RoleStable, 0, 0, 0, ""}, {"v2", RoleCanary, 2, 2, 100, "reviews-v2"}},
		},
		{
			state: "rolled-back", next: ActionDone, nextText: "done: reviews rolled back to v1 (100% of traffic)",
			stable: "v1", canary: "v2",
			versions: []versionWant{{"v1", RoleStable, 2, 2, 100, "reviews-v1"}, {"v2", RoleCanary, 0, 0, 0, ""}},
		},
		{
			state: "failed", next: ActionFailed,
			nextText: `failed at step rollout-1st-batch: traffic.weightedTargets[1].revision: "reviews-v3" is not a version of component reviews; use reviews-v1 (stable), reviews-v2 (canary), stable, canary; fix the Application and apply it again, or apply a canary-rollback workflow to roll back (without an app.oam.dev/publishVersion annotation, ` + "`vela workflow rollback`" + ` changes nothing)`,
			stable:   "v1",
			versions: []versionWant{{"v1", RoleStable, 2, 2, 100, "reviews-v1"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.state, func(t *testing.T) {
			f := loadFixtures(t, tc.state)
			v, err := Collect(context.Background(), f.Clients, "default", "book-info")
			require.NoError(t, err)

			assert.Equal(t, tc.next, v.Next.Kind)
			assert.Equal(t, tc.nextText, v.Next.Text)
			require.Len(t, v.Canaried, 1)
			c := v.Component("reviews")
			require.NotNil(t, c)
			assert.Equal(t, tc.stable, c.Stable, "stable")
			assert.Equal(t, tc.canary, c.Canary, "canary")
			var got []versionWant
			for _, ver := range c.Versions {
				got = append(got, versionWant{ver.Name, ver.Role, ver.Ready, ver.Desired, ver.Weight, ver.Deployment})
			}
			assert.Equal(t, tc.versions, got)
			var others []string
			for _, o := range v.Others {
				others = append(others, o.Name)
				assert.Equal(t, [2]int32{1, 1}, [2]int32{o.Ready, o.Desired}, o.Name)
			}
			assert.Equal(t, []string{"productpage", "details", "ratings"}, others)

			out := Render(v, Options{})
			assert.NotContains(t, out, "\x1b[", "no colour codes without Options.Color")
			checkGolden(t, tc.state, out)
		})
	}
}

func TestRenderColor(t *testing.T) {
	f := loadFixtures(t, "first-batch-suspended")
	v, err := Collect(context.Background(), f.Clients, "default", "book-info")
	require.NoError(t, err)
	out := Render(v, Options{Color: true})
	assert.Contains(t, out, "\x1b[33m॥ workflowSuspending\x1b[0m", "suspended status in yellow")
	checkGolden(t, "first-batch-suspended.color", out)
}
