package analysis

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzCondition: whatever the text, compiling never panics, and a condition
// that compiles runs on any number (NaN and infinities too) to a verdict or
// an error, never a panic or a non-boolean.
func FuzzCondition(f *testing.F) {
	f.Fuzz(func(t *testing.T, src string, v float64) {
		for _, pair := range [][2]string{{src, ""}, {"", src}} {
			m, errs := compile(MetricSpec{Name: "m", Query: "up", SuccessCondition: pair[0], FailureCondition: pair[1]})
			if len(errs) > 0 {
				for _, e := range errs {
					require.NotEmpty(t, e.Path)
				}
				continue
			}
			for _, all := range [][]series{nil, {{value: v}}, {{value: v}, {labels: `{a="b"}`, value: v}}} {
				phase, msg, err := m.judge(all)
				if err != nil {
					continue
				}
				require.Contains(t, []Phase{PhaseSuccessful, PhaseFailed, PhaseInconclusive}, phase)
				require.NotEmpty(t, msg)
				if len(all) == 0 || !finite(v) {
					require.NotEqual(t, PhaseSuccessful, phase, "no usable data is never a success")
				}
			}
		}
	})
}

// FuzzSubstitute: a label value, whatever it holds, comes back exactly from
// the string literal it was put in (and matches itself as a regex), and
// expanding any query never panics.
func FuzzSubstitute(f *testing.F) {
	f.Fuzz(func(t *testing.T, value, query string) {
		vars := reviews
		vars.Canary = value
		_, _ = Expand(query, vars)
		if value == "" {
			return
		}
		for _, quote := range []byte{'"', '\''} {
			q := string(quote)
			got, err := Expand(`x{v=`+q+`{{canary}}`+q+`}`, vars)
			require.NoError(t, err)
			body := strings.TrimSuffix(strings.TrimPrefix(got, `x{v=`+q), q+`}`)
			require.NotContains(t, body, "\n", "PromQL strings hold no raw newline")
			require.Equal(t, value, unquote(t, body, quote))
		}
		got, err := Expand(`x{v=~"{{canary}}"}`, vars)
		require.NoError(t, err)
		pattern := unquote(t, strings.TrimSuffix(strings.TrimPrefix(got, `x{v=~"`), `"}`), '"')
		require.Equal(t, regexp.QuoteMeta(value), pattern)
		if utf8.ValidString(value) {
			require.True(t, regexp.MustCompile(`^(?:`+pattern+`)$`).MatchString(value))
		}
	})
}

// unquote reads a string literal's body as PromQL does: Go's escapes, with
// only the opening quote escapable.
func unquote(t *testing.T, body string, quote byte) string {
	t.Helper()
	var b strings.Builder
	for body != "" {
		r, multibyte, tail, err := strconv.UnquoteChar(body, quote)
		require.NoError(t, err, "body %q", body)
		if multibyte {
			b.WriteRune(r)
		} else {
			b.WriteByte(byte(r))
		}
		body = tail
	}
	return b.String()
}
