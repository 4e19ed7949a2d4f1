package docgen

import (
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// typeDesc describes a parameter's value: its type as CUE without the default
// alternative and with structs shown as {...}, its default, and the struct
// whose fields are nested parameters.
type typeDesc struct {
	typ      string
	def      string
	children *ast.StructLit
	// childSep joins the parameter's path and its children's names: "." for
	// a struct, "[]." for the elements of a list.
	childSep string
}

func (t typeDesc) text() string { return t.typ }

// describe turns a field's value into a typeDesc.
func describe(e ast.Expr) typeDesc {
	if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.OR {
		return describeDisjunction(flatten(b, token.OR))
	}
	var t typeDesc
	t.typ = typeText(e, &t)
	return t
}

// describeDisjunction takes the default out of a | b | *c. When every
// alternative is a literal (an enum), the type lists them all.
func describeDisjunction(alts []ast.Expr) typeDesc {
	var t typeDesc
	var rest []ast.Expr
	allLiterals := true
	for _, a := range alts {
		if u, ok := a.(*ast.UnaryExpr); ok && u.Op == token.MUL {
			t.def = typeText(u.X, &t)
			if _, lit := u.X.(*ast.BasicLit); !lit {
				allLiterals = false
			}
			continue
		}
		if _, lit := a.(*ast.BasicLit); !lit {
			allLiterals = false
		}
		rest = append(rest, a)
	}
	if allLiterals && t.def != "" {
		rest = alts
	}
	var parts []string
	for _, a := range rest {
		if u, ok := a.(*ast.UnaryExpr); ok && u.Op == token.MUL {
			a = u.X
		}
		parts = append(parts, typeText(a, &t))
	}
	t.typ = strings.Join(parts, " | ")
	return t
}

// typeText renders e as CUE, showing structs as {...}; the first struct met
// becomes t's children.
func typeText(e ast.Expr, t *typeDesc) string {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return "(" + typeText(x.X, t) + ")"
	case *ast.Ident:
		return x.Name
	case *ast.BasicLit:
		return x.Value
	case *ast.UnaryExpr:
		return x.Op.String() + typeText(x.X, t)
	case *ast.BinaryExpr:
		var parts []string
		for _, p := range flatten(x, x.Op) {
			parts = append(parts, typeText(p, t))
		}
		return strings.Join(parts, " "+x.Op.String()+" ")
	case *ast.StructLit:
		t.setChildren(x, ".")
		return "{...}"
	case *ast.ListLit:
		return listText(x, t)
	case *ast.CallExpr:
		if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "close" && len(x.Args) == 1 {
			return typeText(x.Args[0], t)
		}
	}
	return source(e)
}

// listText renders [a, b, ...T]; the struct of T's elements becomes the
// children, joined with "[].".
func listText(l *ast.ListLit, t *typeDesc) string {
	var parts []string
	for _, e := range l.Elts {
		el, ok := e.(*ast.Ellipsis)
		if !ok {
			parts = append(parts, typeText(e, t))
			continue
		}
		if el.Type == nil {
			parts = append(parts, "...")
			continue
		}
		var elem typeDesc
		text := typeText(el.Type, &elem)
		if elem.children != nil {
			t.setChildren(elem.children, "[]"+elem.childSep)
		}
		parts = append(parts, "..."+text)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (t *typeDesc) setChildren(s *ast.StructLit, sep string) {
	if t.children == nil {
		t.children, t.childSep = s, sep
	}
}

// flatten lists the operands of a chain of one binary operator.
func flatten(e ast.Expr, op token.Token) []ast.Expr {
	b, ok := e.(*ast.BinaryExpr)
	if !ok || b.Op != op {
		return []ast.Expr{e}
	}
	return append(flatten(b.X, op), flatten(b.Y, op)...)
}

// source formats a node as CUE on one line.
func source(n ast.Node) string {
	b, err := format.Node(n)
	if err != nil {
		return "_"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// stringValue is the value of a string literal, or "".
func stringValue(e ast.Expr) string {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return ""
	}
	s, err := literal.Unquote(lit.Value)
	if err != nil {
		return ""
	}
	return s
}
