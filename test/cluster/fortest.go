package cluster

import (
	"context"
	"strings"
	"testing"
	"time"
)

// ForTest returns the repository's local cluster for an end-to-end test,
// starting it (and on a cold machine building its programs first) when no
// healthy one runs. The cluster stays up after the test, so the next run
// starts in seconds; `make cluster-down` stops it.
//
//	func TestSomething(t *testing.T) {
//		c := cluster.ForTest(t)
//		config, err := c.RESTConfig()
//		...
//	}
func ForTest(tb testing.TB) *Cluster {
	tb.Helper()
	// Not the test's context: the cold tool build can outlast a short test
	// deadline, and what Up starts must not depend on the test anyway.
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	c, err := Up(ctx, Options{Log: testWriter{tb}})
	if err != nil {
		tb.Fatalf("local cluster: %v", err)
	}
	return c
}

// testWriter sends progress lines to the test log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
