package docgen

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const sampleDefinition = `
import "list"

"sample-step": {
	type: "workflow-step"
	annotations: {}
	description: "Does a sample thing."
}

template: {
	_hidden: 1
	parameter: {
		// +usage=How many
		// (a second comment line is not part of the usage)
		count: *3 | int & >=1 & <=10
		// +usage=Which way
		mode: *"fast" | "slow"
		// +usage=Where to send it
		target: string
		// +usage=Optional routes
		routes?: [...close({
			// +usage=Route prefix
			prefix?: string
		})] & list.MinItems(1)
		// +usage=Nested settings
		settings?: {
			// +usage=Inner flag
			enabled: *false | bool
		}
		hosts: [string, ...string]
	}
}
`

func TestParseDefinition(t *testing.T) {
	d, err := ParseDefinition("definitions/sample.cue", []byte(sampleDefinition))
	require.NoError(t, err)
	require.Equal(t, "sample-step", d.Name)
	require.Equal(t, "workflow-step", d.Kind)
	require.Equal(t, "Does a sample thing.", d.Description)
	require.Equal(t, []Param{
		{Path: "count", Type: "int & >=1 & <=10", Default: "3", Usage: "How many"},
		{Path: "mode", Type: `"fast" | "slow"`, Default: `"fast"`, Usage: "Which way"},
		{Path: "target", Type: "string", Required: true, Usage: "Where to send it"},
		{Path: "routes", Type: "[...{...}] & list.MinItems(1)", Usage: "Optional routes"},
		{Path: "routes[].prefix", Type: "string", Usage: "Route prefix"},
		{Path: "settings", Type: "{...}", Usage: "Nested settings"},
		{Path: "settings.enabled", Type: "bool", Default: "false", Usage: "Inner flag"},
		{Path: "hosts", Type: "[string, ...string]", Required: true},
	}, d.Params)
}

func TestParseDefinitionTraitAttributes(t *testing.T) {
	src := `
mytrait: {
	type: "trait"
	description: "A trait."
	attributes: appliesToWorkloads: ["deployments.apps"]
}
template: parameter: {}
`
	d, err := ParseDefinition("t.cue", []byte(src))
	require.NoError(t, err)
	require.Equal(t, "mytrait", d.Name)
	require.Equal(t, []string{"deployments.apps"}, d.AppliesTo)
	require.Empty(t, d.Params)
}

func TestParseDefinitionErrors(t *testing.T) {
	for name, src := range map[string]string{
		"syntax":        "x: {",
		"no definition": "template: parameter: {}",
		"no template":   `d: {type: "trait", description: "x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseDefinition("bad.cue", []byte(src))
			require.Error(t, err)
			require.Contains(t, err.Error(), "bad.cue")
		})
	}
}

func TestParseParameters(t *testing.T) {
	params, err := ParseParameters("parameter.cue", []byte(`parameter: {
	// +usage=Image to run
	image: *"example/image:v1" | string
}`))
	require.NoError(t, err)
	require.Equal(t, []Param{{Path: "image", Type: "string", Default: `"example/image:v1"`, Usage: "Image to run"}}, params)

	_, err = ParseParameters("parameter.cue", []byte(`other: 1`))
	require.ErrorContains(t, err, "no parameter field")
}
