//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/istio-canary/istio-canary/internal/readme"
)

// TestReadmeWalkthrough runs README.md's shell blocks in order, as written
// (each in bash, from the repository root, against the local cluster), except
// the quick start and the blocks marked readme-test: skip. After a block with
// an expect comment it waits for that state; a text block marked
// readme-test: output must equal what the last block printed.
func TestReadmeWalkthrough(t *testing.T) {
	e := newEnv(t)
	e.deleteApp(e.ns, app)
	gobin := t.TempDir() // where the README's `go install` puts the status command
	environ := append(e.c.Environ(), "GOBIN="+gobin, "PATH="+gobin+string(os.PathListSeparator)+e.c.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	var last string
	var ran, checked, outputs int
	for _, b := range readme.Parse(e.readReadme()) {
		switch {
		case b.Skipped() || b.Directive == "quickstart":
		case b.Lang == "sh":
			t.Logf("README.md line %d:\n%s", b.Line, b.Body)
			last = e.runReadmeBlock(b, environ)
			ran++
			if b.Expect != "" {
				e.expectReadmeState(b)
				checked++
			}
		case b.Lang == "text" && b.Directive == "output":
			require.Equal(t, trimLines(b.Body), trimLines(last), "README.md line %d: the output shown is not what the command above printed", b.Line)
			outputs++
		}
	}
	require.GreaterOrEqual(t, ran, 8, "shell blocks run")
	require.GreaterOrEqual(t, checked, 5, "states checked")
	require.GreaterOrEqual(t, outputs, 3, "outputs compared")
}

// TestReadmeQuickStartDemo runs the quick start's `make demo` (its other
// command, `make test`, is what runs this test).
func TestReadmeQuickStartDemo(t *testing.T) {
	e := newEnv(t)
	var quick *readme.Block
	for _, b := range readme.Parse(e.readReadme()) {
		if b.Directive == "quickstart" {
			quick = &b
		}
	}
	require.NotNil(t, quick, "README.md has a quick start block")
	cmds := quick.Commands()
	require.Equal(t, []string{"make demo", "make test"}, cmds)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", cmds[0])
	cmd.Dir = e.root
	cmd.Env = e.c.Environ()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s:\n%s", cmds[0], out)
	text := string(out)
	// The states of the three rounds, in the demo's "reached" lines: v1 at
	// the first deploy, again before rounds 2 and 3 and after the rollback;
	// a canary waiting for approval in rounds 1 and 2; v2 after the
	// approval; in round 3 the analysed canary at 10%, then rolled back by
	// the analysis.
	for reached, times := range map[string]int{
		"phase=running reviews-v1=2/2 reviews-v2=absent traffic=v1:100":              4,
		"phase=workflowSuspending reviews-v1=1/1 reviews-v2=1/1 traffic=v1:90,v2:10": 2,
		"phase=running reviews-v1=absent reviews-v2=2/2 traffic=v2:100":              1,
		"phase=runningWorkflow reviews-v1=1/1 reviews-v2=1/1 traffic=v1:90,v2:10":    1,
		"phase=workflowFailed reviews-v1=2/2 reviews-v2=0/0 traffic=v1:100":          1,
	} {
		require.Equal(t, times, strings.Count(text, "✔ reached:    "+reached+"\n"), "%s in:\n%s", reached, text)
	}
	require.Contains(t, text, "Every stage reached its expected state.")
	require.Contains(t, text, "make cluster-down")
}

func (e *env) readReadme() string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "README.md"))
	require.NoError(e.t, err)
	return string(b)
}

// runReadmeBlock runs a shell block and returns its standard output.
func (e *env) runReadmeBlock(b readme.Block, environ []string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b.Body)
	cmd.Dir = e.root
	cmd.Env = environ
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(e.t, err, "README.md line %d:\n%s\nstdout:\n%s\nstderr:\n%s", b.Line, b.Body, stdout.String(), stderr.String())
	return stdout.String()
}

// expectReadmeState waits until every clause of the block's expect comment holds.
func (e *env) expectReadmeState(b readme.Block) {
	e.t.Helper()
	clauses, err := readme.ParseExpect(b.Expect)
	require.NoError(e.t, err, "README.md line %d", b.Line)
	e.eventually(3*time.Minute, fmt.Sprintf("README.md line %d: %s", b.Line, b.Expect), func() (bool, string) {
		var seen []string
		ok := true
		for _, c := range clauses {
			got := e.observe(c)
			seen = append(seen, c.Kind+" "+c.Name+" "+got)
			ok = ok && got == c.Want
		}
		return ok, strings.Join(seen, "; ")
	})
}

// observe returns what a clause compares: the Application's phase (reconciling
// while vela has not seen its latest spec), a Deployment's ready/desired, a
// VirtualService's subset=weight pairs; absent when the object does not exist.
func (e *env) observe(c readme.Clause) string {
	switch c.Kind {
	case readme.KindApplication:
		a, err := e.app(e.ns, c.Name)
		if apierrors.IsNotFound(err) {
			return "absent"
		}
		if err != nil {
			return err.Error()
		}
		observed, _, _ := unstructured.NestedInt64(a.Object, "status", "observedGeneration")
		phase, _, _ := unstructured.NestedString(a.Object, "status", "status")
		if observed != a.GetGeneration() {
			return "reconciling"
		}
		return phase
	case readme.KindDeployment:
		replicas, ready, exists := e.deployment(e.ns, c.Name)
		if !exists {
			return "absent"
		}
		return fmt.Sprintf("%d/%d", ready, replicas)
	case readme.KindTraffic:
		w, err := e.weights(e.ns, c.Name)
		if apierrors.IsNotFound(err) {
			return "absent"
		}
		if err != nil {
			return err.Error()
		}
		var pairs []string
		for subset, weight := range w {
			pairs = append(pairs, fmt.Sprintf("%s=%d", subset, weight))
		}
		sort.Strings(pairs)
		return strings.Join(pairs, ",")
	}
	return "unknown clause kind " + c.Kind
}

// trimLines drops trailing spaces and blank lines at the end.
func trimLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
