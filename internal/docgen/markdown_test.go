package docgen

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMarkdown(t *testing.T) {
	defs := []Definition{
		{Name: "b-step", Kind: "workflow-step", File: "definitions/b.cue", Description: "Step <x>."},
		{Name: "a-trait", Kind: "trait", File: "definitions/a.cue", Description: "Trait | pipe.", AppliesTo: []string{"deployments.apps"},
			Params: []Param{{Path: "port", Type: "int & >=1 | string", Required: true, Usage: "Port *number*"}}},
	}
	md := Markdown(defs, []Param{{Path: "image", Type: "string", Default: `"img"`, Usage: "Image"}})
	lines := strings.Split(md, "\n")
	require.Equal(t, "| [`a-trait`](#a-trait-trait) | trait | `deployments.apps` | Trait \\| pipe. |", lines[2], "traits before steps, pipes escaped")
	require.Equal(t, "| [`b-step`](#b-step-workflow-step) | workflow-step |  | Step &lt;x&gt;. |", lines[3])
	require.Contains(t, md, "\n### a-trait (trait)\n")
	require.Contains(t, md, "| `port` | `int & >=1 \\| string` |  | yes | Port \\*number\\* |")
	require.Contains(t, md, "### b-step (workflow-step)\n\nworkflow-step (`definitions/b.cue`). Step &lt;x&gt;.\n\nNo parameters.\n")
	require.Contains(t, md, "| `image` | `string` | `\"img\"` | no | Image |")
}
