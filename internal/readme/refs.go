package readme

import (
	"regexp"
	"sort"
	"strings"
)

var (
	inlineCodeRe = regexp.MustCompile("`([^`]+)`")
	// pathRe matches a relative path with at least one slash, or a file name
	// with an extension that names repository files.
	pathRe     = regexp.MustCompile(`^(\./)?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.*-]*)+$|^[A-Za-z0-9_.-]+\.(md|cue|yaml|yml|sh|go|mod)$|^(Dockerfile|Makefile)$`)
	makeRe     = regexp.MustCompile(`(?:^|[\s;&|(])make\s+(?:--?[a-z-]+\s+)*([a-z][a-z0-9-]*)`)
	tokenSplit = regexp.MustCompile(`[\s"'=(),;:]+`)
)

// Paths returns the path-like words of the document's inline code and code
// blocks, sorted and without duplicates: candidates for repository paths.
func Paths(doc string) []string {
	seen := map[string]bool{}
	for _, code := range codeTexts(doc) {
		for _, tok := range tokenSplit.Split(code, -1) {
			tok = strings.TrimRight(tok, ".")
			if pathRe.MatchString(tok) && !strings.Contains(tok, "://") {
				seen[tok] = true
			}
		}
	}
	return sortedKeys(seen)
}

// MakeTargets returns the targets of the `make` commands in the document's
// code, sorted and without duplicates.
func MakeTargets(doc string) []string {
	seen := map[string]bool{}
	for _, code := range codeTexts(doc) {
		for _, m := range makeRe.FindAllStringSubmatch(code, -1) {
			seen[m[1]] = true
		}
	}
	return sortedKeys(seen)
}

// codeTexts returns the inline code spans outside blocks and the bodies of
// the shell blocks that are run here (skipped ones run elsewhere: on a real
// cluster, next to the clone).
func codeTexts(doc string) []string {
	var out []string
	for _, b := range Parse(doc) {
		if b.Lang == "sh" && !b.Skipped() {
			out = append(out, b.Body)
		}
	}
	// Inline code may span lines: scan the text outside blocks as a whole.
	var prose []string
	inBlock := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			prose = append(prose, line)
		}
	}
	for _, m := range inlineCodeRe.FindAllStringSubmatch(strings.Join(prose, "\n"), -1) {
		out = append(out, strings.ReplaceAll(m[1], "\n", " "))
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
