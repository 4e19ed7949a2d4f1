package main

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

const repoRoot = "../.."

// addonFiles are the files of the addon in the repository, as the package
// must hold them (under the chart's directory): the addon's own README
// (docs/addon/README.md) becomes README.md, and vela adds Chart.yaml.
func addonFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{
		"Chart.yaml":    "",
		"README.md":     "docs/addon/README.md",
		"metadata.yaml": "metadata.yaml",
		"template.cue":  "template.cue",
		"parameter.cue": "parameter.cue",
	}
	for _, dir := range []string{"definitions", "resources"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(repoRoot, p)
			files[filepath.ToSlash(rel)] = rel
			return err
		})
		require.NoError(t, err)
	}
	return files
}

// TestPackageHoldsTheAddonAndNothingElse packages the addon as `make
// package` does (hack/addon.sh package: vela addon package of the staged
// addon) and lists the archive: exactly the addon's files, with their
// content, and no other file of the project (its README, tests, hack/).
// The vela CLI is VELA, else the local cluster's tools (ISTIO_CANARY_BIN,
// else hack/build-tools.sh, which `make tools` has run in CI).
func TestPackageHoldsTheAddonAndNothingElse(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "addon.sh"), "package", out)
	cmd.Stderr = os.Stderr
	printed, err := cmd.Output()
	require.NoError(t, err, "hack/addon.sh package")
	pkg := strings.TrimSpace(string(printed))
	require.Equal(t, filepath.Join(out, "istio-canary-"+addonVersion(t)+".tgz"), pkg, "the package's name and version")

	got := packageFiles(t, pkg)
	want := addonFiles(t)
	var names []string
	for name := range got {
		names = append(names, name)
	}
	var wantNames []string
	for name := range want {
		wantNames = append(wantNames, name)
	}
	require.ElementsMatch(t, wantNames, names, "the package's files (under istio-canary/)")
	for name, source := range want {
		if source == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, source))
		require.NoError(t, err)
		// True rather than Equal: a README's diff would fill the log.
		require.True(t, string(b) == got[name], "the package's %s is not %s", name, source)
	}
	project, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	require.NoError(t, err)
	require.False(t, string(project) == got["README.md"], "the package's README is the addon's, not the project's")

	index, err := os.ReadFile(filepath.Join(out, "index.yaml"))
	require.NoError(t, err)
	var parsed struct {
		Entries map[string][]struct {
			Version string   `json:"version"`
			URLs    []string `json:"urls"`
		} `json:"entries"`
	}
	require.NoError(t, yaml.Unmarshal(index, &parsed))
	require.Len(t, parsed.Entries["istio-canary"], 1, "index.yaml: %s", index)
	require.Equal(t, addonVersion(t), parsed.Entries["istio-canary"][0].Version)
	require.Equal(t, []string{filepath.Base(pkg)}, parsed.Entries["istio-canary"][0].URLs)
}

func addonVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "metadata.yaml"))
	require.NoError(t, err)
	var meta struct {
		Version string `json:"version"`
	}
	require.NoError(t, yaml.Unmarshal(b, &meta))
	require.NotEmpty(t, meta.Version)
	return meta.Version
}

// packageFiles returns the regular files of a chart archive by their path
// under its top directory, which must be istio-canary.
func packageFiles(t *testing.T, pkg string) map[string]string {
	t.Helper()
	f, err := os.Open(pkg)
	require.NoError(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeDir {
			continue
		}
		require.Equal(t, byte(tar.TypeReg), h.Typeflag, "entry %s is not a regular file", h.Name)
		top, rest, _ := strings.Cut(h.Name, "/")
		require.Equal(t, "istio-canary", top, "entry %s", h.Name)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[rest] = string(body)
	}
}
