package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// stateDirEnv overrides where a cluster keeps its state (default: .cluster
// at the repository root), e.g. to run a second cluster from one checkout.
const stateDirEnv = "ISTIO_CANARY_CLUSTER_DIR"

// layout names the files of one cluster's state directory.
type layout struct{ dir string }

func (l layout) stateFile() string   { return filepath.Join(l.dir, "state.json") }
func (l layout) envFile() string     { return filepath.Join(l.dir, "env") }
func (l layout) kubeconfig() string  { return filepath.Join(l.dir, "kubeconfig") }
func (l layout) logsDir() string     { return filepath.Join(l.dir, "logs") }
func (l layout) pkiDir() string      { return filepath.Join(l.dir, "pki") }
func (l layout) etcdDataDir() string { return filepath.Join(l.dir, "etcd") }
func (l layout) kwokStages() string  { return filepath.Join(l.dir, "kwok-stages.yaml") }
func (l layout) auditPolicy() string { return filepath.Join(l.dir, "audit-policy.yaml") }

// auditLog is where kube-apiserver records what service accounts do.
func (l layout) auditLog() string { return filepath.Join(l.logsDir(), "audit.log") }
func (l layout) logFile(name string) string {
	return filepath.Join(l.logsDir(), name+".log")
}

// state is what cluster-up records, in state.json, for cluster-down and for
// the next cluster-up: which processes to stop, and where to reach them.
type state struct {
	BinDir          string    `json:"binDir"`
	KubeVelaVersion string    `json:"kubeVelaVersion"`
	Ports           Ports     `json:"ports"`
	Processes       []Process `json:"processes"`
	StartedAt       time.Time `json:"startedAt"`
	// Auth tells that vela-core runs in authentication mode (see velaAuthEnv).
	Auth bool `json:"auth,omitempty"`
}

func (l layout) readState() (state, error) {
	var s state
	data, err := os.ReadFile(l.stateFile())
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("parse %s: %w", l.stateFile(), err)
	}
	return s, nil
}

// writeState replaces state.json atomically, so a crash leaves the old or
// the new list of processes, never half of one.
func (l layout) writeState(s state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cluster state: %w", err)
	}
	tmp := l.stateFile() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write cluster state: %w", err)
	}
	if err := os.Rename(tmp, l.stateFile()); err != nil {
		return fmt.Errorf("write cluster state: %w", err)
	}
	return nil
}

// writeEnv writes the shell file users source: KUBECONFIG, and the bin dir
// first on PATH so that kubectl and vela are the versions the cluster runs
// (a kubectl already on PATH may be a cloud SDK dispatcher).
func (l layout) writeEnv(binDir, prometheus string) error {
	var b strings.Builder
	b.WriteString("# Written by `make cluster-up` (test/cluster). Use: source .cluster/env\n")
	fmt.Fprintf(&b, "export KUBECONFIG=%s\n", shellQuote(l.kubeconfig()))
	fmt.Fprintf(&b, "export %s=%s\n", binDirEnv, shellQuote(binDir))
	fmt.Fprintf(&b, "export PATH=%s:\"$PATH\"\n", shellQuote(binDir))
	fmt.Fprintf(&b, "export PROMETHEUS_ADDRESS=%s\n", shellQuote(prometheus))
	if err := os.WriteFile(l.envFile(), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", l.envFile(), err)
	}
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lock takes an exclusive lock that serializes cluster-up and cluster-down
// on one state directory (test packages run in parallel and may all ask for
// the cluster at once). It locks the parent directory, so the state
// directory itself can be removed entirely.
func (l layout) lock() (unlock func(), err error) {
	parent := filepath.Dir(l.dir)
	f, err := os.Open(parent)
	if err != nil {
		return nil, fmt.Errorf("open %s to lock it: %w", parent, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", parent, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// findRoot returns the repository root: the closest directory, from the
// working directory up, that holds hack/build-tools.sh and go.mod. Tests run
// in their package directory, make at the root.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		_, errScript := os.Stat(filepath.Join(dir, "hack", "build-tools.sh"))
		_, errMod := os.Stat(filepath.Join(dir, "go.mod"))
		if errScript == nil && errMod == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no repository root (a directory with go.mod and hack/build-tools.sh) above the working directory")
		}
		dir = parent
	}
}

func (l layout) readEnvFile() ([]byte, error) {
	data, err := os.ReadFile(l.envFile())
	if err != nil {
		return nil, fmt.Errorf("env file: %w", err)
	}
	return data, nil
}
