package analysis

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// Vars are the values a query's placeholders stand for, and the time the
// instant query is evaluated at.
type Vars struct {
	Namespace string
	App       string
	Component string
	Canary    string
	Stable    string
	// Interval is the window of {{interval}}, usually Limits.Interval.
	Interval time.Duration
	// Time is when the query is evaluated and the measurement is dated;
	// zero means now.
	Time time.Time
}

// Placeholders lists the placeholder names, in the order the package doc gives them.
var Placeholders = []string{"namespace", "app", "component", "canary", "stable", "interval"}

// value returns what a placeholder stands for.
func (v Vars) value(name string) (string, error) {
	var s string
	switch name {
	case "namespace":
		s = v.Namespace
	case "app":
		s = v.App
	case "component":
		s = v.Component
	case "canary":
		s = v.Canary
	case "stable":
		s = v.Stable
	case "interval":
		if v.Interval < time.Millisecond {
			return "", errors.New("{{interval}} has no value: the analysis interval must be at least 1ms")
		}
		return model.Duration(v.Interval).String(), nil
	default:
		return "", unknownPlaceholder(name)
	}
	if s == "" {
		// An empty label value would match series without the label: a
		// query that silently measures the wrong thing.
		return "", fmt.Errorf("{{%s}} has no value here", name)
	}
	return s, nil
}

func unknownPlaceholder(name string) error {
	return fmt.Errorf("unknown placeholder {{%s}}; the placeholders are {{%s}}", name, strings.Join(Placeholders, "}}, {{"))
}

// sampleValue stands in for every placeholder when a query is checked
// before any value is known.
func sampleValue(name string) (string, error) {
	if name == "interval" {
		return "1m", nil
	}
	if !isPlaceholder(name) {
		return "", unknownPlaceholder(name)
	}
	return "x", nil
}

func isPlaceholder(name string) bool {
	for _, p := range Placeholders {
		if p == name {
			return true
		}
	}
	return false
}

// Expand replaces the placeholders of query with vars' values. Label values
// are escaped for the string literal they stand in (and for the regular
// expression, after =~ or !~), so no value can change the query's shape.
func Expand(query string, vars Vars) (string, error) {
	return expand(query, vars.value)
}

// expand scans query once, as PromQL's lexer would for strings, comments
// and brackets: it substitutes placeholders and does the light syntax check
// that stands in for a full PromQL parser (Prometheus' own parser pulls in
// a large module graph; Prometheus answers a query it cannot parse with
// bad_data, which Measure reports as an error).
func expand(query string, value func(string) (string, error)) (string, error) {
	if strings.TrimSpace(query) == "" {
		return "", errors.New("the query is empty")
	}
	var b strings.Builder
	var brackets []byte
	var quote byte // 0 outside a string, else the quote that opened it
	regex := false // the open string is the right-hand side of =~ or !~
	for i := 0; i < len(query); {
		if name, n, ok := placeholderAt(query[i:]); ok {
			v, err := value(name)
			if err != nil {
				return "", err
			}
			switch {
			case quote == '`':
				return "", fmt.Errorf("{{%s}} stands in a `raw string`, where its value cannot be escaped: use double quotes", name)
			case quote == 0 && name != "interval":
				return "", fmt.Errorf("{{%s}} stands outside quotes: write it inside a string, e.g. version=\"{{%s}}\"", name, name)
			case quote == 0:
				b.WriteString(v)
			default:
				if regex {
					v = regexp.QuoteMeta(v)
				}
				b.WriteString(escapeString(v, quote))
			}
			i += n
			continue
		}
		c := query[i]
		switch {
		case quote == 0 && c == '#':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end
			continue
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote, regex = c, afterRegexOperator(query[:i])
		case quote == 0:
			var err error
			if brackets, err = matchBracket(brackets, c); err != nil {
				return "", err
			}
		case c == '\\' && quote != '`' && i+1 < len(query):
			b.WriteString(query[i : i+2])
			i += 2
			continue
		case c == quote:
			quote = 0
		}
		b.WriteByte(c)
		i++
	}
	if quote != 0 {
		return "", fmt.Errorf("a string opened with %c is not closed", quote)
	}
	if len(brackets) > 0 {
		return "", fmt.Errorf("%q is not closed", brackets[len(brackets)-1])
	}
	return b.String(), nil
}

// placeholderAt reports whether s starts with {{name}}, name being letters.
func placeholderAt(s string) (name string, n int, ok bool) {
	if !strings.HasPrefix(s, "{{") {
		return "", 0, false
	}
	end := 2
	for end < len(s) && (s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
		end++
	}
	if end == 2 || !strings.HasPrefix(s[end:], "}}") {
		return "", 0, false
	}
	return s[2:end], end + 2, true
}

func matchBracket(open []byte, c byte) ([]byte, error) {
	closer := map[byte]byte{')': '(', ']': '[', '}': '{'}
	switch c {
	case '(', '[', '{':
		return append(open, c), nil
	case ')', ']', '}':
		if len(open) == 0 || open[len(open)-1] != closer[c] {
			return nil, fmt.Errorf("%q has no matching %q", c, closer[c])
		}
		return open[:len(open)-1], nil
	}
	return open, nil
}

func afterRegexOperator(before string) bool {
	before = strings.TrimRight(before, " \t\r\n")
	return strings.HasSuffix(before, "=~") || strings.HasSuffix(before, "!~")
}

// escapeString writes s so that, between two quote characters, PromQL's
// lexer reads back exactly s: it knows Go's escapes, and in a string opened
// with ' it rejects \" (and the other way round), hence the quote argument.
func escapeString(s string, quote byte) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\' || r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < utf8.RuneSelf && !strconv.IsPrint(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case !strconv.IsPrint(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}
