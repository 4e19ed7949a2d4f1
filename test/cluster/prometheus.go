package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/istio-canary/istio-canary/test/prometheus"
)

// The local control plane runs a Prometheus, as a mesh with Istio's
// telemetry has one: the canary-analysis steps query it (hack/addon.sh
// makes it the provider's default). It scrapes what the targets file lists,
// so a test adds the exporter of its fake telemetry with
// SetPrometheusTargets while it runs.

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

// SetPrometheusTargets replaces what the cluster's Prometheus scrapes
// (host:port, at /metrics). It applies new targets within about 6 s.
func (c *Cluster) SetPrometheusTargets(targets ...string) error {
	return prometheus.WriteTargets(layout{dir: c.Dir}.prometheusTargets(), targets...)
}
