package render

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
)

// definitionsDir is where the addon keeps its X-Definitions, relative to this
// package; -definitions points the tests at another copy (to try a fix).
var definitionsDir = flag.String("definitions", "../../definitions", "directory of the X-Definition files under test")

// definition is one X-Definition file split the way `vela def apply` splits it
// (pkg/definition.FromCUEString in kubevela): its imports, the one top-level
// metadata field and the body of `template`.
type definition struct {
	Name string // the metadata field's label, e.g. "rollout"
	Type string // trait, workflow-step, ...
	Path string // file path

	File     *ast.File // the parsed file, with comments
	Imports  []*ast.ImportSpec
	Metadata *ast.Field     // "<name>": {type, description, attributes...}
	Body     *ast.StructLit // the value of `template:`

	// Template is what vela stores in spec.schematic.cue.template: the
	// file's imports followed by the declarations of the template block.
	Template string
}

// loadDefinition parses one definition file.
func loadDefinition(path string) (*definition, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFile(path, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	d := &definition{Path: path, File: f}
	var importDecls, templateDecls []ast.Decl
	for _, decl := range f.Decls {
		switch x := decl.(type) {
		case *ast.ImportDecl:
			importDecls = append(importDecls, x)
			d.Imports = append(d.Imports, x.Specs...)
		case *ast.Field:
			label, err := labelName(x.Label)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if label == "template" {
				body, ok := x.Value.(*ast.StructLit)
				if !ok {
					return nil, fmt.Errorf("%s: template is not a struct literal", path)
				}
				if d.Body != nil {
					return nil, fmt.Errorf("%s: two template fields", path)
				}
				d.Body = body
				templateDecls = append(templateDecls, body.Elts...)
				continue
			}
			if d.Metadata != nil {
				return nil, fmt.Errorf("%s: two metadata fields, %s and %s", path, d.Name, label)
			}
			d.Name, d.Metadata = label, x
		case *ast.CommentGroup, *ast.Attribute:
		default:
			return nil, fmt.Errorf("%s: unexpected top-level declaration %T", path, decl)
		}
	}
	if d.Metadata == nil || d.Body == nil {
		return nil, fmt.Errorf("%s: need one metadata field and a template field", path)
	}
	meta, err := encodeDecls([]ast.Decl{d.Metadata})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mv := cuecontext.New().CompileString(meta)
	if d.Type, err = mv.LookupPath(pathOf(d.Name, "type")).String(); err != nil {
		return nil, fmt.Errorf("%s: metadata type: %w", path, err)
	}
	imports, err := encodeDecls(importDecls)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	body, err := encodeDecls(templateDecls)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if strings.TrimSpace(imports) != "" {
		d.Template = imports + "\n" + body
	} else {
		d.Template = body
	}
	return d, nil
}

// encodeDecls formats declarations as vela's encodeDeclsToString does.
func encodeDecls(decls []ast.Decl) (string, error) {
	if len(decls) == 0 {
		return "", nil
	}
	bs, err := format.Node(&ast.File{Decls: decls}, format.Simplify())
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(bs)) + "\n", nil
}

func labelName(l ast.Label) (string, error) {
	switch x := l.(type) {
	case *ast.Ident:
		return x.Name, nil
	case *ast.BasicLit:
		s, err := strconv.Unquote(x.Value)
		if err != nil {
			return "", fmt.Errorf("label %s: %w", x.Value, err)
		}
		return s, nil
	}
	return "", fmt.Errorf("unsupported label %T", l)
}

// allDefinitions loads every definitions/*.cue file, keyed by definition name.
func allDefinitions(t *testing.T) map[string]*definition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(*definitionsDir, "*.cue"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no definitions in %s", *definitionsDir)
	}
	defs := map[string]*definition{}
	for _, f := range files {
		d, err := loadDefinition(f)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".cue"); d.Name != want {
			t.Errorf("%s defines %q; the file name and the definition name must match", f, d.Name)
		}
		defs[d.Name] = d
	}
	return defs
}

func sortedNames(defs map[string]*definition, typ string) []string {
	var names []string
	for n, d := range defs {
		if typ == "" || d.Type == typ {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func TestDefinitionsLoad(t *testing.T) {
	defs := allDefinitions(t)
	// The addon's traits; the steps are checked by their own tests.
	for _, name := range []string{"rollout", "canary-traffic", "istio-gateway"} {
		d, ok := defs[name]
		if !ok {
			t.Errorf("definition %s is missing", name)
			continue
		}
		if d.Type != "trait" {
			t.Errorf("%s: type %q, want trait", name, d.Type)
		}
	}
	for name, d := range defs {
		switch d.Type {
		case "trait", "workflow-step", "component", "policy":
		default:
			t.Errorf("%s: unknown definition type %q", name, d.Type)
		}
	}
}

func parseCUE(src string) (*ast.File, error) {
	return parser.ParseFile("test.cue", src, parser.ParseComments)
}
