package docgen

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// usagePrefix starts the comment line that documents a parameter.
const usagePrefix = "+usage="

// ParseDefinition reads one definition file: the top-level field whose value
// has a type field is the definition, template.parameter its parameters.
func ParseDefinition(filename string, src []byte) (Definition, error) {
	f, err := parser.ParseFile(filename, src, parser.ParseComments)
	if err != nil {
		return Definition{}, fmt.Errorf("parse %s: %w", filename, err)
	}
	d := Definition{File: filename}
	var template *ast.StructLit
	for _, field := range fields(f.Decls) {
		name, err := labelName(field)
		if err != nil {
			return d, fmt.Errorf("%s: %w", filename, err)
		}
		body, ok := field.Value.(*ast.StructLit)
		if !ok {
			continue
		}
		if name == "template" {
			template = body
			continue
		}
		if kind := stringField(body, "type"); kind != "" {
			d.Name, d.Kind = name, kind
			d.Description = stringField(body, "description")
			if attrs := structField(body, "attributes"); attrs != nil {
				d.AppliesTo = stringList(attrs, "appliesToWorkloads")
			}
		}
	}
	if d.Name == "" {
		return d, fmt.Errorf("%s: no definition (a top-level field with a type field)", filename)
	}
	if template == nil {
		return d, fmt.Errorf("%s: definition %s has no template", filename, d.Name)
	}
	if params := structField(template, "parameter"); params != nil {
		if d.Params, err = parseParams("", params); err != nil {
			return d, fmt.Errorf("%s: %w", filename, err)
		}
	}
	return d, nil
}

// ParseParameters reads the top-level parameter field of a file such as the
// addon's parameter.cue.
func ParseParameters(filename string, src []byte) ([]Param, error) {
	f, err := parser.ParseFile(filename, src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", filename, err)
	}
	for _, field := range fields(f.Decls) {
		if name, _ := labelName(field); name != "parameter" {
			continue
		}
		body, ok := field.Value.(*ast.StructLit)
		if !ok {
			return nil, fmt.Errorf("%s: parameter is not a struct", filename)
		}
		params, err := parseParams("", body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filename, err)
		}
		return params, nil
	}
	return nil, fmt.Errorf("%s: no parameter field", filename)
}

// parseParams lists the fields of a parameter struct, depth first.
func parseParams(prefix string, s *ast.StructLit) ([]Param, error) {
	var out []Param
	for _, field := range fields(s.Elts) {
		name, err := labelName(field)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(name, "_") || strings.HasPrefix(name, "#") {
			continue // hidden fields and definitions are not parameters
		}
		path := prefix + name
		t := describe(field.Value)
		out = append(out, Param{
			Path:     path,
			Type:     t.text(),
			Default:  t.def,
			Required: field.Constraint != token.OPTION && t.def == "",
			Usage:    usage(field),
		})
		if t.children != nil {
			nested, err := parseParams(path+t.childSep, t.children)
			if err != nil {
				return nil, err
			}
			out = append(out, nested...)
		}
	}
	return out, nil
}

// usage returns the text of the field's `// +usage=` comment line.
func usage(f *ast.Field) string {
	for _, g := range ast.Comments(f) {
		for _, c := range g.List {
			line := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
			if strings.HasPrefix(line, usagePrefix) {
				return strings.TrimSpace(strings.TrimPrefix(line, usagePrefix))
			}
		}
	}
	return ""
}

func fields(decls []ast.Decl) []*ast.Field {
	var out []*ast.Field
	for _, d := range decls {
		if f, ok := d.(*ast.Field); ok {
			out = append(out, f)
		}
	}
	return out
}

func labelName(f *ast.Field) (string, error) {
	name, _, err := ast.LabelName(f.Label)
	if err != nil {
		return "", fmt.Errorf("label at %s: %w", f.Pos(), err)
	}
	return name, nil
}

func structField(s *ast.StructLit, name string) *ast.StructLit {
	for _, f := range fields(s.Elts) {
		if n, _ := labelName(f); n == name {
			if body, ok := f.Value.(*ast.StructLit); ok {
				return body
			}
		}
	}
	return nil
}

func stringField(s *ast.StructLit, name string) string {
	for _, f := range fields(s.Elts) {
		if n, _ := labelName(f); n == name {
			return stringValue(f.Value)
		}
	}
	return ""
}

func stringList(s *ast.StructLit, name string) []string {
	for _, f := range fields(s.Elts) {
		if n, _ := labelName(f); n != name {
			continue
		}
		l, ok := f.Value.(*ast.ListLit)
		if !ok {
			return nil
		}
		var out []string
		for _, e := range l.Elts {
			if v := stringValue(e); v != "" {
				out = append(out, v)
			}
		}
		return out
	}
	return nil
}
