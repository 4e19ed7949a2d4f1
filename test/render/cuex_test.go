package render

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
)

// What vela's CueX does with a template, shared by the step and the trait
// simulators: the stub packages a template imports, and the search for the
// next provider call (kubevela/pkg cue/cuex.Compiler.Resolve).

// loadStubPackages builds testdata/<dir>/<name>/*.cue as vela builds its
// internal packages (kubevela/pkg cue/util.BuildImport): import path
// vela/<name>, package name <name>.
func loadStubPackages(dir string, names ...string) ([]*build.Instance, error) {
	var out []*build.Instance
	for _, name := range names {
		inst := &build.Instance{PkgName: name, ImportPath: "vela/" + name}
		files, err := filepath.Glob(filepath.Join("testdata", dir, name, "*.cue"))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("stub package vela/%s: no testdata/%s/%s/*.cue", name, dir, name)
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			file, err := parser.ParseFile(f, src, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			if err := inst.AddSyntax(file); err != nil {
				return nil, err
			}
		}
		out = append(out, inst)
	}
	return out, nil
}

// workloadPackages are the vela/* packages trait templates import. vela
// compiles traits with its WorkloadCompiler, whose vela/kube is kubevela/pkg's
// cuex provider, not the kubevela/workflow package that steps import: the two
// #List differ (pkg fills $returns with the list itself, workflow fills
// $returns.values), hence a directory of their own. Built once: vela too
// hands the same import instances to every compilation.
var workloadPackages = sync.OnceValues(func() ([]*build.Instance, error) {
	return loadStubPackages("vela-workload", "kube")
})

// iterate is kubevela/pkg cue/util.Iterate: depth first, children before
// their parent, fields ordered by their @step(n) attribute (the same sort
// call, so the same order), paths that contain "#" skipped.
func iterate(v cue.Value, fn func(cue.Value) bool) bool {
	if strings.Contains(v.Path().String(), "#") {
		return false
	}
	for _, c := range fieldValues(v) {
		if iterate(c, fn) {
			return true
		}
	}
	return fn(v)
}

func fieldValues(v cue.Value) []cue.Value {
	var values []cue.Value
	if v.Kind() == cue.ListKind {
		it, _ := v.List()
		for it.Next() {
			values = append(values, it.Value())
		}
	} else if it, _ := v.Fields(cue.Optional(true), cue.Hidden(true)); it != nil {
		for it.Next() {
			values = append(values, it.Value())
		}
	}
	sort.Slice(values, func(i, j int) bool {
		xOrder, yOrder := values[i].Attribute("step"), values[j].Attribute("step")
		x, e1 := strconv.ParseInt(xOrder.Contents(), 10, 32)
		y, e2 := strconv.ParseInt(yOrder.Contents(), 10, 32)
		switch {
		case e1 != nil && e2 != nil:
			return i < j
		case e1 != nil:
			return false
		case e2 != nil:
			return true
		default:
			return x < y
		}
	})
	return values
}

// nextCall is the first struct, in iterate's order, with a #do that has not
// been executed yet (the resolver's step 1), or nil.
func nextCall(val cue.Value, executed map[string]bool) *cue.Value {
	var next *cue.Value
	iterate(val, func(v cue.Value) bool {
		fn, _ := v.LookupPath(cue.ParsePath("#do")).String()
		if !executed[v.Path().String()] && fn != "" {
			next = &v
			return true
		}
		return false
	})
	return next
}

// callKey is "<#provider>/<#do>" of a call struct.
func callKey(v cue.Value) (provider, do string) {
	do, _ = v.LookupPath(cue.ParsePath("#do")).String()
	provider, _ = v.LookupPath(cue.ParsePath("#provider")).String()
	return provider, do
}

// functionCallError is cuex.FunctionCallError: what a failed in-process
// call makes of the compilation, with the call struct as CUE
// (cue/util.ToString).
func functionCallError(v cue.Value, err error) error {
	var s string
	if b, ferr := format.Node(v.Syntax(cue.Final(), cue.Docs(true), cue.All()), format.Simplify()); ferr != nil {
		s = ferr.Error()
	} else {
		s = strings.TrimSpace(string(b))
	}
	return fmt.Errorf("function call error for %s: %w (value: %s)", v.Path().String(), err, s)
}
