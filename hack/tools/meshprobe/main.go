// Command meshprobe proves a component's traffic split on Istio's own data
// path instead of reading it off a VirtualService. It runs Istio's discovery
// server (istiod's config-to-xDS pipeline, in process, on 127.0.0.1) over the
// objects of one namespace, starts a real gRPC backend per ready pod of the
// component that answers with its pod's version label, sends requests through
// a proxyless gRPC client that takes its routes from that server as a sidecar
// of the namespace would, counts the answers per version, runs istioctl
// analyze's analyzers over the same objects, and prints one JSON object.
//
//	meshprobe -component reviews [-app book-info] [-namespace default] [-requests 1000] [-header x-canary=true]
//	meshprobe -component reviews -f objects.yaml   (offline: no cluster)
//
// The answer (Result): "declared" are the weights per subset of the
// VirtualService's canary-traffic route, "istio" those of the same route in
// the RouteConfiguration Istio generates for the client, "measured" the
// answers per pod version label, "failed" the requests that got none, "port"
// how Istio treats the Service port (Port), "analyzers" istioctl analyze's
// messages for the namespace. The causes of failed requests go to stderr.
//
// Without -f, the objects are the namespace's Services, Pods,
// EndpointSlices, Deployments and Istio networking configs; files may hold
// Deployments without Pods (as the addon renders them): the probe makes the
// Pods and EndpointSlices a cluster would have.
//
// Pod IPs stay as the cluster has them (kwok's are not routable, and
// EndpointSlice validation refuses loopback ones): the client's dialer maps
// each pod's IP and port to its backend on 127.0.0.1. Requests go nowhere
// else.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	// Istio's packages and their dependencies log to stdout in places; stdout
	// is the JSON answer, so everything but that answer goes to stderr.
	stdout := os.Stdout
	os.Stdout = os.Stderr
	if err := run(os.Args[1:], stdout); err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	var opts Options
	var files, headers stringList
	var kubeconfig string
	var verbose bool
	var output string
	fs := flag.NewFlagSet("meshprobe", flag.ContinueOnError)
	fs.StringVar(&opts.Component, "component", "", "the component (its Service, VirtualService and DestinationRule are named after it)")
	fs.StringVar(&opts.App, "app", "", "the Application the component belongs to (checked against the Service's app.oam.dev/name label)")
	fs.StringVar(&opts.Namespace, "namespace", "default", "the namespace of the component")
	fs.IntVar(&opts.Requests, "requests", 1000, "how many requests to send")
	fs.IntVar(&opts.Port, "port", 0, "the Service port to send to (default: the canary-traffic route's port, else the Service's first)")
	fs.DurationVar(&opts.Timeout, "timeout", 2*time.Second, "deadline of one request")
	fs.Var(&headers, "header", "a request header name=value (repeatable)")
	fs.Var(&files, "f", "a YAML file of the objects to probe instead of a cluster's (repeatable)")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to read (default: $KUBECONFIG, then ~/.kube/config)")
	fs.BoolVar(&verbose, "v", false, "let Istio's and gRPC's info logs through to stderr")
	fs.StringVar(&output, "o", "json", "json, or text: a few lines for people")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if opts.Component == "" {
		return fmt.Errorf("-component is required")
	}
	if output != "json" && output != "text" {
		return fmt.Errorf("-o %q: want json or text", output)
	}
	var err error
	if opts.Headers, err = parseHeaders(headers); err != nil {
		return err
	}
	configureLogs(verbose)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var objs []object
	if len(files) > 0 {
		objs, err = loadFiles(files)
	} else {
		var client dynamic.Interface
		if client, err = dynamicClient(kubeconfig); err != nil {
			return err
		}
		objs, err = readLive(ctx, client, opts.Namespace)
	}
	if err != nil {
		return err
	}

	result, err := Probe(ctx, opts, objs)
	if err != nil {
		return err
	}
	if output == "text" {
		_, err = io.WriteString(stdout, result.Text())
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(result)
}

func parseHeaders(pairs []string) (map[string]string, error) {
	headers := map[string]string{}
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("header %q: want name=value", p)
		}
		// gRPC metadata keys are lower case.
		headers[strings.ToLower(name)] = value
	}
	return headers, nil
}

func dynamicClient(kubeconfig string) (dynamic.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	return client, nil
}
