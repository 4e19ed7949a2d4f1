package main

import (
	"fmt"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/networking/grpcgen"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/host"
)

// routeName is the addon's HTTP route in a component's VirtualService
// (internal/contract.RouteName in the main module, which this module does not
// import: it builds with another Go module graph).
const routeName = "canary-traffic"

// declaredRoute is the canary-traffic route of the VirtualService named
// after the component, as its spec says: weights per subset, the port its
// destinations name (0 when none does) and its mirror.
type declaredRoute struct {
	weights map[string]int
	port    int
	mirror  *Mirror
}

// Mirror is a route's request mirror: the subset that gets a copy of the
// share of its requests, in percent.
type Mirror struct {
	Version string  `json:"version"`
	Percent float64 `json:"percent"`
}

func declared(objs []object, namespace, component string) (declaredRoute, error) {
	for _, o := range objs {
		if o.GetKind() != "VirtualService" || o.GetName() != component || o.GetNamespace() != namespace {
			continue
		}
		var vs struct {
			Spec struct {
				HTTP []struct {
					Name  string `json:"name"`
					Route []struct {
						Destination struct {
							Subset string `json:"subset"`
							Port   struct {
								Number int `json:"number"`
							} `json:"port"`
						} `json:"destination"`
						Weight *int `json:"weight"`
					} `json:"route"`
					Mirror *struct {
						Subset string `json:"subset"`
					} `json:"mirror"`
					MirrorPercentage *struct {
						Value float64 `json:"value"`
					} `json:"mirrorPercentage"`
				} `json:"http"`
			} `json:"spec"`
		}
		if err := fromUnstructured(o, &vs); err != nil {
			return declaredRoute{}, err
		}
		for _, r := range vs.Spec.HTTP {
			if r.Name != routeName {
				continue
			}
			d := declaredRoute{weights: map[string]int{}}
			if r.Mirror != nil {
				// Istio mirrors every request when no percentage is given.
				d.mirror = &Mirror{Version: r.Mirror.Subset, Percent: 100}
				if r.MirrorPercentage != nil {
					d.mirror.Percent = r.MirrorPercentage.Value
				}
			}
			for _, dst := range r.Route {
				d.weights[dst.Destination.Subset] += weightOf(dst.Weight, len(r.Route))
				if dst.Destination.Port.Number != 0 {
					d.port = dst.Destination.Port.Number
				}
			}
			return d, nil
		}
	}
	return declaredRoute{weights: map[string]int{}}, nil
}

// grpcProxy is the probe's client as Istio's generators see it once it
// has connected: the same node metadata, so the same SidecarScope.
func grpcProxy(namespace string) *model.Proxy {
	node := clientNode(namespace)
	meta := node.Metadata.NodeMetadata
	return &model.Proxy{
		Type:            model.SidecarProxy,
		ID:              "meshprobe." + namespace,
		ConfigNamespace: namespace,
		IPAddresses:     []string{"127.0.0.1"},
		Metadata:        &meta,
	}
}

// istioRoute is the RouteConfiguration Istio generates for the client's
// listener on the Service's port (the one its RDS subscription names), as
// the proxyless generator builds it for that client.
func istioRoute(ds *xds.FakeDiscoveryServer, namespace string, fqdn host.Name, port int) (*routev3.RouteConfiguration, error) {
	proxy := ds.SetupProxy(grpcProxy(namespace))
	name := model.BuildSubsetKey(model.TrafficDirectionOutbound, "", fqdn, port)
	res := (&grpcgen.GrpcConfigGenerator{}).BuildHTTPRoutes(proxy, ds.PushContext(), []string{name})
	if len(res) == 0 {
		return nil, fmt.Errorf("no RouteConfiguration %s from Istio", name)
	}
	rc := &routev3.RouteConfiguration{}
	if err := res[0].Resource.UnmarshalTo(rc); err != nil {
		return nil, fmt.Errorf("route configuration %s: %w", name, err)
	}
	return rc, nil
}

// canaryRoute is the route named canary-traffic in a generated
// RouteConfiguration; nil when it has none.
func canaryRoute(rc *routev3.RouteConfiguration) *routev3.Route {
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if r.GetName() == routeName {
				return r
			}
		}
	}
	return nil
}

// istioWeights are the weights per subset of the route named canary-traffic
// in a generated RouteConfiguration; empty when it has no such route.
func istioWeights(rc *routev3.RouteConfiguration) map[string]int {
	if r := canaryRoute(rc); r != nil {
		return routeWeights(r, subsetOf)
	}
	return map[string]int{}
}

// istioMirror is the request mirror of the canary-traffic route in a
// generated RouteConfiguration; nil when it mirrors nothing.
func istioMirror(rc *routev3.RouteConfiguration) *Mirror {
	for _, p := range canaryRoute(rc).GetRoute().GetRequestMirrorPolicies() {
		m := &Mirror{Version: subsetOf(p.GetCluster()), Percent: 100}
		if f := p.GetRuntimeFraction().GetDefaultValue(); f != nil {
			m.Percent = float64(f.GetNumerator()) * 100 / denominator(f.GetDenominator())
		}
		return m
	}
	return nil
}

func denominator(d typev3.FractionalPercent_DenominatorType) float64 {
	switch d {
	case typev3.FractionalPercent_TEN_THOUSAND:
		return 10_000
	case typev3.FractionalPercent_MILLION:
		return 1_000_000
	}
	return 100
}

func subsetOf(cluster string) string {
	_, subset, _, _ := model.ParseSubsetKey(cluster)
	return subset
}
