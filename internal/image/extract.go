package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Extract writes the file name of the image in the OCI layout dir (the one
// image Write puts there) to dest, with its mode: the end-to-end tests run
// the provider binary taken out of the image, not one built beside it.
func Extract(dir, name, dest string) error {
	p, err := layout.FromPath(dir)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	index, err := p.ImageIndex()
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(manifest.Manifests) != 1 {
		return fmt.Errorf("OCI layout %s holds %d images; want the one make image writes", dir, len(manifest.Manifests))
	}
	img, err := index.Image(manifest.Manifests[0].Digest)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	flat := mutate.Extract(img)
	defer flat.Close()
	files := tar.NewReader(flat)
	for {
		h, err := files.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("image in %s has no file %s", dir, name)
		}
		if err != nil {
			return fmt.Errorf("read image in %s: %w", dir, err)
		}
		if path.Clean("/"+h.Name) != path.Clean("/"+name) {
			continue
		}
		out, err := os.OpenFile(dest+".tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, os.FileMode(h.Mode).Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, files); err != nil {
			out.Close()
			return fmt.Errorf("write %s: %w", dest, err)
		}
		if err := out.Close(); err != nil {
			return err
		}
		return os.Rename(dest+".tmp", dest)
	}
}
