package main

import (
	"fmt"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/test/xds"
)

// noSubset is the version key of a destination that names no subset: the
// Service's every ready pod, whatever its version.
const noSubset = "*"

// GatewayRoute is one HTTP route of a gateway's VirtualService that sends
// traffic to the component, as declared and as Istio generates it for an
// ingress gateway the Gateway selects.
type GatewayRoute struct {
	VirtualService string `json:"virtualService"`
	Gateway        string `json:"gateway"`
	// Route is the HTTP route's name, or its index in the VirtualService
	// ("#0") when it has none.
	Route    string         `json:"route"`
	Declared map[string]int `json:"declared"`
	// Istio are the weights of the routes Istio generates from this HTTP
	// route (one per match, all alike) for the gateway; empty when it
	// generates none: the gateway does not route it.
	Istio map[string]int `json:"istio"`
}

// gatewayVS is the part of a VirtualService bound to gateways the probe reads.
type gatewayVS struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Gateways []string `json:"gateways"`
		HTTP     []struct {
			Name  string `json:"name"`
			Match []any  `json:"match"`
			Route []struct {
				Destination struct {
					Host   string `json:"host"`
					Subset string `json:"subset"`
				} `json:"destination"`
				Weight *int `json:"weight"`
			} `json:"route"`
		} `json:"http"`
	} `json:"spec"`
}

// gatewayRoutes checks every HTTP route that a VirtualService bound to a
// Gateway of the namespace sends to the component.
func gatewayRoutes(ds *xds.FakeDiscoveryServer, objs []object, namespace, component string) ([]GatewayRoute, error) {
	out := []GatewayRoute{}
	for _, o := range objs {
		if o.GetKind() != "VirtualService" || o.GetNamespace() != namespace {
			continue
		}
		var vs gatewayVS
		if err := fromUnstructured(o, &vs); err != nil {
			return nil, err
		}
		for _, gw := range vs.Spec.Gateways {
			if gw == "mesh" {
				continue
			}
			gwNS, gwName := namespace, gw
			if ns, name, ok := strings.Cut(gw, "/"); ok {
				gwNS, gwName = ns, name
			}
			selector, err := gatewaySelector(objs, gwNS, gwName)
			if err != nil {
				return nil, fmt.Errorf("VirtualService %s/%s: %w", namespace, vs.Metadata.Name, err)
			}
			generated := generatedRoutes(ds, selector, namespace, vs.Metadata.Name)
			next := 0
			for i, r := range vs.Spec.HTTP {
				// Istio generates one route per match (one when there is none),
				// in the VirtualService's order.
				n := max(1, len(r.Match))
				mine := generated[min(next, len(generated)):min(next+n, len(generated))]
				next += n
				declared := map[string]int{}
				for _, d := range r.Route {
					if !sameHost(d.Destination.Host, component, namespace) {
						continue
					}
					declared[subsetKey(d.Destination.Subset)] += weightOf(d.Weight, len(r.Route))
				}
				if len(declared) == 0 {
					continue
				}
				name := r.Name
				if name == "" {
					name = fmt.Sprintf("#%d", i)
				}
				istio := map[string]int{}
				if len(mine) > 0 {
					istio = routeWeights(mine[0], func(c string) string { return subsetKey(subsetOf(c)) })
				}
				out = append(out, GatewayRoute{
					VirtualService: namespace + "/" + vs.Metadata.Name, Gateway: gwNS + "/" + gwName,
					Route: name, Declared: declared, Istio: istio,
				})
			}
		}
	}
	return out, nil
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
