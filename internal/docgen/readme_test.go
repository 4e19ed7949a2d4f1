package docgen

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadmeReferenceIsFresh fails when README.md's generated reference does
// not match the definitions: run `make docs`.
func TestReadmeReferenceIsFresh(t *testing.T) {
	root := filepath.Join("..", "..")
	generated, err := Generate(root)
	require.NoError(t, err)
	doc, err := os.ReadFile(filepath.Join(root, Readme))
	require.NoError(t, err)
	want, err := Replace(string(doc), generated)
	require.NoError(t, err)
	require.Equal(t, want, string(doc), "README.md's reference section is stale: run `make docs`")
}

// TestGenerateCoversEveryDefinition checks the reference names every
// definition file and every parameter has a usage text.
func TestGenerateCoversEveryDefinition(t *testing.T) {
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, DefinitionsGlob))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		d, err := ParseDefinition(f, src)
		require.NoError(t, err)
		require.NotEmpty(t, d.Description, "%s: description", f)
		for _, p := range d.Params {
			require.NotEmpty(t, p.Usage, "%s: parameter %s has no // +usage= comment", d.Name, p.Path)
		}
	}
}
