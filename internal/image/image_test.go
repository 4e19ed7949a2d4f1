package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/require"
)

var testSource = Source{
	Revision: "0123456789abcdef0123456789abcdef01234567",
	Version:  "v0.0.0-test",
	Created:  time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
}

func testSpec(name string) Spec {
	return Spec{Name: name, Arch: "amd64", Source: testSource, SourceURL: "https://example.com/src", Ports: []string{"8080/tcp"}}
}

// tinyModule writes a module with a main package that is fast to build, so
// that the reproducibility tests build for real without the provider's
// dependencies.
func tinyModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"tiny\") }\n"), 0o644))
	return dir
}

// buildAndWrite runs the whole pipeline once, from go build to the outputs.
func buildAndWrite(t *testing.T, moduleDir, pkg string, spec Spec) Outputs {
	t.Helper()
	work := t.TempDir()
	bin := filepath.Join(work, "bin", spec.Name)
	require.NoError(t, GoBuild{Dir: moduleDir, Package: pkg, Arch: spec.Arch, Output: bin}.Run(context.Background()))
	binary, err := os.ReadFile(bin)
	require.NoError(t, err)
	img, err := New(binary, spec)
	require.NoError(t, err)
	tag, err := name.NewTag(spec.Name + ":" + spec.Source.Version)
	require.NoError(t, err)
	out, err := Write(img, filepath.Join(work, "out"), tag, v1.Platform{OS: "linux", Architecture: spec.Arch})
	require.NoError(t, err)
	return out
}

func fileSHA(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return sha256.Sum256(b)
}

func TestBuildTwiceSameDigest(t *testing.T) {
	dir := tinyModule(t)
	a := buildAndWrite(t, dir, ".", testSpec("tiny"))
	b := buildAndWrite(t, dir, ".", testSpec("tiny"))
	require.Equal(t, a.Digest, b.Digest)
	require.Equal(t, fileSHA(t, a.Tarball), fileSHA(t, b.Tarball), "the tarballs must be byte for byte the same")
	require.Equal(t, fileSHA(t, filepath.Join(a.Layout, "index.json")), fileSHA(t, filepath.Join(b.Layout, "index.json")))

	// The inputs do count: another creation time is another image.
	other := testSpec("tiny")
	other.Source.Created = other.Source.Created.Add(time.Second)
	c := buildAndWrite(t, dir, ".", other)
	require.NotEqual(t, a.Digest, c.Digest)
}

// TestProviderBuildTwiceSameDigest builds the real provider twice (about
// ten seconds with a warm build cache, a few minutes cold).
func TestProviderBuildTwiceSameDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the provider twice")
	}
	spec := testSpec("istio-canary-provider")
	a := buildAndWrite(t, "../..", "./cmd/istio-canary-provider", spec)
	b := buildAndWrite(t, "../..", "./cmd/istio-canary-provider", spec)
	require.Equal(t, a.Digest, b.Digest)
}

func TestOutputsValidateWithOneDigest(t *testing.T) {
	out := buildAndWrite(t, tinyModule(t), ".", testSpec("tiny"))

	p, err := layout.FromPath(out.Layout)
	require.NoError(t, err)
	idx, err := p.ImageIndex()
	require.NoError(t, err)
	require.NoError(t, validate.Index(idx))
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1, "skopeo's oci:<dir> without a reference needs a single image")
	require.Equal(t, out.Digest, im.Manifests[0].Digest)
	require.Equal(t, &v1.Platform{OS: "linux", Architecture: "amd64"}, im.Manifests[0].Platform)

	// crane push reads the tarball back like this; the registry must get
	// the digest that was printed.
	img, err := tarball.ImageFromPath(out.Tarball, nil)
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
	d, err := img.Digest()
	require.NoError(t, err)
	require.Equal(t, out.Digest, d)
}

func TestConfig(t *testing.T) {
	img, err := New([]byte("not really a binary"), testSpec("prov"))
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)

	uid, gid, ok := strings.Cut(cf.Config.User, ":")
	require.True(t, ok, "user and group: %q", cf.Config.User)
	for _, id := range []string{uid, gid} {
		n, err := strconv.Atoi(id)
		require.NoError(t, err, "numeric, so that runAsNonRoot can check it: %q", cf.Config.User)
		require.NotZero(t, n, "not root")
	}
	require.Equal(t, []string{"/prov"}, cf.Config.Entrypoint)
	require.Empty(t, cf.Config.Cmd)
	require.Equal(t, "/", cf.Config.WorkingDir)
	require.Equal(t, "linux", cf.OS)
	require.Equal(t, "amd64", cf.Architecture)
	require.Equal(t, testSource.Created, cf.Created.UTC())
	require.Contains(t, cf.Config.ExposedPorts, "8080/tcp")
	require.Equal(t, map[string]string{
		"org.opencontainers.image.title":    "prov",
		"org.opencontainers.image.source":   "https://example.com/src",
		"org.opencontainers.image.revision": testSource.Revision,
		"org.opencontainers.image.version":  testSource.Version,
		"org.opencontainers.image.created":  "2024-01-02T03:04:05Z",
	}, cf.Config.Labels)
	for _, h := range cf.History {
		require.Equal(t, testSource.Created, h.Created.UTC())
	}
}

// TestLayerHoldsOnlyTheBinary checks the layer: no shell or anything else
// beside the binary, and fixed owners, mode and mtime.
func TestLayerHoldsOnlyTheBinary(t *testing.T) {
	img, err := New([]byte("binary"), testSpec("prov"))
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	rc, err := layers[0].Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
		require.Equal(t, int64(0o755), h.Mode)
		require.Zero(t, h.Uid)
		require.Zero(t, h.Gid)
		require.Empty(t, h.Uname)
		require.Empty(t, h.Gname)
		require.Equal(t, testSource.Created, h.ModTime.UTC())
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.Equal(t, "binary", string(b))
	}
	require.Equal(t, []string{"prov"}, names)
}

func TestReadSource(t *testing.T) {
	s, err := ReadSource(context.Background(), "../..", "1700000000")
	require.NoError(t, err)
	require.Regexp(t, "^[0-9a-f]{40}$", s.Revision)
	require.NotEmpty(t, s.Version)
	require.Equal(t, time.Unix(1700000000, 0).UTC(), s.Created)

	s, err = ReadSource(context.Background(), "../..", "")
	require.NoError(t, err)
	require.False(t, s.Created.IsZero(), "the commit time when SOURCE_DATE_EPOCH is unset")
	require.True(t, s.Created.Before(time.Now().Add(time.Minute)))

	for _, bad := range []string{"", "soon", "-1", "1.5"} {
		_, err := ParseEpoch(bad)
		require.Error(t, err, bad)
	}
}

// The binary taken out of the layout is the one that went in, runnable.
func TestExtractGivesBackTheBinary(t *testing.T) {
	dir := tinyModule(t)
	out := buildAndWrite(t, dir, ".", testSpec("tiny"))
	dest := filepath.Join(t.TempDir(), "tiny")
	require.NoError(t, Extract(out.Layout, "tiny", dest))
	rebuilt := filepath.Join(t.TempDir(), "tiny")
	require.NoError(t, GoBuild{Dir: dir, Package: ".", Arch: "amd64", Output: rebuilt}.Run(context.Background()))
	require.Equal(t, fileSHA(t, rebuilt), fileSHA(t, dest), "the extracted binary is the build's")
	info, err := os.Stat(dest)
	require.NoError(t, err)
	require.NotZero(t, info.Mode().Perm()&0o111, "executable")

	require.ErrorContains(t, Extract(out.Layout, "nothing", dest), "has no file nothing")
	require.ErrorContains(t, Extract(t.TempDir(), "tiny", dest), "OCI layout")
}
