package readme

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPathsAndMakeTargets(t *testing.T) {
	doc := "See `hack/demo.sh`, `docs/design.md` and `Dockerfile`; the Secret `vela-system/istio-canary-provider`.\n" +
		"Visit `https://example.com/a/b` or `~/.cache/x`. Run `make docs`.\n\n" +
		"```sh\nmake --no-print-directory addon-up\nkubectl apply -f examples/bookinfo/first-deploy.yaml\nsource .cluster/env\n```\n" +
		"```text\nnot/a/path/in/text/blocks\n```\n"
	require.Equal(t, []string{
		".cluster/env",
		"Dockerfile",
		"docs/design.md",
		"examples/bookinfo/first-deploy.yaml",
		"hack/demo.sh",
		"vela-system/istio-canary-provider",
	}, Paths(doc))
	require.Equal(t, []string{"addon-up", "docs"}, MakeTargets(doc))
}

func TestPathsInCodeSpanningLines(t *testing.T) {
	doc := "**`a message that goes\non`.** Check `docs/design.md`.\n"
	require.Equal(t, []string{"docs/design.md"}, Paths(doc))
}
