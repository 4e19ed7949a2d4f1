//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/istio-canary/istio-canary/internal/status"
)

// TestStatusDuringSeedFlow runs the status command against the seed's flow:
// through the Go API (Collect, Render, Watch) and once through the built
// binary at each checked state, and checks the numbers it shows at the
// suspended 90/10 state and after the approval.
func TestStatusDuringSeedFlow(t *testing.T) {
	e := setupBookinfo(t)
	bin := buildStatusBinary(t, e)
	clients := e.statusClients()

	v := e.collect(clients)
	require.Equal(t, status.AppRunning, v.Phase)
	reviews := requireComponent(t, v, "reviews")
	requireVersion(t, reviews, "v1", status.RoleStable, "reviews-v1", 2, 2, 100)
	require.Empty(t, reviews.Canary)
	require.Equal(t, status.ActionDone, v.Next.Kind)

	views := e.watchViews(clients)

	e.rolloutFirstBatch()
	v = e.collect(clients)
	require.Equal(t, status.AppWorkflowSuspending, v.Phase)
	require.True(t, v.Workflow.Suspended)
	require.Equal(t, "manual-approval", v.Workflow.CurrentStep().Name)
	reviews = requireComponent(t, v, "reviews")
	require.Equal(t, "progressing", reviews.Phase)
	requireVersion(t, reviews, "v1", status.RoleStable, "reviews-v1", 1, 1, 90)
	requireVersion(t, reviews, "v2", status.RoleCanary, "reviews-v2", 1, 1, 10)
	require.Equal(t, status.ActionSuspended, v.Next.Kind)
	require.Contains(t, v.Next.Text, "run `vela workflow resume book-info`")

	text := status.Render(v, status.Options{})
	requireRow(t, text, "stable", "v1", "reviews-v1", "1/1", "90%")
	requireRow(t, text, "canary", "v2", "reviews-v2", "1/1", "10%")
	require.Contains(t, text, "█ v1 90%  ░ v2 10%")
	require.Contains(t, text, "Step:       manual-approval (suspend) suspending")
	require.Equal(t, text, runStatusBinary(t, e, bin), "the binary prints what Render renders")
	e.watchBinaryUntil(bin, "suspended at step manual-approval")

	e.run("vela", "workflow", "resume", app, "-n", e.ns)
	e.waitPhase(e.ns, app, status.AppRunning, 3*time.Minute)
	e.eventually(2*time.Minute, "reviews-v2 2/2 with all the traffic and reviews-v1 collected", func() (bool, string) {
		v := e.collect(clients)
		c := v.Component("reviews")
		return c != nil && v.Next.Kind == status.ActionDone && c.Version("v1") != nil && c.Version("v1").Deployment == "",
			fmt.Sprintf("%+v", v.Canaried)
	})
	v = e.collect(clients)
	reviews = requireComponent(t, v, "reviews")
	require.Equal(t, "completed", reviews.Phase)
	requireVersion(t, reviews, "v2", status.RoleCanary, "reviews-v2", 2, 2, 100)
	requireVersion(t, reviews, "v1", status.RoleStable, "", 0, 0, 0)
	require.Equal(t, "done: reviews serves v2 (100% of traffic)", v.Next.Text)
	text = status.Render(v, status.Options{})
	requireRow(t, text, "canary", "v2", "reviews-v2", "2/2", "100%")
	require.Contains(t, text, "█ v2 100%")
	require.Equal(t, text, runStatusBinary(t, e, bin))

	views.requireSeen(t, "the suspended 90/10 state", func(v status.View) bool {
		c := v.Component("reviews")
		return v.Next.Kind == status.ActionSuspended && c != nil && weightOf(c, "v1") == 90 && weightOf(c, "v2") == 10
	})
	views.requireSeen(t, "the completed state", func(v status.View) bool {
		c := v.Component("reviews")
		return v.Next.Kind == status.ActionDone && c != nil && weightOf(c, "v2") == 100 && c.Phase == "completed"
	})
}

// TestStatusAfterRollback checks the status after a rollback from 90/10.
func TestStatusAfterRollback(t *testing.T) {
	e := setupBookinfo(t)
	clients := e.statusClients()
	e.rolloutFirstBatch()
	e.apply("examples/bookinfo/rollback.yaml")
	e.waitPhase(e.ns, app, status.AppRunning, 3*time.Minute)
	e.eventually(2*time.Minute, "reviews rolled back to v1 2/2", func() (bool, string) {
		v := e.collect(clients)
		c := v.Component("reviews")
		ok := c != nil && c.Phase == status.PhaseRolledBack && v.Next.Kind == status.ActionDone
		ok = ok && c.Version("v1") != nil && c.Version("v1").Ready == 2 && c.Version("v2") != nil && c.Version("v2").Deployment == ""
		return ok, fmt.Sprintf("%s %+v", v.Next.Text, v.Canaried)
	})
	v := e.collect(clients)
	reviews := requireComponent(t, v, "reviews")
	requireVersion(t, reviews, "v1", status.RoleStable, "reviews-v1", 2, 2, 100)
	requireVersion(t, reviews, "v2", status.RoleCanary, "", 0, 0, 0)
	require.Equal(t, "done: reviews rolled back to v1 (100% of traffic)", v.Next.Text)
	require.Equal(t, "rollback", v.Workflow.CurrentStep().Name)
}

func (e *env) statusClients() status.Clients {
	return status.Clients{Kube: e.kube, Dynamic: e.dyn, Istio: e.istio}
}

func (e *env) collect(c status.Clients) status.View {
	e.t.Helper()
	v, err := status.Collect(context.Background(), c, e.ns, app)
	require.NoError(e.t, err)
	return v
}

func requireComponent(t *testing.T, v status.View, name string) *status.Component {
	t.Helper()
	c := v.Component(name)
	require.NotNil(t, c, "component %s in %+v", name, v.Canaried)
	return c
}

func requireVersion(t *testing.T, c *status.Component, name string, role status.Role, deployment string, ready, desired, weight int32) {
	t.Helper()
	got := c.Version(name)
	require.NotNil(t, got, "version %s of %+v", name, c.Versions)
	want := status.Version{Name: name, Role: role, Deployment: deployment, Ready: ready, Desired: desired, Weight: weight}
	require.Equal(t, want, *got)
}

func weightOf(c *status.Component, version string) int32 {
	if v := c.Version(version); v != nil {
		return v.Weight
	}
	return -1
}

// requireRow checks the rendered text has a table row with these cells.
func requireRow(t *testing.T, text string, cells ...string) {
	t.Helper()
	want := strings.Join(cells, " ")
	for _, line := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(line), " ") == want {
			return
		}
	}
	t.Fatalf("no row %q in:\n%s", want, text)
}

func buildStatusBinary(t *testing.T, e *env) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "istio-canary")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/istio-canary")
	cmd.Dir = e.root
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func runStatusBinary(t *testing.T, e *env, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "status", app, "-n", e.ns)
	cmd.Env = e.c.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "istio-canary status: %s", stderr.String())
	return stdout.String()
}

// watchBinaryUntil runs `istio-canary status --watch` until its output shows
// want, then interrupts it as Ctrl-C would and expects exit code 0.
func (e *env) watchBinaryUntil(bin, want string) {
	e.t.Helper()
	cmd := exec.Command(bin, "status", app, "-n", e.ns, "--watch")
	cmd.Env = e.c.Environ()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(e.t, cmd.Start())
	e.eventually(time.Minute, "the watch to show "+want, func() (bool, string) {
		s := out.String()
		return strings.Contains(s, want), s
	})
	require.NoError(e.t, cmd.Process.Signal(os.Interrupt))
	require.NoError(e.t, cmd.Wait(), "the watch must end cleanly on Ctrl-C:\n%s", out.String())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// viewLog records the views status.Watch emits while a test runs.
type viewLog struct {
	mu    sync.Mutex
	views []status.View
	errs  []string
}

func (e *env) watchViews(c status.Clients) *viewLog {
	e.t.Helper()
	l := &viewLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- status.Watch(ctx, c, e.ns, app, 0, func(v status.View, err error) {
			l.mu.Lock()
			defer l.mu.Unlock()
			if err != nil {
				l.errs = append(l.errs, err.Error())
				return
			}
			l.views = append(l.views, v)
		})
	}()
	e.t.Cleanup(func() {
		cancel()
		require.NoError(e.t, <-done)
	})
	return l
}

// requireSeen waits briefly for a view that matches.
func (l *viewLog) requireSeen(t *testing.T, what string, match func(status.View) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		for _, v := range l.views {
			if match(v) {
				l.mu.Unlock()
				return
			}
		}
		n, errs := len(l.views), l.errs
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("status.Watch never showed %s (%d views; errors %v)", what, n, errs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
