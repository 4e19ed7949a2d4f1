package main

import (
	"fmt"

	"github.com/spf13/pflag"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/istio-canary/istio-canary/internal/status"
)

// kubeFlags are the usual kubectl connection flags.
type kubeFlags struct {
	kubeconfig string
	context    string
	namespace  string
}

func (f *kubeFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	fs.StringVar(&f.context, "context", "", "kubeconfig context to use (default: the current context)")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "namespace of the Application (default: the context's namespace)")
}

// clientConfig follows kubectl's rules: --kubeconfig, else $KUBECONFIG, else
// ~/.kube/config, else the in-cluster config.
func (f kubeFlags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	overrides.Context.Namespace = f.namespace
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// restConfig returns the REST config and the namespace: -n, else the context's
// namespace, else the pod's namespace in-cluster, else default.
func (f kubeFlags) restConfig() (*rest.Config, string, error) {
	cc := f.clientConfig()
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig namespace: %w", err)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	return rest.AddUserAgent(cfg, "istio-canary"), ns, nil
}

func newClients(f kubeFlags) (status.Clients, string, error) {
	cfg, ns, err := f.restConfig()
	if err != nil {
		return status.Clients{}, "", err
	}
	var c status.Clients
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return c, "", fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	if c.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return c, "", fmt.Errorf("dynamic client for %s: %w", cfg.Host, err)
	}
	if c.Istio, err = istioclient.NewForConfig(cfg); err != nil {
		return c, "", fmt.Errorf("istio client for %s: %w", cfg.Host, err)
	}
	return c, ns, nil
}

// kubeUser is the user of the kubeconfig context the flags select, as
// kubectl names it; "" in-cluster or when the kubeconfig cannot be read.
func kubeUser(f kubeFlags) string {
	raw, err := f.clientConfig().RawConfig()
	if err != nil {
		return ""
	}
	name := f.context
	if name == "" {
		name = raw.CurrentContext
	}
	if c, ok := raw.Contexts[name]; ok {
		return c.AuthInfo
	}
	return ""
}
