package render

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// traitCase is one testdata/<trait>/<case>.yaml.
type traitCase struct {
	Description string `json:"description"`
	// Context is merged over testdata/context.yaml (maps merge, null deletes).
	// context.components, unless the case gives it, is the component with
	// Traits, the trait under test and After, as vela lists it.
	Context map[string]any `json:"context,omitempty"`
	// Live are the Deployments in the cluster, in any namespace: what the
	// traits' kube.#List finds (the fake applies the call's filter).
	Live []map[string]any `json:"live,omitempty"`
	// ListError makes every kube.#List fail with this message.
	ListError string `json:"listError,omitempty"`
	// Traits render before the one under test, on the same component, in
	// order; their patches and outputs are what it sees in context.
	Traits []caseTrait `json:"traits,omitempty"`
	// Properties of the trait under test.
	Properties map[string]any `json:"properties,omitempty"`
	// After are the traits listed after the one under test: not rendered,
	// only seen in context.components.
	After []caseTrait `json:"after,omitempty"`
	// ErrorMentions, when set, makes the case invalid: rendering must fail
	// and the error must contain each of these strings.
	ErrorMentions []string `json:"errorMentions,omitempty"`
}

// caseTrait is a trait of the component under test.
type caseTrait struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties,omitempty"`
	// Patch stands in for a trait this repository does not define (vela's
	// service-account, env, ...): it is merged into the workload (maps
	// merge, lists are replaced) instead of rendering a definition.
	Patch map[string]any `json:"patch,omitempty"`
}

// applicationComponent is the entry of context.components vela gives for a
// component (common.ApplicationComponent as JSON).
func applicationComponent(name, typ string, properties map[string]any, traits []caseTrait) map[string]any {
	ts := []any{}
	for _, tr := range traits {
		e := map[string]any{"type": tr.Type}
		if tr.Properties != nil {
			e["properties"] = tr.Properties
		}
		ts = append(ts, e)
	}
	c := map[string]any{"name": name, "type": typ, "traits": ts}
	if properties != nil {
		c["properties"] = properties
	}
	return c
}

// defaultContext is testdata/context.yaml: component reviews (a webservice
// Deployment as vela renders it) of app book-info in namespace default.
func defaultContext(t *testing.T) map[string]any {
	t.Helper()
	var ctx map[string]any
	readYAML(t, filepath.Join("testdata", "context.yaml"), &ctx)
	return ctx
}

// runTraitCase renders the case's earlier traits and then the trait under test.
func runTraitCase(t *testing.T, defs map[string]*definition, trait string, tc traitCase) (*traitResult, error) {
	t.Helper()
	all := append(append(append([]caseTrait{}, tc.Traits...), caseTrait{Type: trait, Properties: tc.Properties}), tc.After...)
	c := caseComponent(t, tc, all)
	for i, tr := range tc.Traits {
		_, err := renderCaseTrait(t, defs, tr, c)
		require.NoError(t, err, "traits[%d] (%s) must render", i, tr.Type)
	}
	return renderTrait(defs[trait], tc.Properties, c)
}

// caseComponent is the component of a case, whose traits are all of them
// in order: its context, with context.components unless the case gives it,
// and its cluster.
func caseComponent(t *testing.T, tc traitCase, all []caseTrait) *component {
	t.Helper()
	ctx := deepMerge(defaultContext(t), tc.Context)
	if _, ok := tc.Context["components"]; !ok {
		ctx["components"] = []any{applicationComponent(fmt.Sprint(ctx["name"]), "webservice", nil, all)}
	}
	c := newComponent(ctx)
	c.Cluster = &cluster{Deployments: tc.Live, ListError: tc.ListError}
	return c
}

// renderCaseTrait renders one trait of a case on c, or applies its stand-in
// patch.
func renderCaseTrait(t *testing.T, defs map[string]*definition, tr caseTrait, c *component) (*traitResult, error) {
	t.Helper()
	if tr.Patch != nil {
		_, ok := defs[tr.Type]
		require.False(t, ok, "%s is defined here; render it instead of patching", tr.Type)
		c.Workload = deepMerge(c.Workload, tr.Patch)
		return &traitResult{Workload: c.Workload}, nil
	}
	d, ok := defs[tr.Type]
	require.True(t, ok, "no definition %s", tr.Type)
	return renderTrait(d, tr.Properties, c)
}

// TestTraitGolden renders every case of every trait and compares the result
// with its golden file.
func TestTraitGolden(t *testing.T) {
	defs := allDefinitions(t)
	for _, name := range sortedNames(defs, "trait") {
		t.Run(name, func(t *testing.T) {
			files := caseFiles(t, name)
			require.NotEmpty(t, files, "trait %s has no cases in testdata/%s", name, name)
			cases := make([]traitCase, len(files))
			var valid, invalid int
			for i, file := range files {
				readYAML(t, file, &cases[i])
				require.NotEmpty(t, cases[i].Description, "%s: say what the case is about in description", file)
				if len(cases[i].ErrorMentions) > 0 {
					invalid++
				} else {
					valid++
				}
			}
			assert.NotZero(t, valid, "trait %s needs valid cases", name)
			assert.NotZero(t, invalid, "trait %s needs invalid cases", name)
			for i, file := range files {
				tc := cases[i]
				t.Run(caseName(file), func(t *testing.T) {
					res, err := runTraitCase(t, defs, name, tc)
					var golden any
					if len(tc.ErrorMentions) > 0 {
						require.Error(t, err, "invalid case must fail to render")
						for _, m := range tc.ErrorMentions {
							assert.Contains(t, err.Error(), m, "the error must name the offending field")
						}
						golden = map[string]any{"error": err.Error()}
					} else {
						require.NoError(t, err)
						golden = res
					}
					out, err := yaml.Marshal(golden)
					require.NoError(t, err)
					checkGolden(t, goldenPath(file), out)
				})
			}
		})
	}
}

// TestCanaryTrafficServiceMatchesExpose: expose and canary-traffic both
// render Service <component> (outputs.service); listed together, as the seed
// does, they must render the same object or vela applies two versions of it.
func TestCanaryTrafficServiceMatchesExpose(t *testing.T) {
	defs := allDefinitions(t)
	var tc traitCase
	readYAML(t, filepath.Join("testdata", "canary-traffic", "with-expose.yaml"), &tc)
	expose := tc.Context["outputs"].(map[string]any)["service"]
	require.NotNil(t, expose, "the case holds expose's Service in context.outputs.service")
	res, err := runTraitCase(t, defs, "canary-traffic", tc)
	require.NoError(t, err)
	if own, ok := res.Outputs["service"]; ok {
		assert.Equal(t, expose, own, "canary-traffic's Service differs from expose's")
	}
}

// TestOutputNamesUnique checks what vela's Application webhook checks
// (validateAuxiliaryNameUnique) on every component of the bookinfo
// Application: the outputs of a component's traits must have distinct names.
// expose is emulated (its output: service).
func TestOutputNamesUnique(t *testing.T) {
	defs := allDefinitions(t)
	var app map[string]any
	readYAML(t, filepath.Join("testdata", "bookinfo.yaml"), &app)
	var clashes []string
	components := appComponents(app)
	for _, name := range []string{"details", "productpage", "ratings", "reviews"} {
		comp := app[name].(map[string]any)
		c := newComponent(deepMerge(defaultContext(t), map[string]any{"name": name, "components": components}))
		seen := map[string]string{}
		for _, tr := range comp["traits"].([]any) {
			tm := tr.(map[string]any)
			typ := tm["type"].(string)
			var names []string
			if typ == "expose" {
				names = []string{"service"}
			} else {
				props, _ := tm["properties"].(map[string]any)
				res, err := renderTrait(defs[typ], props, c)
				require.NoError(t, err, "%s: trait %s", name, typ)
				for n := range res.Outputs {
					names = append(names, n)
				}
			}
			for _, n := range names {
				if prev, ok := seen[n]; ok {
					clashes = append(clashes, fmt.Sprintf("%s: outputs.%s of %s and of %s", name, n, prev, typ))
				}
				seen[n] = typ
			}
		}
	}
	assert.Empty(t, clashes)
}

// appComponents is context.components for an Application given as its
// components by name (testdata/bookinfo.yaml): the list, by name.
func appComponents(app map[string]any) []any {
	var names []string
	for n := range app {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]any, 0, len(names))
	for _, n := range names {
		out = append(out, app[n])
	}
	return out
}
