// Package image builds the provider's container image without a container
// engine: a static Go binary in a single layer on an empty base, with every
// timestamp, owner and mode fixed so that the same inputs give the same
// digest.
package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// GoBuild describes a static build of one main package for linux.
type GoBuild struct {
	// Dir is the module directory the build runs in.
	Dir string
	// Package is the main package, relative to Dir (e.g. ./cmd/x).
	Package string
	// Arch is GOARCH.
	Arch string
	// Output is the file the binary is written to.
	Output string
}

// Run builds the binary. The flags are the ones that make the output depend
// only on the sources and the toolchain: no cgo (no libc to match in an empty
// image), no local paths (-trimpath), no symbol tables or build ID (which
// hash the linker's inputs and would change across machines).
func (b GoBuild) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(b.Output), 0o755); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", b.Output, b.Package)
	cmd.Dir = b.Dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.Arch)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for linux/%s: %w: %s", b.Package, b.Arch, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
