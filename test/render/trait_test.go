package render

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// component is one component of an Application while its traits render in
// order: the context fields vela gives every trait, the workload as patched
// so far and the outputs of the traits rendered so far.
type component struct {
	Context  map[string]any // name, appName, namespace, appRevision, ...
	Workload map[string]any // context.output
	Outputs  map[string]any // context.outputs, keyed by output name
}

// newComponent builds a component from a context map in the shape the trait
// sees (`output` and `outputs` included).
func newComponent(ctx map[string]any) *component {
	c := &component{Context: map[string]any{}, Outputs: map[string]any{}}
	for k, v := range ctx {
		switch k {
		case "output":
			c.Workload, _ = v.(map[string]any)
		case "outputs":
			if m, ok := v.(map[string]any); ok {
				for name, o := range m {
					c.Outputs[name] = o
				}
			}
		default:
			c.Context[k] = v
		}
	}
	return c
}

// contextFile is the `context: {...}` vela appends to a template
// (process.Context.BaseContextFile): the JSON of the context data, with
// `output` and, when there are any, `outputs`.
func (c *component) contextFile() (string, error) {
	data := make(map[string]any, len(c.Context)+2)
	for k, v := range c.Context {
		data[k] = v
	}
	if c.Workload != nil {
		data["output"] = c.Workload
	}
	if len(c.Outputs) > 0 {
		data["outputs"] = c.Outputs
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "", err
	}
	return "context: " + string(b) + "\n", nil
}

// traitResult is what one trait rendered.
type traitResult struct {
	Patch   any            `json:"patch,omitempty"`
	Outputs map[string]any `json:"outputs,omitempty"`
	// Workload is the component's workload after the patch (patch traits only).
	Workload map[string]any `json:"workload,omitempty"`
}

// renderTrait renders a trait the way kubevela v1.11's traitDef.Complete
// (pkg/cue/definition/template.go) does and applies its result to c:
// patch unified into the workload, outputs added to c.Outputs.
// The error texts follow vela's ("validation failed for trait ...").
func renderTrait(def *definition, properties map[string]any, c *component) (*traitResult, error) {
	src := def.Template + "\n"
	if properties != nil {
		b, err := json.Marshal(properties)
		if err != nil {
			return nil, err
		}
		src += "parameter: " + string(b) + "\n"
	}
	ctxFile, err := c.contextFile()
	if err != nil {
		return nil, err
	}
	src += ctxFile

	val := cuecontext.New().CompileString(src)
	if err := val.Err(); err != nil && !val.Exists() {
		return nil, fmt.Errorf("failed to compile trait %s after merge parameter and context: %w", def.Name, err)
	}

	// errs: a list of strings, else ignored (vela logs a warning).
	var userErrors []string
	if errs := val.LookupPath(cue.ParsePath("errs")); errs.Exists() {
		if err := errs.Decode(&userErrors); err != nil {
			userErrors = nil
		}
	}
	validationErr := val.Validate()
	if validationErr != nil || len(userErrors) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "validation failed for trait %s:", def.Name)
		if len(userErrors) > 0 {
			b.WriteString("\n\nUser Errors:\n")
			for _, e := range userErrors {
				fmt.Fprintf(&b, "  %s\n", e)
			}
		}
		if validationErr != nil {
			b.WriteString(formatCUEError(validationErr, val))
		}
		return nil, fmt.Errorf("%s", strings.TrimRight(b.String(), "\n"))
	}

	res := &traitResult{}
	if outputs := val.LookupPath(cue.ParsePath("outputs")); outputs.Exists() {
		iter, err := outputs.Fields(cue.Definitions(true), cue.Hidden(true), cue.All())
		if err != nil {
			return nil, fmt.Errorf("invalid outputs of trait %s: %w", def.Name, err)
		}
		res.Outputs = map[string]any{}
		for iter.Next() {
			if iter.Selector().IsDefinition() || iter.Selector().PkgPath() != "" || iter.IsOptional() {
				continue
			}
			name := iter.Selector().Unquoted()
			// vela turns each output into an object when it dispatches it
			// (model.Instance.Unstructured): it must be concrete then.
			obj, err := compileObject(iter.Value())
			if err != nil {
				return nil, fmt.Errorf("failed to have the workload/trait unstructured: outputs.%s of trait %s: %w", name, def.Name, err)
			}
			res.Outputs[name] = obj
		}
	}

	if patcher := val.LookupPath(cue.ParsePath("patch")); patcher.Exists() {
		if c.Workload == nil {
			return nil, fmt.Errorf("patch trait %s into an invalid workload", def.Name)
		}
		wb, err := json.Marshal(c.Workload)
		if err != nil {
			return nil, err
		}
		// vela unifies the patch into the workload with its strategic unify
		// (see strategyUnify): conflicting values fail.
		patched, err := strategyUnify(cuecontext.New().CompileBytes(wb), patcher)
		if err != nil {
			return nil, fmt.Errorf("invalid patch trait %s into workload: %w", def.Name, err)
		}
		obj, err := compileObject(patched)
		if err != nil {
			return nil, fmt.Errorf("failed to have the workload/trait unstructured: workload after trait %s: %w", def.Name, err)
		}
		pb, err := patcher.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("patch of trait %s: %w", def.Name, err)
		}
		if err := json.Unmarshal(pb, &res.Patch); err != nil {
			return nil, err
		}
		res.Workload = obj
		c.Workload = obj
	}
	for name, o := range res.Outputs {
		c.Outputs[name] = o
	}
	return res, nil
}

// compileObject is model.Instance.Compile: the value must be final and
// concrete; it returns its JSON as a map.
func compileObject(v cue.Value) (map[string]any, error) {
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := v.Validate(cue.Concrete(true), cue.Final()); err != nil {
		return nil, err
	}
	b, err := v.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// formatCUEError is the part after the prefix of vela's FormatCUEError:
// errors about parameter.* first, then the others, each list sorted; the
// concreteness errors of the whole value are added, as vela does.
func formatCUEError(err error, val cue.Value) string {
	params, tmpl := map[string]bool{}, map[string]bool{}
	add := func(err error) {
		for _, e := range cueerrors.Errors(err) {
			msg := e.Error()
			if strings.HasPrefix(msg, "parameter.") {
				params[msg] = true
			} else {
				tmpl[msg] = true
			}
		}
	}
	add(err)
	if cerr := val.Validate(cue.Concrete(true)); cerr != nil {
		add(cerr)
	}
	var b strings.Builder
	for _, group := range []struct {
		title string
		msgs  map[string]bool
	}{{"Parameter errors", params}, {"Template errors", tmpl}} {
		if len(group.msgs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n\n%s:\n", group.title)
		var msgs []string
		for m := range group.msgs {
			msgs = append(msgs, m)
		}
		sort.Strings(msgs)
		for _, m := range msgs {
			fmt.Fprintf(&b, "  %s\n", m)
		}
	}
	return b.String()
}

// traitCase is one testdata/<trait>/<case>.yaml.
type traitCase struct {
	Description string `json:"description"`
	// Context is merged over testdata/context.yaml (maps merge, null deletes).
	Context map[string]any `json:"context,omitempty"`
	// Traits render before the one under test, on the same component, in
	// order; their patches and outputs are what it sees in context.
	Traits []struct {
		Type       string         `json:"type"`
		Properties map[string]any `json:"properties,omitempty"`
	} `json:"traits,omitempty"`
	// Properties of the trait under test.
	Properties map[string]any `json:"properties,omitempty"`
	// ErrorMentions, when set, makes the case invalid: rendering must fail
	// and the error must contain each of these strings.
	ErrorMentions []string `json:"errorMentions,omitempty"`
	// KnownBug marks an invalid case whose error does not yet mention
	// everything in ErrorMentions because of a bug in the definition (say
	// which, and the fix). The test then asserts the bug is still there, so
	// that fixing the definition makes it fail: remove knownBug, -update.
	KnownBug string `json:"knownBug,omitempty"`
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
	c := newComponent(deepMerge(defaultContext(t), tc.Context))
	for i, tr := range tc.Traits {
		d, ok := defs[tr.Type]
		require.True(t, ok, "traits[%d]: no definition %s", i, tr.Type)
		_, err := renderTrait(d, tr.Properties, c)
		require.NoError(t, err, "traits[%d] (%s) must render", i, tr.Type)
	}
	return renderTrait(defs[trait], tc.Properties, c)
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
						checkMentions(t, err.Error(), tc.ErrorMentions, tc.KnownBug)
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

// checkMentions asserts that msg contains every one of mentions, or, for a
// case marked with a known bug, that it still misses one of them.
func checkMentions(t *testing.T, msg string, mentions []string, knownBug string) {
	t.Helper()
	if knownBug == "" {
		for _, m := range mentions {
			assert.Contains(t, msg, m, "the error must name the offending field")
		}
		return
	}
	var missing []string
	for _, m := range mentions {
		if !strings.Contains(msg, m) {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		t.Errorf("the known bug looks fixed (the error now mentions %q): remove knownBug from the case and run -update", mentions)
		return
	}
	t.Logf("known bug, the error does not mention %q: %s", missing, knownBug)
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

// outputNamesBug, when not empty, is a known bug about output names: the
// test then asserts it is still there, so that the fix makes it fail.
const outputNamesBug = ""

// TestOutputNamesUnique mimics the Application webhook's
// validateAuxiliaryNameUnique (kubevela pkg/appfile/validate.go) on every
// component of the bookinfo Application: the outputs of a component's
// traits must have distinct names. expose is emulated (its output: service).
func TestOutputNamesUnique(t *testing.T) {
	defs := allDefinitions(t)
	var app map[string]any
	readYAML(t, filepath.Join("testdata", "bookinfo.yaml"), &app)
	var clashes []string
	for _, name := range []string{"details", "productpage", "ratings", "reviews"} {
		comp := app[name].(map[string]any)
		c := newComponent(deepMerge(defaultContext(t), map[string]any{"name": name}))
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
	if outputNamesBug != "" {
		require.NotEmpty(t, clashes, "the known bug looks fixed: empty outputNamesBug")
		t.Logf("known bug: %s: %v", outputNamesBug, clashes)
		return
	}
	assert.Empty(t, clashes)
}
