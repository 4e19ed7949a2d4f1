package readme

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseExpect(t *testing.T) {
	got, err := ParseExpect("application book-info workflowSuspending; deployment reviews-v1 1/1; deployment reviews-v2 absent; traffic reviews v1=90,v2=10")
	require.NoError(t, err)
	require.Equal(t, []Clause{
		{Kind: KindApplication, Name: "book-info", Want: "workflowSuspending"},
		{Kind: KindDeployment, Name: "reviews-v1", Want: "1/1"},
		{Kind: KindDeployment, Name: "reviews-v2", Want: "absent"},
		{Kind: KindTraffic, Name: "reviews", Want: "v1=90,v2=10"},
	}, got)
	require.Equal(t, "traffic reviews v1=90,v2=10", got[3].String())
}

func TestParseExpectErrors(t *testing.T) {
	for _, text := range []string{
		"",
		"application book-info",
		"deployment reviews-v1 two",
		"traffic reviews v1:90",
		"pod reviews-v1 running",
	} {
		_, err := ParseExpect(text)
		require.Error(t, err, text)
	}
}
