//go:build e2e && bench

package e2e

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/stretchr/testify/require"
)

// stepRun is one run of a workflow step of one Application, as vela-core
// logs it when the run ends.
type stepRun struct {
	app, step string
	end       time.Time
	took      time.Duration
}

// velaStepRunRE matches vela-core's log line for the end of a run of a
// workflow step other than a suspend: the Application, the step and how
// long the run took.
var velaStepRunRE = regexp.MustCompile(`application="([^"]+)".* step_name="([^"]+)" step_type="([^"]+)" duration="([^"]+)"`)

// klogTime reads the time stamp of a klog line ("I1207 03:04:05.123456 ..."),
// which has no year: it is taken from near, a time close to the line's.
func klogTime(line string, near time.Time) (time.Time, bool) {
	if len(line) < 21 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("0102 15:04:05.000000", line[1:21], time.Local)
	if err != nil {
		return time.Time{}, false
	}
	return t.AddDate(near.Year(), 0, 0), true
}

// velaStepRuns reads from vela-core's log the runs of the steps of the
// Applications whose namespace starts with prefix that ended between from
// and to; a suspend step waits for a person, not for vela-core, and is left out.
func (e *env) velaStepRuns(prefix string, from, to time.Time) []stepRun {
	f, err := os.Open(e.c.LogFile("vela-core"))
	require.NoError(e.t, err)
	defer f.Close()
	var out []stepRun
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `application="`+prefix) {
			continue
		}
		m := velaStepRunRE.FindStringSubmatch(line)
		if m == nil || m[3] == "suspend" {
			continue
		}
		end, ok := klogTime(line, from)
		took, err := time.ParseDuration(m[4])
		if !ok || err != nil || end.Before(from) || end.After(to) {
			continue
		}
		out = append(out, stepRun{app: m[1], step: m[2], end: end, took: took})
	}
	require.NoError(e.t, sc.Err())
	return out
}

// requeueAfter is the longest vela-core means to wait before it runs a
// waiting step again after its n-th run: KubeVela's workflow backoff,
// 0.05 × 2^n seconds cut to whole seconds, at least 1 and at most 60
// (--max-workflow-wait-backoff-time, left at its default here). vela counts
// the runs anew when the step's message changes, and then waits less: so a
// run counted late here is at least that late.
func requeueAfter(n int) time.Duration {
	s := int(0.05 * math.Pow(2, float64(n)))
	return time.Duration(min(max(s, 1), 60)) * time.Second
}

// lateness is, for every run of a step after its first, how many reconciles
// late it started: the time between when vela-core meant to run it again
// (the end of the run before, plus its backoff) and when it did, in units
// of that backoff (0 when on time or early: an event may wake it sooner).
// A controller that keeps up runs a waiting step about when it is due; one
// behind its queue runs it later, by as many of its periods as it lags.
type lateness struct {
	runs  []float64          // every run after a step's first
	worst map[string]float64 // by Application
}

func latenessOf(runs []stepRun) lateness {
	byStep := map[string][]stepRun{}
	for _, r := range runs {
		k := r.app + "\x00" + r.step
		byStep[k] = append(byStep[k], r)
	}
	out := lateness{worst: map[string]float64{}}
	for _, rs := range byStep {
		sort.Slice(rs, func(i, j int) bool { return rs[i].end.Before(rs[j].end) })
		out.worst[rs[0].app] = max(out.worst[rs[0].app], 0)
		for n := 1; n < len(rs); n++ {
			period := requeueAfter(n)
			due := rs[n-1].end.Add(period)
			late := max(0, rs[n].end.Add(-rs[n].took).Sub(due).Seconds()/period.Seconds())
			out.runs = append(out.runs, late)
			out.worst[rs[n].app] = max(out.worst[rs[n].app], late)
		}
	}
	sort.Float64s(out.runs)
	return out
}

// over counts the Applications with a run more than n reconciles late.
func (l lateness) over(n float64) int {
	c := 0
	for _, w := range l.worst {
		if w > n {
			c++
		}
	}
	return c
}

func (l lateness) max() float64 {
	if len(l.runs) == 0 {
		return 0
	}
	return l.runs[len(l.runs)-1]
}

func (l lateness) String() string {
	if len(l.runs) == 0 {
		return "no run after a step's first"
	}
	q := func(p float64) float64 { return l.runs[int(math.Ceil(p/100*float64(len(l.runs))))-1] }
	return fmt.Sprintf("%d of %d Applications > 3 late; runs p50 %.1f, p99 %.1f, max %.1f (%d runs)",
		l.over(3), len(l.worst), q(50), q(99), l.max(), len(l.runs))
}
