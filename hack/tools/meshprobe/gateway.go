package main

import (
	"fmt"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"k8s.io/utils/ptr"

	networking "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/test/xds"
)

// noSubset is the version key of a destination that names no subset: the
// Service's every ready pod, whatever its version.
const noSubset = "*"

// GatewayRoute is one HTTP route of a gateway's VirtualService that sends
// traffic to the component, as declared and as Istio generates it for an
// ingress gateway the Gateway selects. When the VirtualService delegates,
// each of the delegate's routes is one.
type GatewayRoute struct {
	VirtualService string `json:"virtualService"`
	Gateway        string `json:"gateway"`
	// Delegate is the VirtualService (ns/name) the VirtualService delegates
	// the route to; Route is then the delegate's route.
	Delegate string `json:"delegate,omitempty"`
	// DelegateMissing: no VirtualService without hosts (the only ones Istio
	// takes as delegates) has the delegate's name among the namespace's
	// objects, and Istio drops the root route that names it; Route is that
	// one, and Declared and Istio are empty. Reported for the component's
	// own gateway VirtualService only (labelled with the component or named
	// <component>-gateway), the other ones' delegates not being known to
	// route to it.
	DelegateMissing bool `json:"delegateMissing,omitempty"`
	// Route is the HTTP route's name, or its index in its VirtualService
	// ("#0") when it has none.
	Route    string         `json:"route"`
	Declared map[string]int `json:"declared"`
	// Istio are the weights of the routes Istio generates from this HTTP
	// route (all alike) for the gateway; empty when it generates none: the
	// gateway does not route it.
	Istio map[string]int `json:"istio"`
	// IstioRoutes is how many of the generated routes are its (told by their
	// match): one per match, for a delegate's route one per pair of its match
	// and a root match that do not conflict; fewer where Istio leaves some out.
	IstioRoutes int `json:"istioRoutes"`
}

// gatewayRoutes checks every HTTP route that a VirtualService bound to a
// Gateway of the namespace sends to the component, directly or through its
// delegate.
func gatewayRoutes(ds *xds.FakeDiscoveryServer, objs []object, namespace, component string) ([]GatewayRoute, error) {
	vses, err := virtualServices(objs)
	if err != nil {
		return nil, err
	}
	candidates := delegates(vses)
	out := []GatewayRoute{}
	for _, vs := range vses {
		if vs.Namespace != namespace {
			continue
		}
		own := vs.Labels["app.oam.dev/component"] == component || vs.Name == component+"-gateway"
		routes := expand(vs, candidates)
		// Gateway names are resolved: ns/name, or mesh.
		for _, gw := range vs.Spec.(*networking.VirtualService).GetGateways() {
			gwNS, gwName, ok := strings.Cut(gw, "/")
			if !ok {
				continue
			}
			selector, err := gatewaySelector(objs, gwNS, gwName)
			if err != nil {
				return nil, fmt.Errorf("VirtualService %s/%s: %w", namespace, vs.Name, err)
			}
			generated := matchGenerated(vs, routes, generatedRoutes(ds, selector, namespace, vs.Name))
			for i, h := range routes {
				declared := declaredWeights(h.declared, component, namespace)
				if len(declared) == 0 && !(h.missing && own) {
					continue
				}
				istio := map[string]int{}
				if len(generated[i]) > 0 {
					istio = routeWeights(generated[i][0], func(c string) string { return subsetKey(subsetOf(c)) })
				}
				out = append(out, GatewayRoute{
					VirtualService: namespace + "/" + vs.Name, Gateway: gwNS + "/" + gwName,
					Delegate: h.delegate, DelegateMissing: h.missing,
					Route: h.name, Declared: declared, Istio: istio, IstioRoutes: len(generated[i]),
				})
			}
		}
	}
	return out, nil
}

// declaredWeights are the route's weights per subset to the component.
func declaredWeights(r *networking.HTTPRoute, component, namespace string) map[string]int {
	declared := map[string]int{}
	for _, d := range r.GetRoute() {
		if !sameHost(d.GetDestination().GetHost(), component, namespace) {
			continue
		}
		// Istio's API holds no weight as 0.
		var w *int
		if d.GetWeight() != 0 {
			w = ptr.To(int(d.GetWeight()))
		}
		declared[subsetKey(d.GetDestination().GetSubset())] += weightOf(w, len(r.GetRoute()))
	}
	return declared
}

func gatewaySelector(objs []object, namespace, name string) (map[string]string, error) {
	for _, o := range objs {
		if o.GetKind() == "Gateway" && o.GetNamespace() == namespace && o.GetName() == name {
			var gw struct {
				Spec struct {
					Selector map[string]string `json:"selector"`
				} `json:"spec"`
			}
			if err := fromUnstructured(o, &gw); err != nil {
				return nil, err
			}
			return gw.Spec.Selector, nil
		}
	}
	return nil, fmt.Errorf("no Gateway %s/%s", namespace, name)
}

// generatedRoutes are the routes Istio generates from the VirtualService
// for an ingress gateway pod with the selector's labels, in order.
func generatedRoutes(ds *xds.FakeDiscoveryServer, labels map[string]string, namespace, vsName string) []*routev3.Route {
	proxy := ds.SetupProxy(&model.Proxy{
		Type:            model.Router,
		ID:              "meshprobe-gateway.istio-system",
		ConfigNamespace: "istio-system",
		IPAddresses:     []string{"127.0.0.3"},
		Labels:          labels,
		Metadata:        &model.NodeMetadata{Namespace: "istio-system", Labels: labels, ClusterID: "Kubernetes", IstioVersion: istioVersion},
	})
	origin := "/apis/networking.istio.io/v1/namespaces/" + namespace + "/virtual-service/" + vsName
	var out []*routev3.Route
	for _, rc := range ds.Routes(proxy) {
		for _, vh := range rc.GetVirtualHosts() {
			for _, r := range vh.GetRoutes() {
				if r.GetMetadata().GetFilterMetadata()["istio"].GetFields()["config"].GetStringValue() == origin {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// routeWeights are a generated route's weights per version, each cluster's
// keyed by key.
func routeWeights(r *routev3.Route, key func(cluster string) string) map[string]int {
	weights := map[string]int{}
	action := r.GetRoute()
	if c := action.GetCluster(); c != "" {
		weights[key(c)] += 100
	}
	for _, wc := range action.GetWeightedClusters().GetClusters() {
		weights[key(wc.GetName())] += int(wc.GetWeight().GetValue())
	}
	return weights
}

func subsetKey(subset string) string {
	if subset == "" {
		return noSubset
	}
	return subset
}

// sameHost tells whether a destination host names the component's Service:
// short, with its namespace, or fully qualified.
func sameHost(h, component, namespace string) bool {
	return h == component || h == component+"."+namespace || h == component+"."+namespace+".svc" ||
		h == component+"."+namespace+".svc."+domainSuffix
}

// weightOf is a destination's share: a lone destination without a weight
// takes all the traffic.
func weightOf(w *int, destinations int) int {
	switch {
	case w != nil:
		return *w
	case destinations == 1:
		return 100
	default:
		return 0
	}
}
