package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/istio-canary/istio-canary/test/prometheus"
)

// The local control plane runs a Prometheus, as a mesh with Istio's
// telemetry has one: the canary-analysis steps query it (hack/addon.sh
// makes it the provider's default). It scrapes what the targets file lists,
// so a test adds the exporter of its fake telemetry with
// AddPrometheusTarget while it runs.

func (l layout) prometheusDir() string     { return filepath.Join(l.dir, "prometheus") }
func (l layout) prometheusTargets() string { return filepath.Join(l.prometheusDir(), "targets.json") }

// prometheusAddress is the base URL of the cluster's Prometheus.
func prometheusAddress(p Ports) string { return "http://" + addr(p.Prometheus) }

// prometheusComponent writes its config and an empty targets file.
func prometheusComponent(l layout, p Ports) (component, error) {
	binary, err := prometheus.Binary()
	if err != nil {
		return component{}, err
	}
	if err := os.MkdirAll(l.prometheusDir(), 0o700); err != nil {
		return component{}, fmt.Errorf("create %s: %w", l.prometheusDir(), err)
	}
	if err := prometheus.WriteTargets(l.prometheusTargets()); err != nil {
		return component{}, err
	}
	configFile := filepath.Join(l.prometheusDir(), "prometheus.yml")
	if err := os.WriteFile(configFile, prometheus.ConfigFor(l.prometheusTargets()), 0o644); err != nil {
		return component{}, fmt.Errorf("write %s: %w", configFile, err)
	}
	return component{name: "prometheus", program: binary, args: []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + filepath.Join(l.prometheusDir(), "data"),
		"--web.listen-address=" + addr(p.Prometheus),
		"--storage.tsdb.retention.time=6h",
	}}, nil
}

func prometheusReady(ctx context.Context, p Ports) error {
	if p.Prometheus == 0 {
		return errors.New("this cluster was started without a Prometheus")
	}
	return httpOK(ctx, prometheusAddress(p)+"/-/ready")
}

func waitPrometheus(ctx context.Context, p Ports, proc Process) error {
	return waitFor(ctx, "prometheus", 30*time.Second, []Process{proc}, func(ctx context.Context) error {
		return prometheusReady(ctx, p)
	})
}

// PrometheusAddress is the base URL of the cluster's Prometheus.
func (c *Cluster) PrometheusAddress() string { return prometheusAddress(c.Ports) }

// AddPrometheusTarget has the cluster's Prometheus scrape target too
// (host:port, at /metrics), within about 6 s, until remove is called. Tests
// that run in parallel each add their own: the targets file is read and
// written under a lock.
func (c *Cluster) AddPrometheusTarget(target string) (remove func() error, err error) {
	file := layout{dir: c.Dir}.prometheusTargets()
	if err := editTargets(file, func(ts []string) []string { return append(ts, target) }); err != nil {
		return nil, err
	}
	return func() error {
		return editTargets(file, func(ts []string) []string {
			return slices.DeleteFunc(ts, func(t string) bool { return t == target })
		})
	}, nil
}

// editTargets changes the targets file under an exclusive lock of a file
// beside it (flock: also between processes, such as two test packages).
func editTargets(file string, edit func([]string) []string) error {
	lock, err := os.OpenFile(file+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("lock the scrape targets: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock the scrape targets: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	targets, err := prometheus.ReadTargets(file)
	if err != nil {
		return err
	}
	return prometheus.WriteTargets(file, edit(targets)...)
}
