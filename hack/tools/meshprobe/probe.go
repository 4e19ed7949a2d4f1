package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/host"
)

// Options say what to probe and how.
type Options struct {
	Component string
	// App, when set, must be the Application that rendered the component's
	// Service (vela's app.oam.dev/name label), so that a probe of the wrong
	// namespace or Application fails instead of measuring another one.
	App       string
	Namespace string
	Requests  int
	// Port is the Service port to send to; 0 takes the port the
	// canary-traffic route names, else the Service's first.
	Port    int
	Timeout time.Duration
	Headers map[string]string
}

// Result is the probe's answer: the split three ways (as declared, as Istio
// generated it, as measured), per version (subset names, which the addon
// names after the versions; measured ones are the pods' version labels).
type Result struct {
	App       string         `json:"app,omitempty"`
	Component string         `json:"component"`
	Declared  map[string]int `json:"declared"`
	Istio     map[string]int `json:"istio"`
	// DeclaredMirror and IstioMirror are the canary-traffic route's request
	// mirror as declared and as generated; absent when it mirrors nothing.
	// Mirrored requests are not measured: their answers are discarded.
	DeclaredMirror *Mirror        `json:"declaredMirror,omitempty"`
	IstioMirror    *Mirror        `json:"istioMirror,omitempty"`
	Measured       map[string]int `json:"measured"`
	Failed         int            `json:"failed"`
	Port           Port           `json:"port"`
	Analyzers      []Message      `json:"analyzers"`
	// Gateways are the routes to the component of the VirtualServices bound
	// to Gateways, checked on the config Istio generates for the ingress
	// gateway (no request goes through it).
	Gateways []GatewayRoute `json:"gateways"`
}

// Probe measures the component's split over the objects of its namespace.
func Probe(ctx context.Context, opts Options, objs []object) (*Result, error) {
	ns, component := opts.Namespace, opts.Component
	objs, err := complete(inNamespace(objs, ns))
	if err != nil {
		return nil, err
	}
	svc, err := service(objs, ns, component)
	if err != nil {
		return nil, err
	}
	if app := svc.Labels["app.oam.dev/name"]; opts.App != "" && app != opts.App {
		return nil, fmt.Errorf("%s belongs to Application %q, not %q", serviceID(svc), app, opts.App)
	}
	route, err := declared(objs, ns, component)
	if err != nil {
		return nil, err
	}
	port, err := pickPort(svc, opts.Port, route.port)
	if err != nil {
		return nil, err
	}
	res := &Result{App: opts.App, Component: component, Declared: route.weights, DeclaredMirror: route.mirror}
	if res.Analyzers, err = analyze(ctx, ns, objs); err != nil {
		return nil, err
	}

	eps, err := readyEndpoints(objs, ns, component)
	if err != nil {
		return nil, err
	}
	b, err := startBackends(eps)
	if err != nil {
		return nil, err
	}
	defer b.stop()

	kube, configs, err := meshInputs(objs)
	if err != nil {
		return nil, err
	}
	fqdn := host.Name(component + "." + ns + ".svc." + domainSuffix)
	err = withDiscovery(kube, configs, func(ds *xds.FakeDiscoveryServer) error {
		rc, err := istioRoute(ds, ns, fqdn, int(port.Port))
		if err != nil {
			return err
		}
		res.Istio = istioWeights(rc)
		res.IstioMirror = istioMirror(rc)
		res.Port = portReport(ds, ns, fqdn, port)
		if res.Gateways, err = gatewayRoutes(ds, objs, ns, component); err != nil {
			return err
		}

		target := "xds:///" + net.JoinHostPort(string(fqdn), strconv.Itoa(int(port.Port)))
		conn, err := dialMesh(ds.Listener.Addr().String(), ns, target, b.dial)
		if err != nil {
			return err
		}
		defer conn.Close()
		awaitConfig(ctx, conn, configWait)
		t := send(ctx, conn, opts.Requests, opts.Timeout, opts.Headers)
		res.Measured, res.Failed = t.measured, t.failed
		if t.failed > 0 {
			fmt.Fprintf(os.Stderr, "meshprobe: %d of %d requests failed:\n", t.failed, opts.Requests)
			for _, l := range t.causeLines() {
				fmt.Fprintln(os.Stderr, l)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func service(objs []object, namespace, name string) (*corev1.Service, error) {
	for _, o := range objs {
		if o.GetKind() == "Service" && o.GetName() == name && o.GetNamespace() == namespace {
			var svc corev1.Service
			if err := fromUnstructured(o, &svc); err != nil {
				return nil, err
			}
			return &svc, nil
		}
	}
	return nil, fmt.Errorf("no Service %s/%s", namespace, name)
}

// pickPort is the Service port to send to: the one asked for, else the one
// the canary-traffic route names, else the Service's first.
func pickPort(svc *corev1.Service, asked, routed int) (corev1.ServicePort, error) {
	want := asked
	if want == 0 {
		want = routed
	}
	for _, p := range svc.Spec.Ports {
		if want == 0 || int(p.Port) == want {
			return p, nil
		}
	}
	return corev1.ServicePort{}, fmt.Errorf("%s has no port %d", serviceID(svc), want)
}

func serviceID(svc *corev1.Service) string {
	return "Service " + svc.Namespace + "/" + svc.Name
}
