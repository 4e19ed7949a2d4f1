package status

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The first-batch-suspended state with the VirtualService of each case in
// testdata/fixtures/routes: requests routed by their content, requests
// mirrored, or both. The output is in the golden files.
func TestGoldenRouting(t *testing.T) {
	const cookie = "^(.*?;)?(user=test)(;.*)?$"
	cases := []struct {
		name    string
		matches *Matches
		mirror  *Mirror
	}{
		{"match-header", &Matches{"v2", []string{"header x-canary = true"}}, nil},
		{"match-cookie", &Matches{"v2", []string{"header cookie ~ " + cookie}}, nil},
		{"match-two-conditions", &Matches{"v2", []string{"uri prefix /beta and header x-user ~ ^test"}}, nil},
		{"match-two-entries", &Matches{"v2", []string{"header x-canary = true", "query tester = yes"}}, nil},
		{"mirror-percent", nil, &Mirror{"v2", 10}},
		{"mirror-all", nil, &Mirror{"v2", 100}},
		{"match-and-mirror", &Matches{"v2", []string{"header x-canary = true"}}, &Mirror{"v2", 20}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := collectRouted(t, tc.name)
			c := v.Component("reviews")
			require.NotNil(t, c)
			assert.Equal(t, tc.matches, c.Matches)
			assert.Equal(t, tc.mirror, c.Mirror)
			assert.Equal(t, ActionSuspended, v.Next.Kind, "routing does not change the next action")
			checkGolden(t, tc.name, Render(v, Options{}))
		})
	}
}

func TestRenderRoutingColor(t *testing.T) {
	out := Render(collectRouted(t, "match-and-mirror"), Options{Color: true})
	assert.Contains(t, out, "  matches  → \x1b[33mv2\x1b[0m: header x-canary = true\n", "the canary in its colour")
	assert.Contains(t, out, "  mirror   20% of the requests split by weight copied to \x1b[33mv2\x1b[0m (answers discarded)\n")
}

// collectRouted collects the first-batch-suspended state after replacing
// its VirtualService with testdata/fixtures/routes/<name>.yaml, so that a
// case holds only what it is about.
func collectRouted(t *testing.T, name string) View {
	t.Helper()
	f := loadFixtures(t, "first-batch-suspended")
	raw, err := os.ReadFile(filepath.Join("testdata", "fixtures", "routes", name+".yaml"))
	require.NoError(t, err)
	vs := &networkingv1.VirtualService{}
	require.NoError(t, yaml.Unmarshal(raw, vs))
	_, err = f.istio.NetworkingV1().VirtualServices(vs.Namespace).Update(context.Background(), vs, metav1.UpdateOptions{})
	require.NoError(t, err)
	v, err := Collect(context.Background(), f.Clients, "default", "book-info")
	require.NoError(t, err)
	return v
}
