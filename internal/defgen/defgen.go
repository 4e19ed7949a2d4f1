// Package defgen keeps the CUE that several definitions must share in one
// place. X-Definitions cannot import each other, so a shared rule lives in
// fragments/<name>.cue and is copied between the markers
//
//	// generated:begin <name>
//	// generated:end <name>
//
// of every definition that carries it (`make generate`). A test fails when a
// copy is stale.
package defgen

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

//go:embed fragments/*.cue
var fragments embed.FS

const (
	beginMarker = "// generated:begin "
	endMarker   = "// generated:end "
)

// Fragment returns the text of the named fragment.
func Fragment(name string) (string, error) {
	b, err := fragments.ReadFile("fragments/" + name + ".cue")
	if err != nil {
		return "", fmt.Errorf("fragment %s: %w", name, err)
	}
	return string(b), nil
}

var blockRE = regexp.MustCompile(`(?ms)^([ \t]*)` + regexp.QuoteMeta(beginMarker) + `([a-z0-9-]+)[^\n]*\n.*?^[ \t]*` + regexp.QuoteMeta(endMarker) + `([a-z0-9-]+)[^\n]*$`)

// Expand returns src with every generated block filled from its fragment.
func Expand(src []byte) ([]byte, error) {
	var firstErr error
	out := blockRE.ReplaceAllFunc(src, func(block []byte) []byte {
		m := blockRE.FindSubmatch(block)
		indent, name, endName := string(m[1]), string(m[2]), string(m[3])
		if name != endName {
			if firstErr == nil {
				firstErr = fmt.Errorf("block %q ends with %q", name, endName)
			}
			return block
		}
		text, err := Fragment(name)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return block
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s%s%s\n", indent, beginMarker, name)
		fmt.Fprintf(&b, "%s// Generated from internal/defgen/fragments/%s.cue by `make generate`: do not edit.\n", indent, name)
		b.WriteString(text)
		if !strings.HasSuffix(text, "\n") {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s%s%s", indent, endMarker, name)
		return []byte(b.String())
	})
	return out, firstErr
}

// Generate returns the definitions under root/definitions whose generated
// blocks differ from their fragments, with the blocks filled in, keyed by
// path relative to root.
func Generate(root string) (map[string][]byte, error) {
	paths, err := filepath.Glob(filepath.Join(root, "definitions", "*.cue"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	stale := map[string][]byte{}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out, err := Expand(src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if !bytes.Equal(src, out) {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return nil, err
			}
			stale[rel] = out
		}
	}
	return stale, nil
}
