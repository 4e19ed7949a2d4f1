package main

import (
	"encoding/json"
	"fmt"
	"net"

	"k8s.io/apimachinery/pkg/runtime"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config"
	kubelib "istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/test"
)

// domainSuffix is the cluster's DNS domain, the one Istio's test fixture
// gives its Kubernetes registry.
const domainSuffix = "cluster.local"

// kubeKinds are the Kubernetes objects Istio's service registry reads for
// the routes and endpoints of a namespace.
var kubeKinds = map[string]bool{"Service": true, "Pod": true, "EndpointSlice": true, "Namespace": true}

// meshInputs splits the objects into what Istio's fake Kubernetes client
// serves (typed objects) and its config store holds (Istio configs).
func meshInputs(objs []object) ([]runtime.Object, []config.Config, error) {
	var kube []runtime.Object
	var configs []config.Config
	decode := kubelib.IstioCodec.UniversalDeserializer().Decode
	for _, o := range objs {
		switch {
		case isIstio(o):
			text, err := toYAML([]object{o})
			if err != nil {
				return nil, nil, err
			}
			parsed, unknown, err := crd.ParseInputs(text)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", identity(o), err)
			}
			if len(unknown) > 0 {
				// A kind Istio's pilot does not read (telemetry, security):
				// it cannot change the routes.
				continue
			}
			for _, c := range parsed {
				// istiod's Kubernetes config client stamps its domain suffix
				// on every config; short hosts ("reviews") resolve to
				// <host>.<namespace>.svc.<domain> only with it, and without
				// it a VirtualService of short hosts matches no Service.
				c.Domain = domainSuffix
				configs = append(configs, c)
			}
		case kubeKinds[o.GetKind()]:
			data, err := json.Marshal(o.Object)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", identity(o), err)
			}
			typed, _, err := decode(data, nil, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", identity(o), err)
			}
			kube = append(kube, typed)
		}
	}
	return kube, configs, nil
}

// withDiscovery runs Istio's discovery server over the objects, serving ADS
// on a 127.0.0.1 port, for as long as fn runs.
//
// The server is Istio's test fixture (istio.io/istio/pilot/test/xds), the
// only constructor that runs pilot's whole pipeline (Kubernetes registry,
// config store, push context, xDS generators) without a cluster. It wants a
// test.Failer; Istio's own test.Wrap provides one outside `go test`: it runs
// its function on a goroutine of its own, turns a Fatal into an error and
// runs the registered cleanups (stopping the server) when the function
// returns, which is why fn runs inside it.
func withDiscovery(kube []runtime.Object, configs []config.Config, fn func(*xds.FakeDiscoveryServer) error) error {
	var fnErr error
	err := test.Wrap(func(t test.Failer) {
		ds := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
			KubernetesObjects: kube,
			Configs:           configs,
			ListenerBuilder:   func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") },
		})
		fnErr = fn(ds)
	})
	if err != nil {
		return fmt.Errorf("istio discovery server: %w", err)
	}
	return fnErr
}
