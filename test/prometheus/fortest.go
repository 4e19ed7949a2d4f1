package prometheus

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// ForTest starts prometheus for a test, scraping targets, in a directory
// of the test's, and stops it when the test ends; a failed test gets the
// end of prometheus' log. Without a binary the test fails with how to
// install one, or skips when ISTIO_CANARY_PROMETHEUS_OPTIONAL is 1.
func ForTest(tb testing.TB, targets ...string) *Server {
	tb.Helper()
	binary, err := Binary()
	if err != nil {
		if optional, _ := strconv.ParseBool(os.Getenv(OptionalEnv)); optional {
			tb.Skipf("skipped, %s is set: %v", OptionalEnv, err)
		}
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout)
	defer cancel()
	s, err := Start(ctx, Config{Binary: binary, Dir: tb.TempDir(), Targets: targets})
	if err != nil {
		tb.Fatalf("start prometheus: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("the end of prometheus' log (%s):\n%s", s.logPath, s.logTail(30))
		}
		s.Stop()
	})
	return s
}
