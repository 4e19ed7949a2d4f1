package readme

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const repoRoot = "../.."

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, name))
	require.NoError(t, err)
	return string(b)
}

// generatedDirs are the top-level directories .gitignore names: outputs of
// make targets (the cluster's state, built binaries), not repository files.
func generatedDirs(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(readRepoFile(t, ".gitignore")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "/") && strings.HasSuffix(line, "/") {
			out[strings.Trim(line, "/")] = true
		}
	}
	return out
}

// TestReadmePathsExist checks every repository path README.md names: a
// path whose first element is a top-level entry of the repository must
// exist (globs must match); paths under generated directories are outputs of
// make targets. Other path-like words (Kubernetes names, API groups) are not
// repository paths.
func TestReadmePathsExist(t *testing.T) {
	doc := readRepoFile(t, "README.md")
	entries, err := os.ReadDir(repoRoot)
	require.NoError(t, err)
	top := map[string]bool{}
	for _, e := range entries {
		top[e.Name()] = true
	}
	generated := generatedDirs(t)
	var checked []string
	for _, p := range Paths(doc) {
		p = strings.TrimPrefix(p, "./")
		first, _, nested := strings.Cut(p, "/")
		switch {
		case generated[first]:
			continue
		case !nested && !top[first]:
			t.Errorf("README.md names %s, which is not a file at the repository root", p)
			continue
		case !top[first]:
			continue
		}
		matches, err := filepath.Glob(filepath.Join(repoRoot, p))
		require.NoError(t, err, p)
		if len(matches) == 0 {
			t.Errorf("README.md names %s, which does not exist", p)
		}
		checked = append(checked, p)
	}
	for _, must := range []string{"examples/bookinfo/first-deploy.yaml", "examples/bookinfo/rollout-v2.yaml", "examples/bookinfo/rollback.yaml", "Dockerfile", "cmd/istio-canary", "docs/design.md"} {
		require.Contains(t, checked, must, "the path extraction must see the paths README.md is known to name")
	}
}

// TestReadmeMakeTargetsExist checks every `make <target>` of README.md is a
// target of the Makefile.
func TestReadmeMakeTargetsExist(t *testing.T) {
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z0-9_-]+):`).FindAllStringSubmatch(readRepoFile(t, "Makefile"), -1) {
		targets[m[1]] = true
	}
	used := MakeTargets(readRepoFile(t, "README.md"))
	require.Contains(t, used, "demo")
	require.Contains(t, used, "docs")
	for _, target := range used {
		require.True(t, targets[target], "README.md runs `make %s`, which the Makefile does not define", target)
	}
}

// TestReadmeQuickStart checks the quick start is exactly the two commands.
func TestReadmeQuickStart(t *testing.T) {
	var quick []Block
	for _, b := range Parse(readRepoFile(t, "README.md")) {
		if b.Directive == "quickstart" {
			quick = append(quick, b)
		}
	}
	require.Len(t, quick, 1, "one quick start block")
	require.Equal(t, []string{"make demo", "make test"}, quick[0].Commands())
}

// TestReadmeDirectives checks every steering comment is one the tests know,
// and every expect comment parses.
func TestReadmeDirectives(t *testing.T) {
	expects := 0
	for _, b := range Parse(readRepoFile(t, "README.md")) {
		switch {
		case b.Directive == "", b.Directive == "quickstart", b.Skipped():
		case b.Directive == "output":
			require.Equal(t, "text", b.Lang, "line %d: an output block is a text block", b.Line)
		default:
			t.Errorf("line %d: unknown readme-test directive %q", b.Line, b.Directive)
		}
		if b.Expect != "" {
			require.Equal(t, "sh", b.Lang, "line %d: expect follows a shell block", b.Line)
			_, err := ParseExpect(b.Expect)
			require.NoError(t, err, "line %d", b.Line)
			expects++
		}
	}
	require.GreaterOrEqual(t, expects, 5, "the walkthrough checks the seed's stages")
}
