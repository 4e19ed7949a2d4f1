package docgen

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReplaceAndSection(t *testing.T) {
	doc := "# T\n\n" + BeginMarker + "\nold\n" + EndMarker + "\n\nrest\n"
	out, err := Replace(doc, "new\ncontent\n")
	require.NoError(t, err)
	require.Equal(t, "# T\n\n"+BeginMarker+"\nnew\ncontent\n"+EndMarker+"\n\nrest\n", out)
	sec, err := Section(out)
	require.NoError(t, err)
	require.Equal(t, "\nnew\ncontent\n", sec)
}

func TestSectionErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"no markers":  "# T\n",
		"no end":      BeginMarker + "\n",
		"reversed":    EndMarker + "\n" + BeginMarker + "\n",
		"twice begin": BeginMarker + BeginMarker + EndMarker,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Replace(doc, "x")
			require.Error(t, err)
		})
	}
}
