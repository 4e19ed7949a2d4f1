package main

import (
	"fmt"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

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
// after the component, as its spec says: weights per subset, and the port
// its destinations name (0 when none does).
type declaredRoute struct {
	weights map[string]int
	port    int
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

// istioWeights are the weights per subset of the route named canary-traffic
// in a generated RouteConfiguration; empty when it has no such route.
func istioWeights(rc *routev3.RouteConfiguration) map[string]int {
	for _, vh := range rc.GetVirtualHosts() {
		for _, r := range vh.GetRoutes() {
			if r.GetName() == routeName {
				return routeWeights(r, subsetOf)
			}
		}
	}
	return map[string]int{}
}

func subsetOf(cluster string) string {
	_, subset, _, _ := model.ParseSubsetKey(cluster)
	return subset
}
