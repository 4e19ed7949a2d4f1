package defgen

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

const (
	beginMarker = "// generated:begin "
	endMarker   = "// generated:end "

	// providerSchema is the fragment that is the provider's schema; its
	// source is a package of its own, next to the Go types it describes.
	providerSchema = "provider-schema"
	schemaSource   = "providers/canary/canary.cue"
)

// fragmentPath is where fragment name comes from, relative to the root.
func fragmentPath(name string) string {
	if name == providerSchema {
		return schemaSource
	}
	return "internal/defgen/fragments/" + name + ".cue"
}

var packageClause = regexp.MustCompile(`^package [A-Za-z_][A-Za-z0-9_]*\n+`)

// Fragment returns the text of the named fragment: its source file, without
// a package clause, as written at the top level of a file.
func Fragment(root, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(fragmentPath(name))))
	if err != nil {
		return "", fmt.Errorf("fragment %s: %w", name, err)
	}
	return packageClause.ReplaceAllString(string(b), ""), nil
}

var blockRE = regexp.MustCompile(`(?ms)^([ \t]*)` + regexp.QuoteMeta(beginMarker) + `([a-z0-9-]+)[^\n]*\n.*?^[ \t]*` + regexp.QuoteMeta(endMarker) + `([a-z0-9-]+)[^\n]*$`)

// Expand returns src with every generated block filled from its fragment,
// indented as the block's begin marker.
func Expand(root string, src []byte) ([]byte, error) {
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
		text, err := Fragment(root, name)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return block
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s%s%s\n", indent, beginMarker, name)
		fmt.Fprintf(&b, "%s// Generated from %s by `make generate`: do not edit.\n", indent, fragmentPath(name))
		b.WriteString(indentLines(text, indent))
		fmt.Fprintf(&b, "%s%s%s", indent, endMarker, name)
		return []byte(b.String())
	})
	return out, firstErr
}

// indentLines puts indent before every line of text that is not empty and
// ends text with a newline.
func indentLines(text, indent string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = indent + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
