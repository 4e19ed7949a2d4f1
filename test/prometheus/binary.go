// Package prometheus runs a real Prometheus server for tests: its own
// config and storage in a directory of the test's, on a free port of
// 127.0.0.1, scraping every second the targets the test lists (and may
// change while it runs).
//
//	exporter := istiometrics.New()
//	target, _ := exporter.Start()
//	prom := prometheus.ForTest(t, target)
//	api, _ := analysis.NewAPI(prom.Address())
//
// The binary is the one hack/prometheus.sh (`make prometheus`, which
// `make test-unit` runs first) puts into the tools cache, or the one
// ISTIO_CANARY_PROMETHEUS names.
package prometheus

import (
	"fmt"
	"os"
	"path/filepath"
)

const (
	// BinaryEnv names a prometheus binary to use instead of the cached one.
	BinaryEnv = "ISTIO_CANARY_PROMETHEUS"
	// OptionalEnv, set to 1, makes the tests that need Prometheus skip when
	// there is no binary, instead of failing.
	OptionalEnv = "ISTIO_CANARY_PROMETHEUS_OPTIONAL"
	// cacheEnv overrides the tools cache root, as in hack/prometheus.sh.
	cacheEnv = "ISTIO_CANARY_CACHE"
)

// Binary returns the path of the prometheus binary: $ISTIO_CANARY_PROMETHEUS,
// else where hack/prometheus.sh installs it,
// $ISTIO_CANARY_CACHE/prometheus/bin/prometheus (the cache root defaults to
// $XDG_CACHE_HOME/istio-canary or ~/.cache/istio-canary). Its error says how
// to install one.
func Binary() (string, error) {
	if path := os.Getenv(BinaryEnv); path != "" {
		if err := isExecutable(path); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnv, path, err)
		}
		return path, nil
	}
	cache := os.Getenv(cacheEnv)
	if cache == "" {
		// On Linux this is $XDG_CACHE_HOME, else ~/.cache, as the scripts use.
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find the tools cache: %w; set %s to a prometheus binary", err, BinaryEnv)
		}
		cache = filepath.Join(dir, "istio-canary")
	}
	path := filepath.Join(cache, "prometheus", "bin", "prometheus")
	if err := isExecutable(path); err != nil {
		return "", fmt.Errorf("no Prometheus server at %s (%w): install it with `make prometheus` "+
			"(hack/prometheus.sh: apt-get download of the prometheus package, no service), or set %s "+
			"to a prometheus 2.x binary, or %s=1 to skip the tests that need it", path, err, BinaryEnv, OptionalEnv)
	}
	return path, nil
}

func isExecutable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}
