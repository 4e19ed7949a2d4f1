package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// podSpecHash is the version name the rollout trait derives when none is
// given, computed in Go as docs/design.md states it: the first 10 hex digits
// of the sha256 of the JSON of the workload's pod spec. vela hands the trait
// the workload as JSON with sorted keys; CUE's json.Marshal keeps that order
// and does not escape <, > and & as Go's json.Marshal does.
func podSpecHash(t *testing.T, podSpec any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(podSpec))
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return hex.EncodeToString(sum[:])[:10]
}

func TestRolloutVersionHash(t *testing.T) {
	defs := allDefinitions(t)
	container := func(image string, command ...any) map[string]any {
		c := map[string]any{"name": "reviews", "image": image, "ports": []any{map[string]any{"containerPort": 9080}}}
		if len(command) > 0 {
			c["command"] = command
		}
		return c
	}
	cases := []struct {
		name      string
		container map[string]any
	}{
		{"v2 image", container("docker.io/istio/examples-bookinfo-reviews-v2:1.16.2")},
		{"v2 image again", container("docker.io/istio/examples-bookinfo-reviews-v2:1.16.2")},
		{"v3 image", container("docker.io/istio/examples-bookinfo-reviews-v3:1.16.2")},
		{"shell command", container("docker.io/istio/examples-bookinfo-reviews-v3:1.16.2", "sh", "-c", "test -d /tmp && exec /opt/start <&0")},
	}
	versions := map[string]string{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := defaultContext(t)
			podSpec := map[string]any{"containers": []any{tc.container}}
			ctx = deepMerge(ctx, map[string]any{"output": map[string]any{"spec": map[string]any{"template": map[string]any{"spec": podSpec}}}})
			c := newComponent(ctx)
			res, err := renderTrait(defs["rollout"], map[string]any{"targetSize": 2}, c)
			require.NoError(t, err)
			meta := res.Workload["metadata"].(map[string]any)
			version := meta["labels"].(map[string]any)["canary.oam.dev/version"].(string)
			want := podSpecHash(t, c.Workload["spec"].(map[string]any)["template"].(map[string]any)["spec"])
			assert.Equal(t, want, version, "the version is the hash of the pod spec")
			assert.Equal(t, "reviews-"+want, meta["name"])
			assert.Equal(t, want, meta["annotations"].(map[string]any)["canary.oam.dev/pod-template-hash"])
			versions[tc.name] = version

			// An explicit version keeps the hash in the annotation only.
			c = newComponent(ctx)
			res, err = renderTrait(defs["rollout"], map[string]any{"targetSize": 2, "version": "v9"}, c)
			require.NoError(t, err)
			meta = res.Workload["metadata"].(map[string]any)
			assert.Equal(t, "reviews-v9", meta["name"])
			assert.Equal(t, want, meta["annotations"].(map[string]any)["canary.oam.dev/pod-template-hash"])
		})
	}
	assert.Equal(t, versions["v2 image"], versions["v2 image again"], "the same pod spec gives the same version")
	assert.NotEqual(t, versions["v2 image"], versions["v3 image"], "another image gives another version")
	assert.NotEqual(t, versions["v3 image"], versions["shell command"], "another command gives another version")
}
