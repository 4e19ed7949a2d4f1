package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// User is the numeric user and group the image runs as: numeric so that a
// pod's runAsNonRoot can check it without an /etc/passwd, and the one
// distroless calls nonroot, so that it matches the Dockerfile's image.
const User = "65532:65532"

// Spec is everything the image is made of besides the binary.
type Spec struct {
	// Name is the binary's file name in the image root, and the entrypoint.
	Name string
	// Arch is the image's architecture (GOARCH).
	Arch string
	// Source sets the labels' revision and version and every timestamp.
	Source Source
	// SourceURL is the org.opencontainers.image.source label.
	SourceURL string
	// Ports are exposed ports, such as "8080/tcp".
	Ports []string
}

// Labels are the OCI annotations the config carries.
func (s Spec) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    s.Name,
		"org.opencontainers.image.source":   s.SourceURL,
		"org.opencontainers.image.revision": s.Source.Revision,
		"org.opencontainers.image.version":  s.Source.Version,
		"org.opencontainers.image.created":  s.Source.Created.Format(time.RFC3339),
	}
}

// New assembles the image: empty.Image (nothing downloaded) plus one layer
// holding the binary. It keeps empty.Image's Docker media types: a docker
// tarball read back (as crane push does) gets Docker media types, so the
// image has the same digest in the OCI layout, in the tarball and in the
// registry.
func New(binary []byte, spec Spec) (v1.Image, error) {
	layerTar, err := layerTar(spec.Name, binary, spec.Source.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: spec.Source.Created},
			CreatedBy: "make image",
			Comment:   "static " + spec.Name + " for linux/" + spec.Arch,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = spec.Arch
	cf.Created = v1.Time{Time: spec.Source.Created}
	cf.Config.User = User
	cf.Config.Entrypoint = []string{"/" + spec.Name}
	cf.Config.WorkingDir = "/"
	cf.Config.Labels = spec.Labels()
	if len(spec.Ports) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range spec.Ports {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return img, nil
}

// layerTar is the layer's content: the binary alone, owned by root (so the
// non-root user can run it but not replace it), with a fixed mode and mtime
// and no user or group names, which differ between build machines.
func layerTar(name string, binary []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o755,
		Size:     int64(len(binary)),
		ModTime:  mtime,
		Format:   tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer tar: %w", err)
	}
	return buf.Bytes(), nil
}
