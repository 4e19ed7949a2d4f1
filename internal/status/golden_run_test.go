package status

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// at is a time of the fixtures' day, 2025-01-02, in UTC.
func at(clock string) time.Time {
	t, err := time.Parse(time.RFC3339, "2025-01-02T"+clock+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

// collectAt collects a fixture state as Collect does, as seen at now.
func collectAt(t *testing.T, state string, now time.Time) View {
	t.Helper()
	f := loadFixtures(t, state)
	s, err := Fetch(context.Background(), f.Clients, "default", "book-info")
	require.NoError(t, err)
	s.Now = now
	v, err := Build(s)
	require.NoError(t, err)
	return v
}

// The states of a run with analyses, aborts and timed pauses; the output
// is in the golden files, the assertions name what each state is about.
func TestGoldenRun(t *testing.T) {
	cases := []struct {
		state string
		now   string
		next  ActionKind
		check func(t *testing.T, v View)
	}{
		{"analysis-running", "10:05:12", ActionRollingOut, func(t *testing.T, v View) {
			require.Len(t, v.Analyses, 1)
			a := v.Analyses[0]
			assert.Equal(t, "Running", a.Phase)
			assert.Equal(t, 18*time.Second, a.NextIn)
			require.Len(t, a.Targets, 1)
			sr := a.Targets[0].Metrics[0]
			assert.Equal(t, 3, sr.Measured, "the error does not count")
			require.Len(t, sr.Last, 3, "the last three of four")
			assert.Equal(t, "Error", sr.Last[0].Phase)
			assert.Equal(t, "99.91", sr.Last[1].Values)
			assert.Nil(t, v.Abort)
			assert.Equal(t, "analysing: the analysis of step analyze is running, next measurement in 18s; to roll back: `istio-canary abort book-info`", v.Next.Text)
		}},
		{"analysis-failed", "10:03:00", ActionAborted, func(t *testing.T, v View) {
			require.NotNil(t, v.Abort)
			assert.True(t, v.Abort.Done)
			assert.Contains(t, v.Abort.Reason, "the analysis of step analyze failed")
			assert.Equal(t, "aborted: reviews rolled back to v1 (100% of traffic); release a fixed version to try again", v.Next.Text)
			assert.Contains(t, Render(v, Options{}), "Abort:      aborted: the analysis of step analyze failed: reviews (canary v2, stable v1)")
			require.Len(t, v.Analyses, 1)
			assert.Equal(t, "Failed", v.Analyses[0].Phase)
		}},
		{"aborting", "10:03:00", ActionAborting, func(t *testing.T, v View) {
			require.NotNil(t, v.Abort)
			assert.False(t, v.Abort.Done)
			assert.Equal(t, "aborted by alice with istio-canary abort", v.Abort.Reason)
			assert.Empty(t, v.Analyses, "no analysis state")
			assert.Empty(t, v.AnalysisProblem)
			assert.Equal(t, "aborting: the workflow's canary steps roll the canary back; waiting for reviews-v1 (1/2 ready); follow it with `istio-canary status book-info --watch`", v.Next.Text)
		}},
		{"analysis-inconclusive", "10:03:00", ActionDecide, func(t *testing.T, v View) {
			assert.Equal(t, "the analysis of step analyze is inconclusive, so a human decides: run `vela workflow resume book-info` to go on with the rollout, or run `istio-canary abort book-info` to roll back (or apply a canary-rollback workflow; without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)", v.Next.Text)
			require.Len(t, v.Analyses, 1)
			assert.Empty(t, lastValue(v.Analyses[0].Targets[0].Metrics[0]), "no series, no values")
			out := Render(v, Options{})
			assert.Contains(t, out, "? no data @10:02:30")
			assert.Equal(t, 1, strings.Count(out, "more than inconclusiveLimit 0 allows"), "the reason once, in the analysis: vela's suspend step does not show it")
		}},
		{"background-analysis", "10:02:50", ActionSuspended, func(t *testing.T, v View) {
			require.Len(t, v.Analyses, 1)
			assert.True(t, v.Analyses[0].Background)
			assert.Equal(t, 40*time.Second, v.Analyses[0].NextIn)
			assert.Contains(t, v.Next.Text, "suspended at step manual-approval: run `vela workflow resume book-info` to continue")
			assert.Contains(t, v.Next.Text, "meanwhile the analysis of step analyze runs, and rolls the canary back if it fails")
		}},
		{"timed-pause", "10:05:18", ActionPausing, func(t *testing.T, v View) {
			require.NotNil(t, v.Pause)
			assert.Equal(t, "wait", v.Pause.Step)
			assert.Equal(t, at("10:05:30"), v.Pause.Until)
			assert.Equal(t, 12*time.Second, v.Pause.Left)
			assert.Equal(t, "pausing: 12s left (resumes by itself at 10:05:30); run `vela workflow resume book-info` to go on now, or run `istio-canary abort book-info` to roll back (or apply a canary-rollback workflow; without an app.oam.dev/publishVersion annotation, `vela workflow rollback` changes nothing)", v.Next.Text)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.state, func(t *testing.T) {
			v := collectAt(t, tc.state, at(tc.now))
			assert.Equal(t, tc.next, v.Next.Kind, v.Next.Text)
			tc.check(t, v)
			checkGolden(t, tc.state, Render(v, Options{}))
		})
	}
}

func lastValue(m MetricResult) string { return m.Last[len(m.Last)-1].Values }

func TestRenderRunColor(t *testing.T) {
	v := collectAt(t, "analysis-failed", at("10:03:00"))
	out := Render(v, Options{Color: true})
	assert.Contains(t, out, "Abort:      \x1b[31maborted: the analysis of step analyze failed", "an abort in red")
	assert.Contains(t, out, "\x1b[31m✖ 91.2\x1b[0m @10:02:30", "a failed measurement in red")
	assert.Contains(t, out, "\x1b[32m✔ 99.8\x1b[0m @10:01:30", "a successful one in green")
}
