//go:build e2e && bench

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/test/cluster"
)

// benchScale plays bookinfo's canary in N namespaces at once
// (ISTIO_CANARY_BENCH_APPS, 200 by default): all N to 90/10, then `vela
// workflow resume` of each, all N to 100%. It reads from vela-core's log how
// late it ran each waiting step (see lateness), the provider's peak
// memory and the CPU time the provider and vela-core spent, then plays the
// same N Applications through vela's builtin steps (apply-component,
// suspend, apply-component) for vela-core's CPU without the addon's steps.
// Each phase must finish within ISTIO_CANARY_BENCH_PHASE_MINUTES (20).
func benchScale(e *env) {
	t := e.t
	n := benchInt(t, "ISTIO_CANARY_BENCH_APPS", 200)
	budget := time.Duration(benchInt(t, "ISTIO_CANARY_BENCH_PHASE_MINUTES", 20)) * time.Minute
	e.addonUp()
	// kwok's node takes 110 pods; an Application has up to 7 at once.
	e.addNodes((n*7 + 99) / 100)
	var namespaces []string
	run := time.Now().Unix() % 100000 // namespaces of an earlier run may still be terminating
	for i := range n {
		ns := fmt.Sprintf("bench-scale-%d-%03d", run, i)
		_, err := e.kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.kube.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
		namespaces = append(namespaces, ns)
	}
	provider, core := e.providerPID(), e.velaCorePID()

	var began, ended []time.Time // of each phase
	phase := func(what string, change func(string), done func(appState) bool) time.Duration {
		start := time.Now()
		e.forEach(namespaces, change)
		e.waitAll(namespaces, budget, what, done)
		took := time.Since(start)
		t.Logf("%d applications %s in %s", n, what, took)
		began, ended = append(began, start), append(ended, time.Now())
		return took
	}
	apply := func(a map[string]any) func(string) { return func(ns string) { e.applyIn(ns, a) } }
	resume := func(ns string) { e.resumeIn(ns) }

	phase("running at v1", apply(e.loadExample("first-deploy.yaml")), func(s appState) bool {
		return s.phase == "running" && s.ready == "map[reviews-v1:2]" && s.weights == "map[v1:100]"
	})
	clearPeak(t, provider)
	p0, c0 := cpuTime(t, provider), cpuTime(t, core)
	toFirst := phase("at 90/10", apply(e.loadExample("rollout-v2.yaml")), func(s appState) bool {
		return s.phase == "workflowSuspending" && s.ready == "map[reviews-v1:1 reviews-v2:1]" && s.weights == "map[v1:90 v2:10]"
	})
	toAll := phase("at 100% v2", resume, func(s appState) bool {
		return s.phase == "running" && s.ready == "map[reviews-v2:2]" && s.weights == "map[v2:100]"
	})
	p1, c1 := cpuTime(t, provider), cpuTime(t, core)
	peak := peakMemory(t, provider)

	v3 := builtinWorkflow(e.loadExample("rollout-v2.yaml"))
	component(v3, "reviews")["properties"].(map[string]any)["image"] = "docker.io/istio/examples-bookinfo-reviews-v1:1.16.2"
	builtinFirst := phase("at the approval, builtin steps", apply(v3), func(s appState) bool {
		return s.phase == "workflowSuspending" && strings.Contains(s.ready, "reviews-v3:2")
	})
	builtinAll := phase("done, builtin steps", resume, func(s appState) bool {
		return s.phase == "running" && s.ready == "map[reviews-v3:2]"
	})
	p2, c2 := cpuTime(t, provider), cpuTime(t, core)
	// Phases 1 and 2 are the addon's steps, 3 and 4 the builtin ones.
	prefix := fmt.Sprintf("bench-scale-%d-", run)
	late := latenessOf(e.velaStepRuns(prefix, began[1], ended[2]))
	builtinLate := latenessOf(e.velaStepRuns(prefix, began[3], ended[4]))

	rows := []benchRow{
		{figure: fmt.Sprintf("3. %d Applications: apply → all at 90/10", n), measured: secs(toFirst), baseline: secs(builtinFirst) + " (builtin steps, to the approval)", ratio: ratio(toFirst, builtinFirst)},
		{figure: fmt.Sprintf("3. %d Applications: resume → all at 100%%", n), measured: secs(toAll), baseline: secs(builtinAll) + " (builtin steps)", ratio: ratio(toAll, builtinAll)},
		{figure: "3. step runs late, in reconciles (started after vela's backoff by that many of its periods)", measured: late.String(), baseline: builtinLate.String() + " (builtin steps)",
			goal: "no step more than 3 reconciles late", note: verdict(late.max() <= 3)},
		{figure: "3. provider peak memory (VmHWM) over the canaries", measured: fmt.Sprintf("%.1f MiB", float64(peak)/1024), goal: "≤ 64 MiB", note: verdict(peak <= 64*1024)},
		{figure: "3. provider CPU over the canaries", measured: secs(p1 - p0), baseline: secs(p2-p1) + " (builtin steps)"},
		{figure: "3. vela-core CPU, with the addon's steps", measured: secs(c1 - c0), baseline: secs(c2-c1) + " (builtin steps)", ratio: ratio(c1-c0, c2-c1)},
	}
	for _, r := range rows {
		e.record(r)
	}
}

// addNodes adds n fake nodes like kwok's own (kwok plays the kubelet of
// every node with its annotation), removed at the end of the test.
func (e *env) addNodes(n int) {
	t := e.t
	base, err := e.kube.CoreV1().Nodes().Get(t.Context(), cluster.FakeNodeName, metav1.GetOptions{})
	require.NoError(t, err)
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("kwok-bench-%d", i)
		labels := map[string]string{}
		for k, v := range base.Labels {
			labels[k] = v
		}
		labels["kubernetes.io/hostname"] = name
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: base.Annotations},
			Status:     corev1.NodeStatus{Allocatable: base.Status.Allocatable, Capacity: base.Status.Capacity},
		}
		_, err := e.kube.CoreV1().Nodes().Create(t.Context(), node, metav1.CreateOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.kube.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
}

// forEach runs do for every namespace, a few at a time.
func (e *env) forEach(namespaces []string, do func(string)) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ns := range work {
				do(ns)
			}
		}()
	}
	for _, ns := range namespaces {
		work <- ns
	}
	close(work)
	wg.Wait()
}

// applyIn applies the Application to namespace ns (server-side apply, one
// field manager: the spec is replaced as kubectl apply of the file would).
// It runs in forEach's goroutines, so it reports errors with Errorf.
func (e *env) applyIn(ns string, a map[string]any) {
	raw, err := json.Marshal(a)
	if err == nil {
		u := &unstructured.Unstructured{}
		if err = u.UnmarshalJSON(raw); err == nil {
			u.SetNamespace(ns)
			_, err = e.dyn.Resource(applications).Namespace(ns).Apply(context.Background(), app, u, metav1.ApplyOptions{FieldManager: "istio-canary-bench", Force: true})
		}
	}
	if err != nil {
		e.t.Errorf("apply %s/%s: %v", ns, app, err)
	}
}

// resumeIn runs `vela workflow resume` for the Application of ns, again
// when vela-core wrote its status in between.
func (e *env) resumeIn(ns string) {
	out, err := e.try("vela", "workflow", "resume", app, "-n", ns)
	for i := 0; i < 5 && err != nil && strings.Contains(out, conflictMessage); i++ {
		time.Sleep(time.Second)
		out, err = e.try("vela", "workflow", "resume", app, "-n", ns)
	}
	if err != nil {
		e.t.Errorf("vela workflow resume %s -n %s: %v: %s", app, ns, err, out)
	}
}

// appState is where one namespace's bookinfo stands, in printable form.
type appState struct {
	phase   string
	ready   string // reviews' Deployments and their ready instances
	weights string // reviews' weights
}

// waitAll waits until every namespace's state is done, reading all of them
// with three lists every few seconds.
func (e *env) waitAll(namespaces []string, budget time.Duration, what string, done func(appState) bool) {
	t := e.t
	require.False(t, t.Failed(), "a change failed before waiting for %s", what)
	ctx := context.Background()
	deadline := time.Now().Add(budget)
	for {
		states := map[string]*appState{}
		get := func(ns string) *appState {
			if states[ns] == nil {
				states[ns] = &appState{}
			}
			return states[ns]
		}
		apps, err := e.dyn.Resource(applications).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, a := range apps.Items {
			get(a.GetNamespace()).phase, _, _ = unstructured.NestedString(a.Object, "status", "status")
		}
		deps, err := e.kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: contract.LabelComponent + "=reviews"})
		require.NoError(t, err)
		ready := map[string]map[string]int32{}
		for _, d := range deps.Items {
			if ready[d.Namespace] == nil {
				ready[d.Namespace] = map[string]int32{}
			}
			ready[d.Namespace][d.Name] = d.Status.ReadyReplicas
		}
		for ns, r := range ready {
			get(ns).ready = fmt.Sprint(r)
		}
		vss, err := e.istio.NetworkingV1().VirtualServices("").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, vs := range vss.Items {
			if vs.Name == "reviews" {
				w := map[string]int{}
				for _, d := range contract.ReadRoute(&vs.Spec) {
					w[d.Version] += d.Weight
				}
				get(vs.Namespace).weights = fmt.Sprint(w)
			}
		}
		var behind []string
		for _, ns := range namespaces {
			if !done(*get(ns)) {
				behind = append(behind, fmt.Sprintf("%s: %+v", ns, *get(ns)))
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d applications are not %s; e.g. %s", budget, len(behind), len(namespaces), what, behind[0])
		}
		time.Sleep(5 * time.Second)
	}
}

// velaCorePID is vela-core's, from the cluster's record of its processes.
func (e *env) velaCorePID() int {
	p, err := e.c.Process("vela-core")
	require.NoError(e.t, err)
	return p.PID
}

// cpuTime is the CPU time (user and system) the process has spent, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s).
func cpuTime(t require.TestingT, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// The fields after the command name, which may hold spaces: state is field 3.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, err := strconv.ParseInt(f[14-3], 10, 64)
	require.NoError(t, err)
	stime, err := strconv.ParseInt(f[15-3], 10, 64)
	require.NoError(t, err)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// clearPeak resets the process's peak resident memory (VmHWM) to what it
// uses now, so that the peak is the flow's, not the earlier tests'.
func clearPeak(t require.TestingT, pid int) {
	require.NoError(t, os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0))
}

// peakMemory is the process's peak resident memory in KiB (VmHWM).
func peakMemory(t require.TestingT, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb
		}
	}
	require.Fail(t, "no VmHWM in /proc/<pid>/status")
	return 0
}
