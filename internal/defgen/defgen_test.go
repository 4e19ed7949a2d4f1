package defgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const root = "../.."

// TestGeneratedFilesAreFresh fails when a generated file or block differs
// from what its sources give: run `make generate`.
func TestGeneratedFilesAreFresh(t *testing.T) {
	stale, err := Generate(root)
	require.NoError(t, err)
	for _, p := range Paths(stale) {
		t.Errorf("%s is stale; run `make generate` (edit its sources, not the file)", p)
	}
}

// TestSharedTextIsCarried checks that the definitions that must share a
// text carry its block: both traits that name versions the version rule,
// both steps the provider's calls.
func TestSharedTextIsCarried(t *testing.T) {
	for def, fragment := range map[string]string{
		"rollout":         "version-rule",
		"canary-traffic":  "version-rule",
		"canary-rollout":  providerSchema,
		"canary-rollback": providerSchema,
	} {
		assert.Contains(t, readGenerated(t, "definitions/"+def+".cue"), beginMarker+fragment+"\n", def)
	}
}

// TestStepsSayTheyAreGenerated: whoever opens a step finds where to change it.
func TestStepsSayTheyAreGenerated(t *testing.T) {
	for _, def := range []string{"canary-rollout", "canary-rollback"} {
		src := readGenerated(t, "definitions/"+def+".cue")
		first := strings.SplitN(src, "\n\n", 2)[0]
		assert.Contains(t, first, "DO NOT EDIT", def)
		assert.Contains(t, first, stepTemplate, def)
		assert.Contains(t, first, "make generate", def)
	}
}

// TestGeneratedCUEIsFormatted: def-check runs cue fmt on the definitions,
// and the generator formats what it writes the same way.
func TestGeneratedCUEIsFormatted(t *testing.T) {
	for _, p := range []string{"definitions/canary-rollout.cue", "definitions/canary-rollback.cue", schemaFile} {
		src := readGenerated(t, p)
		formatted, err := cueFmt(p, []byte(src))
		require.NoError(t, err, p)
		assert.Equal(t, src, string(formatted), p)
	}
}

func TestExpand(t *testing.T) {
	frag, err := Fragment(root, "version-rule")
	require.NoError(t, err)
	src := "x: {\n\ty: {\n\t\t// generated:begin version-rule\n\t\told text\n\t\t// generated:end version-rule\n\t}\n}\n"
	out, err := Expand(root, []byte(src))
	require.NoError(t, err)
	assert.Contains(t, string(out), indentLines(frag, "\t\t"), "the fragment, indented as its marker")
	assert.NotContains(t, string(out), "old text")
	again, err := Expand(root, out)
	require.NoError(t, err)
	assert.Equal(t, string(out), string(again), "expanding twice changes nothing")

	_, err = Expand(root, []byte("\t// generated:begin version-rule\n\t// generated:end other\n"))
	assert.ErrorContains(t, err, `block "version-rule" ends with "other"`)
	_, err = Expand(root, []byte("\t// generated:begin nosuch\n\t// generated:end nosuch\n"))
	assert.ErrorContains(t, err, "fragment nosuch")
}

// The provider's schema is its own CUE package; the copies leave the
// package clause out.
func TestFragmentDropsThePackageClause(t *testing.T) {
	frag, err := Fragment(root, providerSchema)
	require.NoError(t, err)
	assert.NotContains(t, frag, "package istiocanary")
	assert.Contains(t, frag, "#Plan: {")
	assert.Contains(t, frag, "#Scale: {")
}

// readGenerated returns a generated file as `make generate` would write it.
func readGenerated(t *testing.T, rel string) string {
	t.Helper()
	stale, err := Generate(root)
	require.NoError(t, err)
	if b, ok := stale[rel]; ok {
		return string(b)
	}
	b, err := os.ReadFile(filepath.Join(root, rel))
	require.NoError(t, err)
	return string(b)
}
