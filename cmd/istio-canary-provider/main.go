// Command istio-canary-provider is the Go half of the istio-canary addon: the
// CueX external provider that the canary-rollout, canary-rollback and
// canary-analysis workflow steps call over HTTP, and the loop that measures
// the analyses on time.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/istio-canary/istio-canary/providers/analysisrun"
	"github.com/istio-canary/istio-canary/providers/canary"
	"github.com/istio-canary/istio-canary/providers/server"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

type options struct {
	listen       string
	kubeconfig   string
	addressFile  string
	prometheus   string
	analysisTick time.Duration
	noWake       bool
	qps          float64
	burst        int
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", ":8080", "address to serve the provider protocol, /healthz, /readyz and /metrics on")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; default: in-cluster, then $KUBECONFIG")
	flag.StringVar(&o.addressFile, "address-file", "", "write the address the server listens on to this file (useful with --listen=127.0.0.1:0)")
	flag.StringVar(&o.prometheus, "prometheus-address", "", "Prometheus base URL for canary-analysis steps that name none (the addon parameter prometheusAddress)")
	flag.DurationVar(&o.analysisTick, "analysis-tick", analysisrun.DefaultTick, "how often to look for due analysis measurements")
	flag.BoolVar(&o.noWake, "analysis-no-wake", false, "do not wake a step waiting on its analysis' verdict (it then sees it after vela's backoff); for benchmarks only")
	// client-go's defaults (5 requests a second, bursts of 10) made calls
	// wait on the limiter once a few steps called at once: a plan makes 2
	// requests and a scale 3, so 5 a second answered about 2 calls a second.
	flag.Float64Var(&o.qps, "kube-api-qps", 50, "requests a second to the API server, per client (client-go's limiter)")
	flag.IntVar(&o.burst, "kube-api-burst", 100, "bursts of requests to the API server, per client")
	klog.InitFlags(nil)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := klog.FromContext(ctx)
	if err := run(ctx, o); err != nil {
		logger.Error(err, "provider stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	logger := klog.FromContext(ctx)
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(o.qps), o.burst
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	istio, err := istioclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("istio client: %w", err)
	}
	srv, err := server.New(server.Options{
		IsInputError: canary.IsInputError,
		Logger:       logger,
		Ready:        server.AccessCheck(kube),
	})
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	runs := workflowrun.Client{Dynamic: dyn}
	engine := &analysisrun.Engine{Kube: kube, Runs: runs, NoWake: o.noWake}
	clients := canary.Clients{Kube: kube, Istio: istio, Workflows: runs, Analysis: &canary.Analysis{
		Engine: engine, Runs: runs, DefaultPrometheus: o.prometheus,
	}}
	server.Register(srv, "ping", clients.Ping)
	server.Register(srv, "plan", clients.Plan)
	server.Register(srv, "scale", clients.Scale)
	server.Register(srv, "analyze", clients.Analyze)
	go func() {
		if err := engine.Loop(ctx, o.analysisTick); err != nil {
			logger.Error(err, "the analysis loop stopped")
		}
	}()

	listener, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	if o.addressFile != "" {
		if err := os.WriteFile(o.addressFile, []byte(listener.Addr().String()+"\n"), 0o644); err != nil {
			return fmt.Errorf("write address file: %w", err)
		}
	}
	httpServer := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(listener) }()
	logger.Info("serving", "address", listener.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", o.listen, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := httpServer.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// restConfig uses the in-cluster config inside a pod, else the kubeconfig.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	return cfg, nil
}
