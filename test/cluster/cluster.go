// Package cluster runs a real local Kubernetes control plane with KubeVela
// for the end-to-end tests and the demo: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kwok (a fake node whose pods
// become Ready), vela-core and the vela CLI, all on 127.0.0.1 with free
// ports, built from Go modules by hack/build-tools.sh.
//
// `make cluster-up` / `make cluster-down` (hack/cluster) and the tests
// (ForTest) share this one implementation. The processes run in their own
// sessions and outlive whoever started them; their PIDs and start times are
// recorded in <state dir>/state.json, and Down stops exactly those.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
)

// Options says which cluster to act on; the zero value means the cluster
// of the repository around the working directory.
type Options struct {
	// Root is the repository root (default: found from the working directory).
	Root string
	// Dir is the state directory (default: $ISTIO_CANARY_CLUSTER_DIR, else <Root>/.cluster).
	Dir string
	// Log receives progress messages (default: os.Stderr).
	Log io.Writer
}

func (o Options) withDefaults() (Options, error) {
	if o.Root == "" {
		root, err := findRoot()
		if err != nil {
			return o, err
		}
		o.Root = root
	}
	if o.Dir == "" {
		o.Dir = os.Getenv(stateDirEnv)
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(o.Root, ".cluster")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("state dir: %w", err)
	}
	o.Dir = dir
	if o.Log == nil {
		o.Log = os.Stderr
	}
	return o, nil
}

// Cluster is a running, healthy local control plane.
type Cluster struct {
	Dir             string // state directory
	AuditLog        string // what service accounts did, as kube-apiserver's audit log (JSON lines)
	Kubeconfig      string // admin kubeconfig (cluster-admin)
	EnvFile         string // shell file exporting KUBECONFIG and PATH
	BinDir          string // kubectl, vela, vela-core, ...
	KubeVelaVersion string // e.g. v1.11.0
	Ports           Ports
	// Auth tells that vela-core runs in authentication mode: it impersonates
	// an Application's user (ISTIO_CANARY_VELA_AUTH; see UserKubeconfig).
	Auth bool
}

func newCluster(l layout, s state) *Cluster {
	return &Cluster{
		Dir:             l.dir,
		AuditLog:        l.auditLog(),
		Kubeconfig:      l.kubeconfig(),
		EnvFile:         l.envFile(),
		BinDir:          s.BinDir,
		KubeVelaVersion: s.KubeVelaVersion,
		Ports:           s.Ports,
		Auth:            s.Auth,
	}
}

// LogFile is the path of the log of one of the cluster's processes
// (vela-core, kube-apiserver, ...).
func (c *Cluster) LogFile(process string) string {
	return layout{dir: c.Dir}.logFile(process)
}

// RESTConfig returns a client configuration for the admin user, with rate
// limits high enough for tests that create many objects.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	return restConfigFromKubeconfig(c.Kubeconfig)
}

// Environ is the current environment plus KUBECONFIG, and BinDir first on
// PATH: what `source .cluster/env` gives a shell.
func (c *Cluster) Environ() []string {
	return append(os.Environ(),
		"KUBECONFIG="+c.Kubeconfig,
		binDirEnv+"="+c.BinDir,
		"PATH="+c.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// Command prepares one of the cluster's programs (kubectl, vela) to run
// against the cluster, e.g. c.Command(ctx, "vela", "addon", "enable", dir).
func (c *Cluster) Command(ctx context.Context, program string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, program), args...)
	cmd.Env = c.Environ()
	return cmd
}

// Up returns the running cluster if it is healthy; otherwise it stops what
// is left of a previous one and starts a new one. A cold tool build makes
// the first call take about 25 minutes; with built tools it takes seconds.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l := layout{opts.Dir}
	if err := os.MkdirAll(filepath.Dir(l.dir), 0o755); err != nil {
		return nil, fmt.Errorf("create parent of state dir: %w", err)
	}
	unlock, err := l.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()

	if s, err := l.readState(); err == nil {
		checkErr := checkHealth(ctx, l, s)
		if checkErr == nil && s.Auth != velaAuth() {
			checkErr = fmt.Errorf("vela-core's authentication mode is %v, %s asks for %v", s.Auth, velaAuthEnv, velaAuth())
		}
		if checkErr == nil {
			fmt.Fprintf(opts.Log, "cluster: reusing the healthy cluster in %s\n", l.dir)
			return newCluster(l, s), nil
		}
		fmt.Fprintf(opts.Log, "cluster: the cluster in %s is not healthy (%v); replacing it\n", l.dir, checkErr)
	}
	if err := teardown(l, opts.Log); err != nil {
		return nil, err
	}
	s, err := start(ctx, opts, l)
	if err != nil {
		// Stop what was started; keep the logs for the diagnosis. The next
		// Up or Down removes them.
		if stopErr := stopProcesses(s.Processes, 10*time.Second); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		_ = os.Remove(l.stateFile())
		_ = os.Remove(l.envFile())
		return nil, fmt.Errorf("start the local cluster (logs in %s): %w", l.logsDir(), err)
	}
	return newCluster(l, s), nil
}

// Down stops the processes the cluster's state records (only those, by PID
// and start time, each with its process group) and removes its state
// directory. It is a no-op when no cluster is there.
func Down(opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	l := layout{opts.Dir}
	if _, err := os.Stat(l.dir); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(opts.Log, "cluster: nothing to stop in %s\n", l.dir)
		return nil
	}
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return teardown(l, opts.Log)
}

// Adopt records a process that was started outside this package for the
// cluster (e.g. the addon's provider, started by hack/addon.sh) so that Down
// stops it too, by PID and start time like the cluster's own processes. A
// process adopted under a name that is already recorded replaces it. Adopted
// processes do not count for the cluster's health.
func Adopt(opts Options, name string, pid int) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	l := layout{opts.Dir}
	unlock, err := l.lock()
	if err != nil {
		return err
	}
	defer unlock()
	s, err := l.readState()
	if err != nil {
		return fmt.Errorf("no cluster in %s to adopt %s into: %w", l.dir, name, err)
	}
	startTime, err := processStartTime(pid)
	if err != nil {
		return fmt.Errorf("adopt %s: no process %d: %w", name, pid, err)
	}
	kept := s.Processes[:0]
	for _, p := range s.Processes {
		if !p.Adopted || p.Name != name {
			kept = append(kept, p)
		}
	}
	s.Processes = append(kept, Process{Name: name, PID: pid, StartTime: startTime, Adopted: true})
	return l.writeState(s)
}

// Status reports whether the cluster in the state directory is healthy.
func Status(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l := layout{opts.Dir}
	s, err := l.readState()
	if err != nil {
		return nil, fmt.Errorf("no cluster in %s: %w", l.dir, err)
	}
	if err := checkHealth(ctx, l, s); err != nil {
		return nil, err
	}
	return newCluster(l, s), nil
}

// teardown stops the recorded processes and removes the state directory.
func teardown(l layout, log io.Writer) error {
	s, err := l.readState()
	switch {
	case err == nil:
		if err := stopProcesses(s.Processes, 15*time.Second); err != nil {
			return fmt.Errorf("stop the cluster in %s: %w", l.dir, err)
		}
		fmt.Fprintf(log, "cluster: stopped %d processes of %s\n", len(s.Processes), l.dir)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("read the state of the cluster in %s: %w", l.dir, err)
	}
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("remove %s: %w", l.dir, err)
	}
	return nil
}
