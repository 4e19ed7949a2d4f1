package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// notLinked are the files of test/render this module does not run, and why.
var notLinked = map[string]string{
	"doc.go":                  "the package doc of test/render; this module has its own",
	"contract_test.go":        "runs the real provider (providers/...), which needs the main module",
	"analysis_seam_test.go":   "runs the real provider (providers/...), which needs the main module",
	"stubs_test.go":           "compares the stubs with the main module's kubevela dependencies",
	"istio_crd_test.go":       "validates objects against Istio's CRDs; no CUE involved",
	"istio_crd_files_test.go": "writes and checks the CRD files of istio_crd_test.go",
}

// TestCUEVersion: this module must run the CUE that vela v1.10 runs, the one
// hack/tools/vela-1.10 (the vela-core of make test-compat) resolves.
func TestCUEVersion(t *testing.T) {
	// A test binary carries no module versions in its build info; the build
	// list of this module says which CUE it was built with.
	out, err := exec.Command("go", "list", "-m", "cuelang.org/go").Output()
	require.NoError(t, err, "go list -m cuelang.org/go")
	running := strings.TrimPrefix(strings.TrimSpace(string(out)), "cuelang.org/go ")
	mod, err := os.ReadFile(filepath.Join("..", "..", "..", "hack", "tools", "vela-1.10", "go.mod"))
	require.NoError(t, err)
	var vela string
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "cuelang.org/go" {
			vela = f[1]
		}
	}
	assert.True(t, strings.HasPrefix(running, "v0.9."), "the tests run CUE %s, not v0.9", running)
	assert.Equal(t, vela, running, "vela v1.10's CUE (hack/tools/vela-1.10/go.mod) and the one of these tests differ")
}

// TestLinkedFiles: each Go file of test/render is linked here or listed in
// notLinked, so a new test file of test/render is not silently left out.
func TestLinkedFiles(t *testing.T) {
	parent, err := filepath.Glob(filepath.Join("..", "*.go"))
	require.NoError(t, err)
	require.NotEmpty(t, parent)
	for _, p := range parent {
		name := filepath.Base(p)
		target, err := os.Readlink(name)
		if _, skip := notLinked[name]; skip {
			assert.Error(t, err, "%s is listed in notLinked but linked", name)
			continue
		}
		if assert.NoError(t, err, "%s: link it (ln -s ../%s) or list it in notLinked with the reason", name, name) {
			assert.Equal(t, "../"+name, target, "%s links elsewhere", name)
		}
	}
	for name := range notLinked {
		_, err := os.Stat(filepath.Join("..", name))
		assert.NoError(t, err, "notLinked names %s, which test/render does not have", name)
	}
}

// TestDefinitionsCompile: every definition (traits and the generated steps)
// builds with its imports and has no error before its parameter is given
// (incomplete values are expected then). Traits get the default context
// (vela always gives one) and an empty cluster for their calls.
func TestDefinitionsCompile(t *testing.T) {
	defs := allDefinitions(t)
	var names []string
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		d := defs[name]
		t.Run(name, func(t *testing.T) {
			var v cue.Value
			var err error
			if d.Type == "trait" {
				ctx, cerr := newComponent(defaultContext(t)).contextFile()
				require.NoError(t, cerr)
				v, _, err = compileTrait(d.Template+"\n"+ctx, nil)
			} else {
				v, err = compileStep(t, d, nil, map[string]any{})
			}
			require.NoError(t, err)
			require.NoError(t, v.Err())
			assert.NoError(t, v.Validate(), "%s has errors without its parameter", name)
		})
	}
}

// TestTraitGoldenCUE09 renders every trait case with CUE v0.9 and compares
// the result with the golden file of test/render (written with v0.14). A
// valid case must render exactly the golden objects and calls. An invalid
// case must fail with the golden error; where it differs, CUE's wording has
// changed between the versions (the order of a conflict's values, which
// follow-on errors the template reports), so the header, the user errors
// and the parameter fields blamed must still be the golden's.
func TestTraitGoldenCUE09(t *testing.T) {
	defs := allDefinitions(t)
	traits := sortedNames(defs, "trait")
	require.NotEmpty(t, traits)
	for _, name := range traits {
		t.Run(name, func(t *testing.T) {
			files := caseFiles(t, name)
			require.NotEmpty(t, files, "trait %s has no cases", name)
			for _, file := range files {
				t.Run(caseName(file), func(t *testing.T) {
					var tc traitCase
					readYAML(t, file, &tc)
					res, err := runTraitCase(t, defs, name, tc)
					want, rerr := os.ReadFile(goldenPath(file))
					require.NoError(t, rerr, "the golden file is written by go test ./test/render/ -update")
					if len(tc.ErrorMentions) == 0 {
						require.NoError(t, err)
						got, merr := yaml.Marshal(res)
						require.NoError(t, merr)
						assert.Equal(t, string(want), string(got), "CUE v0.9 renders otherwise than %s", goldenPath(file))
						return
					}
					require.Error(t, err, "invalid case must fail to render")
					for _, m := range tc.ErrorMentions {
						assert.Contains(t, err.Error(), m)
					}
					var golden struct{ Error string }
					require.NoError(t, yaml.Unmarshal(want, &golden))
					if err.Error() != golden.Error {
						assert.Equal(t, errorGist(golden.Error), errorGist(err.Error()), "CUE v0.9 reports other problems than %s", goldenPath(file))
					}
				})
			}
		})
	}
}

// errorGist is what of a trait's validation error must not depend on the
// CUE version: its first line, its user errors, and the fields its
// parameter errors blame. Any other error is kept whole.
func errorGist(msg string) string {
	if !strings.HasPrefix(msg, "validation failed for trait ") {
		return msg
	}
	var out []string
	section := ""
	for _, line := range strings.Split(msg, "\n") {
		switch {
		case line == "":
		case !strings.HasPrefix(line, "  "):
			section = line
			if section != "Template errors:" {
				out = append(out, section)
			}
		case section == "User Errors:":
			out = append(out, line)
		case section == "Parameter errors:":
			field, _, _ := strings.Cut(strings.TrimSpace(line), ":")
			out = append(out, "  "+field)
		}
	}
	return strings.Join(out, "\n")
}
