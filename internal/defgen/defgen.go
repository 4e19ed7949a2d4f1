// Package defgen writes the CUE that must exist in several places from one
// source each (`make generate`); a test fails when a copy is stale.
// X-Definitions cannot import each other, and the steps cannot import the
// provider's Package, so the copies are files:
//
//   - a block between the markers `// generated:begin NAME` and
//     `// generated:end NAME` of a definition gets the text of fragment NAME
//     (fragments.go): the version rule that two traits share, the provider's
//     schema that both canary steps carry;
//   - definitions/canary-rollout.cue and canary-rollback.cue are rendered
//     whole from one template and the data that tells them apart
//     (steps/, steps.go);
//   - resources/schema.cue publishes the provider's schema in the addon's
//     Package (schema.go).
package defgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
)

// Generate returns the generated files under root whose content is stale
// (or missing), with the content they must have, keyed by path relative to
// root.
func Generate(root string) (map[string][]byte, error) {
	want, err := renderSteps(root)
	if err != nil {
		return nil, err
	}
	schema, err := renderSchema(root)
	if err != nil {
		return nil, err
	}
	want[schemaFile] = schema
	// Every other definition is written by hand except its blocks.
	paths, err := filepath.Glob(filepath.Join(root, "definitions", "*.cue"))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return nil, err
		}
		rel = filepath.ToSlash(rel)
		if _, ok := want[rel]; ok {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if want[rel], err = Expand(root, src); err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
	}
	stale := map[string][]byte{}
	for rel, out := range want {
		have, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		if !bytes.Equal(have, out) {
			stale[rel] = out
		}
	}
	return stale, nil
}

// Paths returns the keys of files in order.
func Paths(files map[string][]byte) []string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// cueFmt formats a generated file as `cue fmt` does (parse with comments,
// format with no options), so that def-check finds nothing to change.
func cueFmt(name string, src []byte) ([]byte, error) {
	f, err := parser.ParseFile(name, src, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("%s: the generated CUE does not parse: %w", name, err)
	}
	return format.Node(f)
}
