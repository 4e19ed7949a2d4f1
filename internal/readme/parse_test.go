package readme

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const sample = "# Title\n\n" +
	"<!-- readme-test: quickstart -->\n" +
	"```sh\nmake demo\nmake test   # all tests\n```\n\n" +
	"## Walk\n\n" +
	"```sh\n# a comment\nkubectl apply -f examples/x.yaml\n```\n" +
	"<!-- expect: application a running -->\n\n" +
	"text between\n\n" +
	"<!-- readme-test: output -->\n" +
	"```text\nout\n```\n\n" +
	"1. item\n\n" +
	"   <!-- readme-test: skip (real cluster) -->\n" +
	"   ```sh\n   vela addon enable ./x\n   ```\n\n" +
	"<!-- readme-test: skip -->\n" +
	"a paragraph cancels the directive\n\n" +
	"```sh\necho run\n```\n"

func TestParse(t *testing.T) {
	blocks := Parse(sample)
	require.Len(t, blocks, 5)

	require.Equal(t, Block{Lang: "sh", Body: "make demo\nmake test   # all tests", Line: 4, Heading: "Title", Directive: "quickstart"}, blocks[0])
	require.Equal(t, []string{"make demo", "make test"}, blocks[0].Commands())

	require.Equal(t, "Walk", blocks[1].Heading)
	require.Equal(t, "application a running", blocks[1].Expect)
	require.Equal(t, []string{"kubectl apply -f examples/x.yaml"}, blocks[1].Commands())

	require.Equal(t, "text", blocks[2].Lang)
	require.Equal(t, "output", blocks[2].Directive)
	require.Empty(t, blocks[2].Expect)

	require.True(t, blocks[3].Skipped(), "an indented block keeps its directive")
	require.Equal(t, "vela addon enable ./x", blocks[3].Body, "the fence's indentation is taken off")

	require.False(t, blocks[4].Skipped())
	require.Empty(t, blocks[4].Directive)
}

func TestParseExpectOnlyRightAfterABlock(t *testing.T) {
	blocks := Parse("```sh\na\n```\n\nprose\n<!-- expect: application a running -->\n")
	require.Len(t, blocks, 1)
	require.Empty(t, blocks[0].Expect)
}
