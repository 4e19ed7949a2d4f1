package render

import (
	"encoding/json"
	"fmt"
	"os"
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
// them again from the module (downloaded if needed; istio_crd_files_test.go).

// istioReleases are the istio.io/api versions whose CRDs are checked.
var istioReleases = []string{"v1.22.0", "v1.32.0"}

// istioCRDs are the kinds the addon renders, by CRD name.
var istioCRDs = map[string]string{
	"destinationrules.networking.istio.io": "DestinationRule",
	"gateways.networking.istio.io":         "Gateway",
	"virtualservices.networking.istio.io":  "VirtualService",
}

func istioCRDPath(release string) string {
	return filepath.Join("testdata", "istio-crds", release+".yaml")
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
