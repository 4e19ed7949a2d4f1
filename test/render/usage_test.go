package render

import (
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParameterUsageComments checks the convention `vela def doc-gen` and the
// VelaUX forms rely on: every field under `parameter`, at any depth, has a
// `// +usage=<text>` comment.
func TestParameterUsageComments(t *testing.T) {
	defs := allDefinitions(t)
	for _, name := range sortedNames(defs, "") {
		d := defs[name]
		t.Run(name, func(t *testing.T) {
			var param *ast.Field
			for _, elt := range d.Body.Elts {
				if f, ok := elt.(*ast.Field); ok {
					if l, _ := labelName(f.Label); l == "parameter" {
						param = f
					}
				}
			}
			require.NotNil(t, param, "%s has no parameter field", d.Path)
			fields := parameterFields(param.Value, "parameter")
			require.NotEmpty(t, fields, "%s: no fields under parameter", d.Path)
			for _, f := range fields {
				assert.True(t, hasUsage(f.field), "%s:%s: parameter field %s has no // +usage= comment", d.Path, f.field.Pos(), f.path)
			}
		})
	}
}

type paramField struct {
	path  string
	field *ast.Field
}

// parameterFields lists every field declared under n, with its path; it
// looks through struct literals, lists, binary expressions (a & b, a | b),
// calls (close, list.MinItems's operand) and comprehensions.
func parameterFields(n ast.Node, path string) []paramField {
	var out []paramField
	var walk func(n ast.Node, path string)
	walk = func(n ast.Node, path string) {
		switch x := n.(type) {
		case *ast.StructLit:
			for _, elt := range x.Elts {
				walk(elt, path)
			}
		case *ast.Field:
			label, err := labelName(x.Label)
			if err != nil {
				label = "<pattern>"
			}
			p := path + "." + label
			out = append(out, paramField{path: p, field: x})
			walk(x.Value, p)
		case *ast.ListLit:
			for _, e := range x.Elts {
				walk(e, path+"[]")
			}
		case *ast.Ellipsis:
			if x.Type != nil {
				walk(x.Type, path)
			}
		case *ast.BinaryExpr:
			walk(x.X, path)
			walk(x.Y, path)
		case *ast.UnaryExpr:
			walk(x.X, path)
		case *ast.ParenExpr:
			walk(x.X, path)
		case *ast.CallExpr:
			for _, a := range x.Args {
				walk(a, path)
			}
		case *ast.Comprehension:
			walk(x.Value, path)
		case *ast.EmbedDecl:
			walk(x.Expr, path)
		}
	}
	walk(n, path)
	return out
}

func hasUsage(f *ast.Field) bool {
	for _, cg := range ast.Comments(f) {
		for _, c := range cg.List {
			text := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
			if rest, ok := strings.CutPrefix(text, "+usage="); ok && strings.TrimSpace(rest) != "" {
				return true
			}
		}
	}
	return false
}

// TestParameterUsageWalker makes sure the walk above finds fields where the
// definitions put them, so that the convention test cannot pass vacuously.
func TestParameterUsageWalker(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      map[string]bool // path -> has usage
	}{
		{name: "nested and listed", src: `parameter: {
	// +usage=a
	a: int
	b?: [...{
		// +usage=c
		c: string
		d: string
	}] & list.MinItems(1)
	e: close({f: int})
	g: *"x" | string
}`, want: map[string]bool{"parameter.a": true, "parameter.b": false, "parameter.b[].c": true, "parameter.b[].d": false, "parameter.e": false, "parameter.e.f": false, "parameter.g": false}},
		{name: "usage text required", src: `parameter: {
	// +usage=
	a: int
	// usage=not a tag
	b: int
}`, want: map[string]bool{"parameter.a": false, "parameter.b": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseCUE(tc.src)
			require.NoError(t, err)
			field := f.Decls[0].(*ast.Field)
			got := map[string]bool{}
			for _, pf := range parameterFields(field.Value, "parameter") {
				got[pf.path] = hasUsage(pf.field)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}
