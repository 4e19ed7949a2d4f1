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
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// Istio's CRDs of two releases: the oldest that serves networking.istio.io/v1
// (what the definitions write) and the newest tested. The Istio objects of the
// golden files and of the live fixtures must be ones both API servers accept
// and keep whole: an unknown field would be dropped without a word when vela
// applies the object. The CRDs come from the istio.io/api module of each
// release, reduced to the v1 schemas of the three kinds (testdata/istio-crds);
// `go test ./test/render/ -run TestIstioCRDFiles -update-istio-crds` writes
// them again from the module (downloaded if needed).

var updateIstioCRDs = flag.Bool("update-istio-crds", false, "rewrite testdata/istio-crds from the istio.io/api module of each release (downloads it)")

// istioReleases are the istio.io/api versions whose CRDs are checked.
var istioReleases = []string{"v1.22.0", "v1.32.0"}

// istioCRDs are the kinds the addon renders, by CRD name.
var istioCRDs = map[string]string{
	"destinationrules.networking.istio.io": "DestinationRule",
	"gateways.networking.istio.io":         "Gateway",
	"virtualservices.networking.istio.io":  "VirtualService",
}

const istioCRDsUpstream = "kubernetes/customresourcedefinitions.gen.yaml"

func istioCRDPath(release string) string {
	return filepath.Join("testdata", "istio-crds", release+".yaml")
}

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

// istioSchemas reads the v1 schema of each kind from the release's file.
func istioSchemas(t *testing.T, release string) map[string]*spec.Schema {
	t.Helper()
	data, err := os.ReadFile(istioCRDPath(release))
	require.NoError(t, err, "run go test ./test/render/ -run TestIstioCRDFiles -update-istio-crds")
	schemas := map[string]*spec.Schema{}
	for _, doc := range strings.Split(string(data), "---\n")[1:] {
		var crd struct {
			Spec struct {
				Names    struct{ Kind string }
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema json.RawMessage
					}
				}
			}
		}
		require.NoError(t, yaml.Unmarshal([]byte(doc), &crd))
		require.Len(t, crd.Spec.Versions, 1)
		require.Equal(t, "v1", crd.Spec.Versions[0].Name)
		s := new(spec.Schema)
		require.NoError(t, json.Unmarshal(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, s))
		schemas[crd.Spec.Names.Kind] = s
	}
	return schemas
}

// istioObject is one Istio object found in testdata.
type istioObject struct {
	where string // file and path in it
	obj   map[string]any
}

// istioObjects are the Istio objects of the golden files (what traits render,
// what steps apply and the fakes answer) and of the live fixtures.
func istioObjects(t *testing.T) []istioObject {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*/*.golden.yaml", "live/*.yaml"} {
		matches, err := filepath.Glob(filepath.Join("testdata", pattern))
		require.NoError(t, err)
		files = append(files, matches...)
	}
	var out []istioObject
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, doc := range strings.Split(string(data), "\n---\n") {
			var v any
			require.NoError(t, yaml.Unmarshal([]byte(doc), &v), f)
			findIstioObjects(v, fmt.Sprintf("%s#%d", f, i), &out)
		}
	}
	return out
}

func findIstioObjects(v any, where string, out *[]istioObject) {
	switch x := v.(type) {
	case map[string]any:
		if av, _ := x["apiVersion"].(string); strings.HasPrefix(av, "networking.istio.io/") {
			*out = append(*out, istioObject{where: where, obj: x})
			return
		}
		for k, val := range x {
			findIstioObjects(val, where+"."+k, out)
		}
	case []any:
		for i, val := range x {
			findIstioObjects(val, fmt.Sprintf("%s[%d]", where, i), out)
		}
	}
}

// istioProblems is what an API server serving the schema would refuse or
// drop in obj: the schema's validation (types, enums, formats, bounds,
// required fields, oneOf) and unknown fields, which a structural schema
// prunes. The CEL rules of the schema are not evaluated: a value on a path
// that has one is reported, so that such a field cannot go unchecked.
func istioProblems(schemas map[string]*spec.Schema, obj map[string]any) []string {
	kind, _ := obj["kind"].(string)
	s, ok := schemas[kind]
	if !ok {
		return []string{fmt.Sprintf("kind %q: not one of the CRDs checked", kind)}
	}
	if obj["apiVersion"] != "networking.istio.io/v1" {
		return []string{fmt.Sprintf("apiVersion %v: the definitions write networking.istio.io/v1", obj["apiVersion"])}
	}
	meta, _ := obj["metadata"].(map[string]any)
	if name, _ := meta["name"].(string); name == "" {
		return []string{"metadata.name is missing"}
	}
	body := map[string]any{}
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			body[k] = v
		}
	}
	var problems []string
	res := validate.NewSchemaValidator(s, nil, "", strfmt.Default).Validate(body)
	for _, err := range res.Errors {
		problems = append(problems, err.Error())
	}
	structuralProblems(s, body, "", &problems)
	sort.Strings(problems)
	return problems
}

func structuralProblems(s *spec.Schema, v any, path string, out *[]string) {
	if rules, ok := s.Extensions["x-kubernetes-validations"]; ok {
		*out = append(*out, fmt.Sprintf("%s: has CEL rules this test does not evaluate: %v", path, rules))
	}
	if preserve, _ := s.Extensions.GetBool("x-kubernetes-preserve-unknown-fields"); preserve {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := path + "." + k
			if prop, ok := s.Properties[k]; ok {
				structuralProblems(&prop, val, p, out)
			} else if ap := s.AdditionalProperties; ap != nil && ap.Schema != nil {
				structuralProblems(ap.Schema, val, p, out)
			} else if ap == nil || !ap.Allows {
				*out = append(*out, p+": unknown field (the API server drops it)")
			}
		}
	case []any:
		if s.Items != nil && s.Items.Schema != nil {
			for i, val := range x {
				structuralProblems(s.Items.Schema, val, fmt.Sprintf("%s[%d]", path, i), out)
			}
		}
	}
}

// TestIstioObjectsMatchCRDs validates every Istio object of testdata against
// the CRDs of each release.
func TestIstioObjectsMatchCRDs(t *testing.T) {
	objects := istioObjects(t)
	kinds := map[string]int{}
	for _, o := range objects {
		kinds[fmt.Sprint(o.obj["kind"])]++
	}
	for _, kind := range istioCRDs {
		assert.NotZero(t, kinds[kind], "testdata holds no %s to check", kind)
	}
	t.Logf("%d objects: %v", len(objects), kinds)
	for _, release := range istioReleases {
		schemas := istioSchemas(t, release)
		t.Run(release, func(t *testing.T) {
			for _, o := range objects {
				if problems := istioProblems(schemas, o.obj); len(problems) > 0 {
					t.Errorf("%s: Istio %s would not take this %v:\n  %s", o.where, release, o.obj["kind"], strings.Join(problems, "\n  "))
				}
			}
		})
	}
}

// TestIstioCRDValidationFails: the check refuses what an API server would,
// and tells the releases apart.
func TestIstioCRDValidationFails(t *testing.T) {
	vs := func(route map[string]any) map[string]any {
		return map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
			"metadata": map[string]any{"name": "reviews"},
			"spec":     map[string]any{"hosts": []any{"reviews"}, "http": []any{route}},
		}
	}
	dest := func(weight any) []any {
		return []any{map[string]any{"destination": map[string]any{"host": "reviews", "subset": "v1"}, "weight": weight}}
	}
	old, newest := istioSchemas(t, istioReleases[0]), istioSchemas(t, istioReleases[len(istioReleases)-1])
	for _, schemas := range []map[string]*spec.Schema{old, newest} {
		require.Empty(t, istioProblems(schemas, vs(map[string]any{"route": dest(100)})), "the valid object")
		assert.Contains(t, strings.Join(istioProblems(schemas, vs(map[string]any{"route": dest(100), "weights": 1})), "\n"), ".spec.http[0].weights: unknown field")
		assert.NotEmpty(t, istioProblems(schemas, vs(map[string]any{"route": dest("ten")})), "a weight that is not a number")
		assert.NotEmpty(t, istioProblems(schemas, map[string]any{"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService"}))
	}
	assert.Contains(t, strings.Join(istioProblems(newest, vs(map[string]any{"route": dest(100), "timeout": "1s"})), "\n"), "CEL rules", "a field with a CEL rule")
	// retryIgnorePreviousHosts came after 1.22: 1.22 drops it.
	retries := vs(map[string]any{"route": dest(100), "retries": map[string]any{"attempts": 2, "retryIgnorePreviousHosts": true}})
	assert.Contains(t, strings.Join(istioProblems(old, retries), "\n"), "retryIgnorePreviousHosts: unknown field")
	assert.Empty(t, istioProblems(newest, retries))
}
