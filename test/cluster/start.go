package cluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
)

// start brings up a new cluster in the (empty) state directory. The state
// it returns lists every process started so far, also on error, so the
// caller can stop them.
func start(ctx context.Context, opts Options, l layout) (state, error) {
	began := time.Now()
	step := func(format string, args ...any) {
		fmt.Fprintf(opts.Log, "cluster: %5.1fs %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	var s state
	up, err := findUpstream(ctx, opts.Root)
	if err != nil {
		return s, err
	}
	step("programs in %s", up.BinDir)
	s = state{BinDir: up.BinDir, KubeVelaVersion: up.KubeVela.Version, StartedAt: time.Now(), Auth: velaAuth()}
	if s.Ports, err = allocatePorts(); err != nil {
		return s, err
	}
	if s.Auth {
		webhook, err := FreePorts(1)
		if err != nil {
			return s, err
		}
		s.Ports.VelaWebhook = webhook[0]
	}
	for _, dir := range []string{l.logsDir(), l.etcdDataDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return s, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	creds, err := generatePKI(l.pkiDir())
	if err != nil {
		return s, err
	}
	if err := writeKubeconfig(l.kubeconfig(), s.Ports.APIServer, creds); err != nil {
		return s, err
	}
	if s.Auth {
		if err := addAuthUser(l, s.Ports.APIServer, creds); err != nil {
			return s, err
		}
	}
	stages, err := kwokStages(up.Kwok)
	if err != nil {
		return s, err
	}
	if err := os.WriteFile(l.kwokStages(), stages, 0o644); err != nil {
		return s, fmt.Errorf("write kwok stages: %w", err)
	}
	if err := os.WriteFile(l.auditPolicy(), []byte(auditPolicy), 0o644); err != nil {
		return s, fmt.Errorf("write audit policy: %w", err)
	}
	// Read every manifest before starting anything: a missing file fails fast.
	manifests, err := loadManifests(up)
	if err != nil {
		return s, err
	}

	launch := func(c component) (Process, error) {
		p, err := c.start(l, s.BinDir)
		if err != nil {
			return p, err
		}
		s.Processes = append(s.Processes, p)
		return p, l.writeState(s)
	}

	etcdProcess, err := launch(etcd(l, s.Ports))
	if err != nil {
		return s, err
	}
	if err := waitEtcd(ctx, s.Ports, etcdProcess); err != nil {
		return s, err
	}
	step("etcd ready on %s", addr(s.Ports.EtcdClient))

	apiProcess, err := launch(kubeAPIServer(l, s.Ports, creds))
	if err != nil {
		return s, err
	}
	config, err := restConfigFromKubeconfig(l.kubeconfig())
	if err != nil {
		return s, err
	}
	clients, err := kubernetes.NewForConfig(config)
	if err != nil {
		return s, fmt.Errorf("create client: %w", err)
	}
	if err := waitAPIServer(ctx, clients, apiProcess); err != nil {
		return s, err
	}
	step("kube-apiserver ready on https://%s", addr(s.Ports.APIServer))

	for _, c := range []component{kubeControllerManager(l, creds), kubeScheduler(l), kwok(l, s.Ports)} {
		if _, err := launch(c); err != nil {
			return s, err
		}
	}
	step("kube-controller-manager, kube-scheduler, kwok started")

	applier, err := NewApplier(config)
	if err != nil {
		return s, err
	}
	if err := manifests.apply(ctx, applier); err != nil {
		return s, err
	}
	step("applied vela-system, the fake node, %d CRDs and %d vela definitions", len(manifests.crds), len(manifests.definitions))

	if s.Auth {
		if err := prepareAuth(ctx, clients, l, s.Ports, creds); err != nil {
			return s, err
		}
	}
	velaProcess, err := launch(velaCore(l, s.Ports, s.Auth))
	if err != nil {
		return s, err
	}
	if err := waitVelaCore(ctx, s.Ports, velaProcess); err != nil {
		return s, err
	}
	step("vela-core %s ready", s.KubeVelaVersion)
	if s.Auth {
		if err := registerWebhook(ctx, clients, s.Ports, creds, velaProcess); err != nil {
			return s, err
		}
		step("authentication mode: vela-core runs as vela-system/%s and its Application webhook serves on %s", velaCoreServiceAccount, addr(s.Ports.VelaWebhook))
	}

	if err := waitNodeReady(ctx, clients, s.Processes); err != nil {
		return s, err
	}
	step("node %s Ready", FakeNodeName)

	promComponent, err := prometheusComponent(l, s.Ports)
	if err != nil {
		return s, err
	}
	promProcess, err := launch(promComponent)
	if err != nil {
		return s, err
	}
	if err := waitPrometheus(ctx, s.Ports, promProcess); err != nil {
		return s, err
	}
	step("prometheus ready on %s", prometheusAddress(s.Ports))

	if err := l.writeEnv(s.BinDir, prometheusAddress(s.Ports)); err != nil {
		return s, err
	}
	fmt.Fprintf(opts.Log, "cluster: ready in %.1fs; use it with: source %s\n", time.Since(began).Seconds(), l.envFile())
	return s, nil
}

// tail returns the last n bytes of a log, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	data, _ := io.ReadAll(f)
	return string(data)
}
