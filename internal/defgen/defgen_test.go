package defgen

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDefinitionsAreFresh fails when a definition's generated block differs
// from its fragment: run `make generate`.
func TestDefinitionsAreFresh(t *testing.T) {
	stale, err := Generate("../..")
	require.NoError(t, err)
	for p := range stale {
		t.Errorf("%s: a generated block is stale; run `make generate`", p)
	}
}

// TestVersionRuleIsShared checks that both traits that name versions carry
// the version rule.
func TestVersionRuleIsShared(t *testing.T) {
	for _, def := range []string{"rollout", "canary-traffic"} {
		src := readDefinition(t, def)
		assert.Contains(t, src, beginMarker+"version-rule\n", def)
	}
}

func TestExpand(t *testing.T) {
	frag, err := Fragment("version-rule")
	require.NoError(t, err)
	src := "x: {\n\t// generated:begin version-rule\n\told text\n\t// generated:end version-rule\n}\n"
	out, err := Expand([]byte(src))
	require.NoError(t, err)
	assert.Contains(t, string(out), frag)
	assert.NotContains(t, string(out), "old text")
	again, err := Expand(out)
	require.NoError(t, err)
	assert.Equal(t, string(out), string(again), "expanding twice changes nothing")

	_, err = Expand([]byte("\t// generated:begin version-rule\n\t// generated:end other\n"))
	assert.ErrorContains(t, err, `block "version-rule" ends with "other"`)
	_, err = Expand([]byte("\t// generated:begin nosuch\n\t// generated:end nosuch\n"))
	assert.ErrorContains(t, err, "fragment nosuch")
}

func readDefinition(t *testing.T, name string) string {
	t.Helper()
	stale, err := Generate("../..")
	require.NoError(t, err)
	if b, ok := stale["definitions/"+name+".cue"]; ok {
		return string(b)
	}
	b, err := readFile("../../definitions/" + name + ".cue")
	require.NoError(t, err)
	return strings.TrimSpace(b)
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}
