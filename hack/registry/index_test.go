package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// writePackage writes a chart archive as `vela addon package` lays it out:
// one top directory holding the files.
func writePackage(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func chartYAML(version string) string {
	return "apiVersion: v2\nname: istio-canary\nversion: " + version + "\ntype: library\n" +
		"annotations:\n  system.vela: '>=v1.10.0'\n  addon.name: istio-canary\n"
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestIndexListsEveryPackageWithItsChartURLAndDigest(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"0.1.0", "0.2.0"} {
		writePackage(t, filepath.Join(dir, "istio-canary-"+v+".tgz"), map[string]string{
			"istio-canary/Chart.yaml":               chartYAML(v),
			"istio-canary/metadata.yaml":            "name: istio-canary\n",
			"istio-canary/definitions/Chart.yaml":   "not: the chart's\n",
			"istio-canary/definitions/rollout.cue":  "rollout: {}\n",
			"istio-canary/resources/package.cue":    "package: {}\n",
			"istio-canary/resources/sub/Chart.yaml": "name: nested\n",
		})
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a package"), 0o644))

	require.NoError(t, writeIndex(dir))
	raw, err := os.ReadFile(filepath.Join(dir, "index.yaml"))
	require.NoError(t, err)
	var index struct {
		APIVersion string                      `json:"apiVersion"`
		Entries    map[string][]map[string]any `json:"entries"`
	}
	require.NoError(t, yaml.UnmarshalStrict(raw, &index))
	require.Equal(t, "v1", index.APIVersion)
	require.Len(t, index.Entries, 1, "entries by chart name")
	entries := index.Entries["istio-canary"]
	require.Len(t, entries, 2)
	for i, v := range []string{"0.1.0", "0.2.0"} {
		file := "istio-canary-" + v + ".tgz"
		e := entries[i]
		require.Equal(t, v, e["version"])
		require.Equal(t, "library", e["type"])
		require.Equal(t, map[string]any{"system.vela": ">=v1.10.0", "addon.name": "istio-canary"}, e["annotations"],
			"vela reads the system requirements from the entry's annotations")
		require.Equal(t, []any{file}, e["urls"], "relative to the registry's endpoint")
		require.Equal(t, sha256File(t, filepath.Join(dir, file)), e["digest"])
		require.Len(t, e, 7, "Chart.yaml's fields, urls and digest, nothing else: %v", e)
	}

	again, err := buildIndex(dir)
	require.NoError(t, err)
	require.Equal(t, string(raw), string(again), "the same packages give the same index")
}

func TestIndexRefusesWhatIsNotAnAddonPackage(t *testing.T) {
	dir := t.TempDir()
	_, err := buildIndex(dir)
	require.ErrorContains(t, err, "no addon packages")

	writePackage(t, filepath.Join(dir, "x-1.0.0.tgz"), map[string]string{"x/metadata.yaml": "name: x\n"})
	_, err = buildIndex(dir)
	require.ErrorContains(t, err, "no Chart.yaml in")

	writePackage(t, filepath.Join(dir, "x-1.0.0.tgz"), map[string]string{"x/Chart.yaml": "name: x\n"})
	_, err = buildIndex(dir)
	require.ErrorContains(t, err, "Chart.yaml has no version")
}

func TestServeServesTheIndexAndPackages(t *testing.T) {
	dir := t.TempDir()
	writePackage(t, filepath.Join(dir, "istio-canary-0.1.0.tgz"), map[string]string{"istio-canary/Chart.yaml": chartYAML("0.1.0")})
	require.NoError(t, writeIndex(dir))
	srv := httptest.NewServer(handler(dir))
	defer srv.Close()

	get := func(path string) (int, []byte) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	code, body := get("/index.yaml")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body), "istio-canary-0.1.0.tgz")
	code, body = get("/istio-canary-0.1.0.tgz")
	require.Equal(t, http.StatusOK, code)
	want, err := os.ReadFile(filepath.Join(dir, "istio-canary-0.1.0.tgz"))
	require.NoError(t, err)
	require.Equal(t, want, body)
	code, _ = get("/istio-canary-9.9.9.tgz")
	require.Equal(t, http.StatusNotFound, code)
}
