package render

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
)

// component is one component of an Application while its traits render in
// order: the context fields vela gives every trait, the workload as patched
// so far and the outputs of the traits rendered so far.
type component struct {
	Context  map[string]any // name, appName, namespace, components, ...
	Workload map[string]any // context.output
	Outputs  map[string]any // context.outputs, keyed by output name
	// Cluster is what the traits' provider calls find; nil is an empty one.
	Cluster *cluster
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
	// Calls are the provider calls the template made while it compiled.
	Calls   []call         `json:"calls,omitempty"`
	Patch   any            `json:"patch,omitempty"`
	Outputs map[string]any `json:"outputs,omitempty"`
	// Workload is the component's workload after the patch (patch traits only).
	Workload map[string]any `json:"workload,omitempty"`
}

// renderTrait renders a trait the way kubevela v1.11's traitDef.Complete
// does and applies its result to c:
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

	val, calls, err := compileTrait(src, c.Cluster)
	if err == nil {
		if verr := val.Err(); verr != nil && !val.Exists() {
			err = verr
		}
	}
	if err != nil {
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

	res := &traitResult{Calls: calls}
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

// compileTrait is what vela's WorkloadCompiler does with a trait's text
// (cuex.Compiler.CompileStringWithOptions): one file built with the stub
// vela/* packages as imports, then every provider call resolved.
func compileTrait(src string, cl *cluster) (cue.Value, []call, error) {
	pkgs, err := workloadPackages()
	if err != nil {
		return cue.Value{}, nil, err
	}
	f, err := parser.ParseFile("-", src, parser.ParseComments)
	if err != nil {
		return cue.Value{}, nil, err
	}
	bi := build.NewContext().NewInstance("", nil)
	bi.Imports = pkgs
	if err := bi.AddSyntax(f); err != nil {
		return cue.Value{}, nil, err
	}
	return resolveWorkload(cuecontext.New().BuildInstance(bi), cl)
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
