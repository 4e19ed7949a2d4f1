package render

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/token"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// strategyUnify patches base with patch the way vela does when a step's
// oam.#ApplyComponent carries a patch (appfile baseGenerateComponent ->
// model.Instance.Unify -> kubevela/workflow pkg/cue/model/sets.StrategyUnify,
// strategic mode): every list of base is opened; for each field of the patch,
// a list with `// +patchStrategy=replace` replaces the base's list, a field
// with `// +patchStrategy=retainKeys` replaces the base's value of that
// field; everything else is CUE unification, so two different scalars
// conflict. (`+patchKey` list merges are not emulated: they fail here.)
// That package cannot be imported by this module as it stands (its
// json-patch dependency is not in go.sum), hence this port of its logic.
func strategyUnify(base, patch cue.Value) (cue.Value, error) {
	baseFile, err := toFile(base.Syntax(cue.Docs(true), cue.ResolveReferences(true))) //nolint:staticcheck // vela exports with it; without it references stay dangling
	if err != nil {
		return cue.Value{}, err
	}
	openLists(baseFile)
	patchFile, err := toFile(patch.Syntax(cue.Docs(true), cue.ResolveReferences(true))) //nolint:staticcheck // as vela does
	if err != nil {
		return cue.Value{}, err
	}
	if err := applyPatchStrategies(baseFile, patchFile); err != nil {
		return cue.Value{}, err
	}
	ctx := cuecontext.New()
	ret := ctx.BuildFile(baseFile).Unify(ctx.BuildFile(patchFile))
	if err := ret.Err(); err != nil {
		return ret, fmt.Errorf("result check err: %w", err)
	}
	if err := ret.Validate(cue.All()); err != nil {
		return ret, fmt.Errorf("result validate: %w", err)
	}
	return ret, nil
}

func toFile(n ast.Node) (*ast.File, error) {
	switch x := n.(type) {
	case *ast.StructLit:
		var decls []ast.Decl
		for _, elt := range x.Elts {
			if _, ok := elt.(*ast.Ellipsis); !ok {
				decls = append(decls, elt)
			}
		}
		return &ast.File{Decls: decls}, nil
	case ast.Expr:
		ast.SetRelPos(x, token.NoSpace)
		return &ast.File{Decls: []ast.Decl{&ast.EmbedDecl{Expr: x}}}, nil
	case *ast.File:
		return x, nil
	}
	return nil, fmt.Errorf("unsupported node type %T", n)
}

// openLists appends `...` to every list value of a field, so a shorter patch
// list unifies with the head of a longer base list.
func openLists(f *ast.File) {
	ast.Walk(f, func(node ast.Node) bool {
		field, ok := node.(*ast.Field)
		if !ok {
			return true
		}
		if lit, ok := field.Value.(*ast.ListLit); ok {
			if n := len(lit.Elts); n > 0 {
				if _, ok := lit.Elts[n-1].(*ast.Ellipsis); ok {
					return true
				}
			}
			elts := append(append([]ast.Expr{}, lit.Elts...), &ast.Ellipsis{})
			field.Value = ast.NewList(elts...)
		}
		return true
	}, nil)
}

var errNotFound = errors.New("not found")

// commentTags reads the `// +key=value` comments of a node.
func commentTags(groups []*ast.CommentGroup) map[string]string {
	tags := map[string]string{}
	for _, g := range groups {
		for _, c := range g.List {
			line := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
			if !strings.HasPrefix(line, "+") {
				continue
			}
			kv := strings.SplitN(line[1:], "=", 2)
			if len(kv) == 2 && len(strings.Fields(kv[1])) == 1 {
				tags[strings.TrimSpace(kv[0])] = strings.TrimSpace(kv[1])
			}
		}
	}
	return tags
}

func labelStr(l ast.Label) string {
	switch v := l.(type) {
	case *ast.Ident:
		return v.Name
	case *ast.BasicLit:
		return v.Value
	}
	return ""
}

func peelClose(n ast.Node) ast.Node {
	if call, ok := n.(*ast.CallExpr); ok {
		if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "close" && len(call.Args) == 1 {
			return call.Args[0]
		}
	}
	return n
}

func lookUpNode(node ast.Node, path ...string) (ast.Node, error) {
	if len(path) == 0 {
		return peelClose(node), nil
	}
	key := path[0]
	field := func(decl ast.Node) ast.Node {
		if f, ok := decl.(*ast.Field); ok && labelStr(f.Label) == key {
			return f.Value
		}
		return nil
	}
	switch x := node.(type) {
	case *ast.File:
		for _, d := range x.Decls {
			if v := field(d); v != nil {
				return lookUpNode(v, path[1:]...)
			}
		}
	case *ast.StructLit:
		for _, d := range x.Elts {
			if v := field(d); v != nil {
				return lookUpNode(v, path[1:]...)
			}
		}
	case *ast.ListLit:
		for i, e := range x.Elts {
			if strconv.Itoa(i) == key {
				return lookUpNode(e, path[1:]...)
			}
		}
	case *ast.CallExpr:
		return lookUpNode(peelClose(x), path...)
	}
	return nil, errNotFound
}

// applyPatchStrategies walks the patch and rewrites base where the patch's
// comments ask for replace (lists) or retainKeys (any other field).
func applyPatchStrategies(base *ast.File, patch *ast.File) error {
	var walkErr error
	var walk func(n ast.Node, pos []string, tags map[string]string)
	walk = func(n ast.Node, pos []string, tags map[string]string) {
		switch x := n.(type) {
		case *ast.File:
			for _, d := range x.Decls {
				walk(d, pos, tags)
			}
		case *ast.StructLit:
			for _, d := range x.Elts {
				walk(d, pos, tags)
			}
		case *ast.EmbedDecl:
			walk(x.Expr, pos, tags)
		case *ast.ListLit:
			for i, e := range x.Elts {
				walk(e, append(append([]string{}, pos...), strconv.Itoa(i)), tags)
			}
		case *ast.Field:
			label := labelStr(x.Label)
			if label == "" || strings.HasPrefix(label, "#") || x.Value == nil {
				return
			}
			own := commentTags(x.Comments())
			switch val := peelClose(x.Value).(type) {
			case *ast.ListLit:
				if own["patchStrategy"] == "replace" {
					if sub, err := lookUpNode(base, append(append([]string{}, pos...), label)...); err == nil {
						if bl, ok := sub.(*ast.ListLit); ok {
							bl.Elts = val.Elts
						}
					}
				} else if key := firstNonEmpty(own["patchKey"], tags["patchKey"]); key != "" {
					walkErr = fmt.Errorf("%s: +patchKey=%s list merge is not emulated by this test", strings.Join(append(pos, label), "."), key)
				}
			default:
				if own["patchStrategy"] == "retainKeys" {
					replaceField(base, pos, label, x.Value)
				}
			}
			inner := map[string]string{}
			for k, v := range tags {
				inner[k] = v
			}
			for k, v := range own {
				inner[k] = v
			}
			walk(x.Value, append(append([]string{}, pos...), label), inner)
		case *ast.BinaryExpr:
			walk(x.X, pos, tags)
			walk(x.Y, pos, tags)
		case *ast.CallExpr:
			// As vela's walker: into close's argument, else into the
			// arguments (a patch exported as an expression has calls).
			if inner := peelClose(x); inner != ast.Node(x) {
				walk(inner, pos, tags)
			} else {
				for _, a := range x.Args {
					walk(a, pos, tags)
				}
			}
		}
	}
	walk(patch, nil, map[string]string{})
	return walkErr
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// replaceField sets the value of field label of the struct at pos in base.
func replaceField(base *ast.File, pos []string, label string, value ast.Expr) {
	parent, err := lookUpNode(base, pos...)
	if err != nil {
		return
	}
	var decls []ast.Decl
	switch p := parent.(type) {
	case *ast.File:
		decls = p.Decls
	case *ast.StructLit:
		decls = p.Elts
	}
	for _, d := range decls {
		if f, ok := d.(*ast.Field); ok && labelStr(f.Label) == label {
			f.Value = value
		}
	}
}

func TestStrategyUnify(t *testing.T) {
	base := `spec: {replicas: 2, selector: {app: "r", version: "v2"}, list: [1, 2, 3], keep: "x"}`
	for _, tc := range []struct {
		name, patch string
		want        string // JSON of the result; empty when it must fail
		errMentions string
	}{
		{name: "merge", patch: `spec: selector: team: "a"`,
			want: `{"spec":{"replicas":2,"selector":{"app":"r","version":"v2","team":"a"},"list":[1,2,3],"keep":"x"}}`},
		{name: "scalar conflict", patch: `spec: replicas: 1`, errMentions: "spec.replicas: conflicting values"},
		{name: "int and float conflict", patch: `spec: replicas: 2.0`, errMentions: "mismatched types int and float"},
		{name: "shorter list conflicts", patch: `spec: list: [1]`, errMentions: "incompatible list lengths"},
		{name: "longer list extends", patch: `spec: list: [1, 2, 3, 4]`,
			want: `{"spec":{"replicas":2,"selector":{"app":"r","version":"v2"},"list":[1,2,3,4],"keep":"x"}}`},
		{name: "list replace", patch: "spec: {\n// +patchStrategy=replace\nlist: [9]\n}",
			want: `{"spec":{"replicas":2,"selector":{"app":"r","version":"v2"},"list":[9],"keep":"x"}}`},
		{name: "replace on a struct does nothing", patch: "spec: {\n// +patchStrategy=replace\nselector: {app: \"r\", version: \"v1\"}\n}",
			errMentions: "spec.selector.version: conflicting values"},
		{name: "retainKeys replaces a struct", patch: "// +patchStrategy=retainKeys\nspec: {replicas: 1, selector: {app: \"r\", version: \"v1\"}}",
			want: `{"spec":{"replicas":1,"selector":{"app":"r","version":"v1"}}}`},
		{name: "retainKeys on a nested field", patch: "spec: {\n// +patchStrategy=retainKeys\nselector: {version: \"v1\"}\n}",
			want: `{"spec":{"replicas":2,"selector":{"version":"v1"},"list":[1,2,3],"keep":"x"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := cuecontext.New()
			b := ctx.CompileString(base)
			p := ctx.CompileString(tc.patch, cue.Filename("patch.cue"))
			require.NoError(t, p.Err())
			got, err := strategyUnify(b, p)
			if tc.want == "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.errMentions)
				return
			}
			require.NoError(t, err)
			js, err := got.MarshalJSON()
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(js))
		})
	}
}
