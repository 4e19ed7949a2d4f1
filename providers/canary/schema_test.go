package canary

import (
	"os"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"github.com/stretchr/testify/require"
)

// The addon publishes the schema in its Package (resources/schema.cue); it
// must be the one this package embeds, or users' steps would drift from it.
func TestAddonPublishesTheProviderSchema(t *testing.T) {
	src, err := os.ReadFile("../../resources/schema.cue")
	require.NoError(t, err)
	v := cuecontext.New().CompileBytes(src)
	require.NoError(t, v.Err())
	published, err := v.LookupPath(cueParse("providerSchema")).String()
	require.NoError(t, err)
	require.Equal(t, strings.TrimSpace(Schema), strings.TrimSpace(published))

	schema := cuecontext.New().CompileString(Schema)
	require.NoError(t, schema.Err(), "the schema must compile")
	for _, fn := range []string{"#Plan", "#Scale"} {
		do, err := schema.LookupPath(cueParse(fn + ".#do")).String()
		require.NoError(t, err, fn)
		require.NotEmpty(t, do, fn)
	}
}

func cueParse(path string) cue.Path { return cue.ParsePath(path) }
