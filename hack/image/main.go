// Command image is `make image`: it builds the provider statically and
// writes its container image, without a container engine, as an OCI layout
// and a docker-archive tarball, then prints the digest. Building again from
// the same commit gives the same digest.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/istio-canary/istio-canary/internal/image"
)

const provider = "istio-canary-provider"

func main() {
	out := flag.String("out", ".image", "directory to write the OCI layout and the tarball into")
	arch := flag.String("arch", "amd64", "GOARCH of the binary and the image")
	version := flag.String("version", "", "org.opencontainers.image.version label and tag (default: git describe --tags --always --dirty)")
	source := flag.String("source", "https://github.com/istio-canary/istio-canary", "org.opencontainers.image.source label")
	extract := flag.String("extract", "", "also write the provider binary, read back from the OCI layout, to this file")
	flag.Parse()
	if err := run(context.Background(), *out, *arch, *version, *source, *extract); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, arch, version, sourceURL, extract string) error {
	start := time.Now()
	src, err := image.ReadSource(ctx, ".", os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		return err
	}
	if version != "" {
		src.Version = version
	}
	tag, err := name.NewTag(provider + ":" + src.Version)
	if err != nil {
		return fmt.Errorf("version %q is not an image tag: %w", src.Version, err)
	}
	tmp, err := os.MkdirTemp("", "image-build-")
	if err != nil {
		return fmt.Errorf("build directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, provider)
	if err := (image.GoBuild{Dir: ".", Package: "./cmd/" + provider, Arch: arch, Output: bin}).Run(ctx); err != nil {
		return err
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("read binary: %w", err)
	}
	img, err := image.New(binary, image.Spec{
		Name: provider, Arch: arch, Source: src, SourceURL: sourceURL, Ports: []string{"8080/tcp"},
	})
	if err != nil {
		return err
	}
	res, err := image.Write(img, out, tag, v1.Platform{OS: "linux", Architecture: arch})
	if err != nil {
		return err
	}
	fmt.Printf("image %s (linux/%s, revision %s, created %s) in %s\n",
		tag.TagStr(), arch, src.Revision, src.Created.Format(time.RFC3339), time.Since(start).Round(100*time.Millisecond))
	fmt.Printf("  layout:  %s\n  tarball: %s\n", res.Layout, res.Tarball)
	if extract != "" {
		if err := image.Extract(res.Layout, provider, extract); err != nil {
			return err
		}
		fmt.Printf("  binary:  %s\n", extract)
	}
	fmt.Println(res.Digest)
	return nil
}
