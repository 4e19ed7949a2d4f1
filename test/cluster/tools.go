package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// binDirEnv names a directory that already holds the control plane's
// programs; when it is set, hack/build-tools.sh is not run.
const binDirEnv = "ISTIO_CANARY_BIN"

// velaToolsEnv names the tool module under hack/tools that vela-core and
// vela come from: vela (KubeVela v1.11) by default, vela-1.10 for `make
// test-compat`. hack/build-tools.sh reads it too, so the programs, the CRDs
// and the builtin definitions are of one KubeVela version.
const velaToolsEnv = "ISTIO_CANARY_VELA_TOOLS"

func velaTools() string {
	if dir := os.Getenv(velaToolsEnv); dir != "" {
		return dir
	}
	return "vela"
}

// upstream is where the programs and the manifests of the cluster come from.
// The versions are pinned in one place only: the go.mod files of the tool
// modules under hack/tools (kubevela, kwok) and of the root module (istio.io/api).
type upstream struct {
	BinDir   string // etcd, kube-apiserver, ..., kwok, vela-core, vela
	KubeVela module // charts/vela-core: CRDs, builtin definitions
	Kwok     module // kustomize/stage: the stage files of the kwok we run
	IstioAPI module // kubernetes/customresourcedefinitions.gen.yaml
}

type module struct {
	Path    string
	Version string
	Dir     string
}

func findUpstream(ctx context.Context, root string) (upstream, error) {
	binDir, err := toolBinDir(ctx, root)
	if err != nil {
		return upstream{}, err
	}
	u := upstream{BinDir: binDir}
	lookups := []struct {
		into   *module
		modDir string // the module whose build list pins the version
		path   string
	}{
		{&u.KubeVela, filepath.Join("hack", "tools", velaTools()), "github.com/oam-dev/kubevela"},
		{&u.Kwok, "hack/tools/k8s", "sigs.k8s.io/kwok"},
		{&u.IstioAPI, ".", "istio.io/api"},
	}
	for _, l := range lookups {
		m, err := downloadModule(ctx, filepath.Join(root, l.modDir), l.path)
		if err != nil {
			return upstream{}, err
		}
		*l.into = m
	}
	return u, nil
}

// toolBinDir returns the directory with the control plane's programs,
// building them with hack/build-tools.sh unless ISTIO_CANARY_BIN names one.
// The script is cached: when nothing changed it returns in well under a
// second; a cold build takes about 25 minutes on 2 cores and shows progress
// on stderr.
func toolBinDir(ctx context.Context, root string) (string, error) {
	if dir := os.Getenv(binDirEnv); dir != "" {
		return dir, nil
	}
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "build-tools.sh"))
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build the control plane's programs (hack/build-tools.sh): %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	dir := lines[len(lines)-1]
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		return "", fmt.Errorf("hack/build-tools.sh printed %q, which has no kube-apiserver: %w", dir, err)
	}
	return dir, nil
}

// downloadModule returns the module directory, in the module cache, of path
// at the version the build list of the module in modDir selects.
func downloadModule(ctx context.Context, modDir, path string) (module, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", path)
	cmd.Dir = modDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct {
		Path, Version, Dir, Error string
	}
	if jsonErr := json.Unmarshal(out, &info); jsonErr == nil && info.Error != "" {
		return module{}, fmt.Errorf("go mod download %s (in %s): %s", path, modDir, info.Error)
	}
	if err != nil {
		return module{}, fmt.Errorf("go mod download %s (in %s): %w: %s", path, modDir, err, stderr.String())
	}
	if info.Dir == "" {
		return module{}, fmt.Errorf("go mod download %s (in %s) gave no directory: %s", path, modDir, out)
	}
	return module{Path: info.Path, Version: info.Version, Dir: info.Dir}, nil
}
