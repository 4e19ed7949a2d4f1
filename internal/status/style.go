package status

import (
	"strings"
	"unicode/utf8"
)

// style is an ANSI SGR code ("" for none).
type style string

const (
	plain  style = ""
	bold   style = "1"
	dim    style = "2"
	red    style = "31"
	green  style = "32"
	yellow style = "33"
	blue   style = "34"
	cyan   style = "36"
)

// painter applies styles when colour is on.
type painter struct{ color bool }

func (p painter) paint(s string, st style) string {
	if !p.color || st == plain || s == "" {
		return s
	}
	return "\x1b[" + string(st) + "m" + s + "\x1b[0m"
}

// cell is one table cell: text and its style.
type cell struct {
	text string
	st   style
}

// table writes rows with columns padded to the widest plain text, so colour codes
// do not break the alignment. The last cell of a row is not padded.
func (p painter) table(b *strings.Builder, indent string, rows [][]cell) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	for _, r := range rows {
		line := indent
		for i, c := range r {
			line += p.paint(c.text, c.st)
			if i < len(r)-1 {
				line += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2)
			}
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}
