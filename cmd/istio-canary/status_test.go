package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/istio-canary/istio-canary/internal/status"
)

// run runs the root command with fake clients and returns stdout.
func run(ctx context.Context, t *testing.T, terminal bool, vars map[string]string, stdout *syncBuffer, args ...string) error {
	t.Helper()
	c := fakeClients(t)
	var gotFlags kubeFlags
	e := &env{
		stdout:   stdout,
		stderr:   &bytes.Buffer{},
		terminal: terminal,
		getenv:   func(k string) string { return vars[k] },
		newClients: func(f kubeFlags) (status.Clients, string, error) {
			gotFlags = f
			return c, "default", nil
		},
	}
	cmd := newRootCmd(e)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		assert.Equal(t, "default", gotFlags.namespace, "-n reaches the client factory")
	}
	return err
}

// syncBuffer is a bytes.Buffer safe for the watch goroutines; onWrite runs after each write.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	onWrite func()
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	b.mu.Unlock()
	if b.onWrite != nil {
		b.onWrite()
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStatusColour(t *testing.T) {
	cases := []struct {
		name     string
		terminal bool
		vars     map[string]string
		colour   bool
	}{
		{"pipe", false, nil, false},
		{"terminal", true, nil, true},
		{"terminal with NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, false},
		{"pipe with NO_COLOR empty", false, map[string]string{"NO_COLOR": ""}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			require.NoError(t, run(context.Background(), t, tc.terminal, tc.vars, &out, "status", "book-info", "-n", "default"))
			got := out.String()
			assert.Contains(t, got, "Component reviews")
			assert.Equal(t, tc.colour, strings.Contains(got, "\x1b["), "colour codes in:\n%s", got)
			assert.NotContains(t, got, clearScreen[:3], "one-shot output never clears the screen")
			plain := stripANSI(got)
			assert.Contains(t, plain, "stable  v1       reviews-v1  1/1     90%")
			assert.Contains(t, plain, "canary  v2       reviews-v2  1/1     10%")
			assert.Contains(t, plain, "Next:       suspended at step manual-approval: run `vela workflow resume book-info` to continue")
		})
	}
}

func TestStatusNotFound(t *testing.T) {
	var out syncBuffer
	err := run(context.Background(), t, false, nil, &out, "status", "nope", "-n", "default")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `application default/nope: applications.core.oam.dev "nope" not found`)
	assert.Empty(t, out.String())
}

func TestStatusArgs(t *testing.T) {
	var out syncBuffer
	err := run(context.Background(), t, false, nil, &out, "status")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "accepts 1 arg(s), received 0")
}

func TestStatusWatch(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		t.Run(map[bool]string{false: "pipe", true: "terminal"}[terminal], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out := &syncBuffer{onWrite: cancel} // Ctrl-C after the first frame
			require.NoError(t, run(ctx, t, terminal, map[string]string{"NO_COLOR": "1"}, out, "status", "book-info", "-n", "default", "--watch"))
			got := out.String()
			assert.Equal(t, terminal, strings.HasPrefix(got, clearScreen), "clears the screen only on a terminal:\n%q", got)
			assert.Equal(t, terminal, strings.Contains(got, "(watching; Ctrl-C to stop)"))
			assert.Contains(t, got, "Component reviews")
			assert.Equal(t, 1, strings.Count(got, "Name:"), "exactly one frame")
		})
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
