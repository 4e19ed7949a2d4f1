// Package readme reads README.md the way its tests need it: the fenced code
// blocks with the HTML comments that steer the tests, the repository paths
// and the make targets it mentions.
//
// Conventions of README.md:
//
//	<!-- readme-test: skip (reason) -->    before a block: the tests do not run it
//	<!-- readme-test: quickstart -->       before the quick start block
//	<!-- readme-test: output -->           before a text block: the output of the last shell block run
//	<!-- expect: clause; clause -->        after a shell block: the state it leads to (see ParseExpect)
package readme

import (
	"regexp"
	"strings"
)

// Block is a fenced code block.
type Block struct {
	// Lang is the fence's info string (sh, text, yaml, ...).
	Lang string
	Body string
	// Line is the 1-based line of the opening fence.
	Line int
	// Heading is the nearest heading above the block, without the #s.
	Heading string
	// Directive is the text of a readme-test comment right before the block.
	Directive string
	// Expect is the text of an expect comment right after the block.
	Expect string
}

var (
	directiveRe = regexp.MustCompile(`^<!--\s*readme-test:\s*(.*?)\s*-->$`)
	expectRe    = regexp.MustCompile(`^<!--\s*expect:\s*(.*?)\s*-->$`)
)

// Parse returns the fenced code blocks of a Markdown document.
func Parse(doc string) []Block {
	var (
		blocks    []Block
		cur       *Block
		body      []string
		heading   string
		directive string
		afterEnd  bool   // only blank lines since the last block closed
		indent    string // the opening fence's indentation, taken off the body
	)
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if strings.HasPrefix(trimmed, "```") {
				cur.Body = strings.Join(body, "\n")
				blocks = append(blocks, *cur)
				cur, body, afterEnd = nil, nil, true
				continue
			}
			body = append(body, strings.TrimPrefix(line, indent))
			continue
		}
		switch {
		case strings.HasPrefix(trimmed, "```"):
			cur = &Block{Lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), Line: i + 1, Heading: heading, Directive: directive}
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			directive = ""
		case trimmed == "":
			continue
		case afterEnd && expectRe.MatchString(trimmed):
			blocks[len(blocks)-1].Expect = expectRe.FindStringSubmatch(trimmed)[1]
		case directiveRe.MatchString(trimmed):
			directive = directiveRe.FindStringSubmatch(trimmed)[1]
		case strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
			directive = ""
		default:
			directive = ""
		}
		afterEnd = false
	}
	return blocks
}

// Skipped tells whether the tests must not run the block.
func (b Block) Skipped() bool { return strings.HasPrefix(b.Directive, "skip") }

// Commands returns the block's command lines without comments and blank lines.
func (b Block) Commands() []string {
	var out []string
	for _, line := range strings.Split(b.Body, "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}
