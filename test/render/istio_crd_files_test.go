package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// How testdata/istio-crds is made from istio.io/api, and the test that it
// still is what the modules give.

var updateIstioCRDs = flag.Bool("update-istio-crds", false, "rewrite testdata/istio-crds from the istio.io/api module of each release (downloads it)")

// istioCRDsUpstream is the file of istio.io/api that holds its CRDs.
const istioCRDsUpstream = "kubernetes/customresourcedefinitions.gen.yaml"

// extractIstioCRDs reduces istio.io/api's CRD file to what the tests need:
// the v1 version of the three CRDs, without descriptions (most of the file).
func extractIstioCRDs(upstream []byte, release string) ([]byte, error) {
	sum := sha256.Sum256(upstream)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# The v1 schemas of DestinationRule, Gateway and VirtualService, without descriptions,\n")
	fmt.Fprintf(&b, "# from istio.io/api@%s %s (sha256 %s).\n", release, istioCRDsUpstream, hex.EncodeToString(sum[:]))
	fmt.Fprintf(&b, "# Written by go test ./test/render/ -run TestIstioCRDFiles -update-istio-crds.\n")
	found := map[string][]byte{}
	for _, doc := range strings.Split(string(upstream), "\n---\n") {
		var crd map[string]any
		if err := yaml.Unmarshal([]byte(doc), &crd); err != nil {
			return nil, err
		}
		meta, _ := crd["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		if _, ok := istioCRDs[name]; !ok {
			continue
		}
		s, _ := crd["spec"].(map[string]any)
		versions, _ := s["versions"].([]any)
		var v1 []any
		for _, v := range versions {
			if vm, _ := v.(map[string]any); vm["name"] == "v1" && vm["served"] == true {
				v1 = append(v1, stripDescriptions(vm))
			}
		}
		if len(v1) != 1 {
			return nil, fmt.Errorf("%s of istio.io/api@%s serves no v1", name, release)
		}
		out, err := yaml.Marshal(map[string]any{
			"apiVersion": crd["apiVersion"],
			"kind":       crd["kind"],
			"metadata":   map[string]any{"name": name},
			"spec":       map[string]any{"group": s["group"], "names": s["names"], "scope": s["scope"], "versions": v1},
		})
		if err != nil {
			return nil, err
		}
		found[name] = out
	}
	names := make([]string, 0, len(istioCRDs))
	for name := range istioCRDs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if found[name] == nil {
			return nil, fmt.Errorf("istio.io/api@%s has no CRD %s", release, name)
		}
		b.WriteString("---\n")
		b.Write(found[name])
	}
	return b.Bytes(), nil
}

// stripDescriptions drops the schemas' descriptions; a property that is
// named description is a map, not a string, and stays.
func stripDescriptions(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			if _, isText := val.(string); k == "description" && isText {
				continue
			}
			out[k] = stripDescriptions(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = stripDescriptions(val)
		}
		return out
	}
	return v
}

// istioAPIModuleDir is istio.io/api@release in the module cache; offline, it
// is "" when the module is not there.
func istioAPIModuleDir(t *testing.T, release string, offline bool) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", "istio.io/api@"+release)
	cmd.Dir = t.TempDir() // outside any module: nothing to update
	if offline {
		cmd.Env = append(os.Environ(), "GOPROXY=off")
	}
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if offline && (err != nil || info.Dir == "") {
		return ""
	}
	require.NoError(t, err, "go mod download istio.io/api@%s: %s", release, info.Error)
	return info.Dir
}

// TestIstioCRDFiles: the CRD files are what extractIstioCRDs makes of each
// release's module. Without the module in the cache (no download at test
// time) only their content is checked.
func TestIstioCRDFiles(t *testing.T) {
	for _, release := range istioReleases {
		t.Run(release, func(t *testing.T) {
			dir := istioAPIModuleDir(t, release, !*updateIstioCRDs)
			if dir != "" {
				upstream, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(istioCRDsUpstream)))
				require.NoError(t, err)
				want, err := extractIstioCRDs(upstream, release)
				require.NoError(t, err)
				if *updateIstioCRDs {
					require.NoError(t, os.MkdirAll(filepath.Dir(istioCRDPath(release)), 0o755))
					require.NoError(t, os.WriteFile(istioCRDPath(release), want, 0o644))
				}
				got, err := os.ReadFile(istioCRDPath(release))
				require.NoError(t, err)
				if line, w, g := firstDifference(string(want), string(got)); line > 0 {
					t.Errorf("%s is stale (line %d is %q, the module gives %q): run go test ./test/render/ -run TestIstioCRDFiles -update-istio-crds", istioCRDPath(release), line, g, w)
				}
			} else {
				t.Logf("istio.io/api@%s is not in the module cache: %s not compared with it", release, istioCRDPath(release))
			}
			assert.Len(t, istioSchemas(t, release), len(istioCRDs))
		})
	}
}

// firstDifference is the first line (from 1) where a and b differ, and the
// two lines; 0 when they are equal.
func firstDifference(a, b string) (line int, lineA, lineB string) {
	if a == b {
		return 0, "", ""
	}
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; ; i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y || i >= len(la) || i >= len(lb) {
			return i + 1, x, y
		}
	}
}
