package image

import (
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Outputs are the files Write makes under its directory.
type Outputs struct {
	// Layout is an OCI image layout directory holding the image alone
	// (skopeo copy oci:<Layout> ...).
	Layout string
	// Tarball is a docker-archive tarball (crane push <Tarball> ..., docker load).
	Tarball string
	// Digest is the image's manifest digest, the same in both.
	Digest v1.Hash
}

// Write writes img under dir as Outputs, replacing earlier outputs: the
// layout's index would otherwise keep the images of earlier builds. tag is
// the tarball's repository tag and the layout's ref name.
func Write(img v1.Image, dir string, tag name.Tag, platform v1.Platform) (Outputs, error) {
	out := Outputs{
		Layout:  filepath.Join(dir, "layout"),
		Tarball: filepath.Join(dir, path.Base(tag.RepositoryStr())+".tar"),
	}
	var err error
	if out.Digest, err = img.Digest(); err != nil {
		return Outputs{}, fmt.Errorf("image digest: %w", err)
	}
	if err := os.RemoveAll(out.Layout); err != nil {
		return Outputs{}, fmt.Errorf("remove old layout: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Outputs{}, fmt.Errorf("image output: %w", err)
	}
	p, err := layout.Write(out.Layout, empty.Index)
	if err != nil {
		return Outputs{}, fmt.Errorf("OCI layout: %w", err)
	}
	err = p.AppendImage(img,
		layout.WithPlatform(platform),
		layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.TagStr()}))
	if err != nil {
		return Outputs{}, fmt.Errorf("OCI layout: %w", err)
	}
	if err := tarball.WriteToFile(out.Tarball, tag, img); err != nil {
		return Outputs{}, fmt.Errorf("image tarball: %w", err)
	}
	return out, nil
}
