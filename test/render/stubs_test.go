package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStubsMatchKubeVela compares the stub vela/* packages in testdata/vela
// (what steps import) and testdata/vela-workload (what traits import) with
// the real ones, in the Go module cache: for every call a stub declares, the
// same #do and #provider, the same fields at every depth of $params and
// $returns, with the same optionality. The steps' vela/kube and vela/builtin
// come from kubevela/workflow (a dependency of this module), the traits'
// vela/kube from kubevela/pkg (an indirect one); vela/oam from the kubevela
// module, which this module does not require: that one is compared when the
// module cache holds kubevela v1.11.0 (hack/build-tools.sh puts it there).
func TestStubsMatchKubeVela(t *testing.T) {
	workflowDir := moduleDir(t, "github.com/kubevela/workflow")
	pkgDir := moduleDir(t, "github.com/kubevela/pkg")
	gomodcache := goEnv(t, "GOMODCACHE")
	for _, tc := range []struct {
		stub string // directory under testdata
		real string // file, or "" to skip
	}{
		{"vela/kube", filepath.Join(workflowDir, "pkg", "providers", "kube", "kube.cue")},
		{"vela/builtin", filepath.Join(workflowDir, "pkg", "providers", "builtin", "workspace.cue")},
		{"vela/oam", filepath.Join(gomodcache, "github.com", "oam-dev", "kubevela@v1.11.0", "pkg", "workflow", "providers", "oam", "oam.cue")},
		{"vela-workload/kube", filepath.Join(pkgDir, "cue", "cuex", "providers", "kube", "kube.cue")},
	} {
		t.Run(tc.stub, func(t *testing.T) {
			realSrc, err := os.ReadFile(tc.real)
			if os.IsNotExist(err) {
				t.Skipf("%s is not in the module cache; run hack/build-tools.sh to compare the stub with it", tc.real)
			}
			require.NoError(t, err)
			stubFiles, err := filepath.Glob(filepath.Join("testdata", filepath.FromSlash(tc.stub), "*.cue"))
			require.NoError(t, err)
			require.Len(t, stubFiles, 1)
			stubSrc, err := os.ReadFile(stubFiles[0])
			require.NoError(t, err)
			ctx := cuecontext.New()
			real := ctx.CompileBytes(realSrc)
			require.NoError(t, real.Err())
			stub := ctx.CompileBytes(stubSrc)
			require.NoError(t, stub.Err())

			it, err := stub.Fields(cue.Definitions(true))
			require.NoError(t, err)
			n := 0
			for it.Next() {
				name := it.Selector().String()
				if !strings.HasPrefix(name, "#") {
					continue
				}
				n++
				r := real.LookupPath(cue.ParsePath(name))
				require.True(t, r.Exists(), "%s has no %s", tc.real, name)
				s := it.Value()
				for _, f := range []string{"#do", "#provider"} {
					want, err := r.LookupPath(cue.ParsePath(f)).String()
					require.NoError(t, err)
					got, err := s.LookupPath(cue.ParsePath(f)).String()
					require.NoError(t, err)
					assert.Equal(t, want, got, "%s.%s", name, f)
				}
				assert.Equal(t, fieldShape(t, r), fieldShape(t, s), "%s: the fields and their optionality", name)
			}
			assert.NotZero(t, n, "the stub in testdata/%s declares no call", tc.stub)
		})
	}
}

// TestWorkloadKubeListAnswer pins what the fake cluster answers for the
// traits' kube.#List (cluster_test.go) to kubevela/pkg's Go code: the
// provider returns the UnstructuredList itself as $returns (so the items are
// $returns.items), and a failed list is the call's error.
func TestWorkloadKubeListAnswer(t *testing.T) {
	dir := filepath.Join(moduleDir(t, "github.com/kubevela/pkg"), "cue", "cuex")
	for file, wants := range map[string][]string{
		filepath.Join("providers", "kube", "kube.go"): {
			"type ListReturns providers.Returns[*unstructured.UnstructuredList]",
			"Returns: &unstructured.UnstructuredList{Object: params.Resource.Object}",
			"return returns, err",
			`"list":  cuexruntime.GenericProviderFn[ListParams, ListReturns](List)`,
		},
		filepath.Join("providers", "types.go"): {
			"Returns T `json:\"$returns\"`",
		},
	} {
		src, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		for _, want := range wants {
			assert.Contains(t, string(src), want, "%s changed: check cluster.list against it", file)
		}
	}
}

// fieldShape lists the regular fields of a call and, at every depth, of its
// $params and $returns, each with a "?" when optional.
func fieldShape(t *testing.T, v cue.Value) []string {
	t.Helper()
	var out []string
	var walk func(v cue.Value, prefix string, depth int)
	walk = func(v cue.Value, prefix string, depth int) {
		it, err := v.Fields(cue.Optional(true))
		if err != nil {
			return
		}
		for it.Next() {
			label := prefix + it.Selector().Unquoted()
			if it.IsOptional() {
				label += "?"
			}
			out = append(out, label)
			if depth > 0 || it.Selector().Unquoted() == "$params" || it.Selector().Unquoted() == "$returns" {
				walk(it.Value(), label+".", depth+1)
			}
		}
	}
	walk(v, "", 0)
	sort.Strings(out)
	return out
}

func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	require.NoError(t, err, "go list -m %s", module)
	dir := strings.TrimSpace(string(out))
	require.NotEmpty(t, dir, "module %s is not downloaded (go mod download)", module)
	return dir
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}
