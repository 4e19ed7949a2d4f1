package render

import (
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// customStatus returns a definition's attributes.status.customStatus, or "".
func customStatus(t *testing.T, d *definition) string {
	t.Helper()
	meta, err := encodeDecls([]ast.Decl{d.Metadata})
	require.NoError(t, err)
	v := cuecontext.New().CompileString(meta)
	s := v.LookupPath(cue.MakePath(cue.Str(d.Name), cue.Str("attributes"), cue.Str("status"), cue.Str("customStatus")))
	if !s.Exists() {
		return ""
	}
	str, err := s.String()
	require.NoError(t, err)
	return str
}

// statusMessage evaluates a customStatus the way vela v1.11 does
// (health.getStatusMessage): the template, then `context: <JSON>` and
// `parameter: <JSON>`, compiled together; the message is the `message` field.
func statusMessage(t *testing.T, tmpl string, ctx, params map[string]any) (string, error) {
	t.Helper()
	src := tmpl + "\ncontext: " + mustJSON(t, ctx) + "\nparameter: " + mustJSON(t, params) + "\n"
	v := cuecontext.New().CompileString(src)
	if err := v.Err(); err != nil {
		return "", err
	}
	return v.LookupPath(cue.ParsePath("message")).String()
}

func TestCanaryTrafficStatus(t *testing.T) {
	defs := allDefinitions(t)
	tmpl := customStatus(t, defs["canary-traffic"])
	require.NotEmpty(t, tmpl, "canary-traffic has a customStatus")
	route := func(subset string, weight any) map[string]any {
		r := map[string]any{"destination": map[string]any{"host": "reviews", "subset": subset}}
		if weight != nil {
			r["weight"] = weight
		}
		return r
	}
	vs := func(routes ...any) map[string]any {
		return map[string]any{"virtualService": map[string]any{"spec": map[string]any{"http": []any{map[string]any{"route": routes}}}}}
	}
	for _, tc := range []struct {
		name    string
		outputs map[string]any // context.outputs: the trait's live objects
		want    string
	}{
		{"all traffic to v1", vs(route("v1", 100)), "traffic: v1 100%"},
		{"seed first batch", vs(route("v1", 90), route("v2", 10)), "traffic: v1 90%, v2 10%"},
		{"lone route without weight", vs(route("v2", nil)), "traffic: v2 100%"},
		{"no VirtualService yet", map[string]any{}, "traffic: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := map[string]any{"name": "reviews", "appName": "book-info", "namespace": "default", "outputs": tc.outputs}
			got, err := statusMessage(t, tmpl, ctx, map[string]any{"port": 9080})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
