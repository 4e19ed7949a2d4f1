package main

import (
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tcpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"
	corev1 "k8s.io/api/core/v1"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/host"
)

// Port says how Istio treats the Service port the probe sends to. The
// proxyless client always speaks HTTP/2 and gets the HTTP routes whatever
// the port's protocol; an Envoy sidecar routes by the port's protocol, so
// the probe also looks at what Istio generates for one.
type Port struct {
	Name   string `json:"name"`
	Number int32  `json:"number"`
	// Protocol is Istio's protocol of the port, from the name's prefix or
	// appProtocol; "UnsupportedProtocol" means none was declared and the
	// sidecar detects it per connection.
	Protocol string `json:"protocol"`
	// Sidecar are the filter chains of an Envoy sidecar's outbound listener
	// for the port: "http" or "tcp to <cluster>" (a TCP proxy to a cluster:
	// no routes, no weights), with the application protocols a chain is
	// chosen for when the sidecar detects the protocol, and "otherwise" for
	// the chain of connections no other chain matches.
	Sidecar []string `json:"sidecar"`
	// SidecarHTTPRoute: an Envoy sidecar's HTTP routes for the port hold the
	// canary-traffic route, so HTTP requests from an Envoy sidecar take the
	// weights (plain TCP connections never do).
	SidecarHTTPRoute bool `json:"sidecarHTTPRoute"`
}

func portReport(ds *xds.FakeDiscoveryServer, namespace string, fqdn host.Name, sp corev1.ServicePort) Port {
	rep := Port{Name: sp.Name, Number: sp.Port, Sidecar: []string{}}
	envoy := ds.SetupProxy(&model.Proxy{
		Type:            model.SidecarProxy,
		ID:              "meshprobe-envoy." + namespace,
		ConfigNamespace: namespace,
		IPAddresses:     []string{"127.0.0.2"},
		Metadata:        &model.NodeMetadata{Namespace: namespace, ClusterID: "Kubernetes", IstioVersion: istioVersion},
	})
	svc := ds.PushContext().ServiceForHostname(envoy, fqdn)
	if svc == nil {
		return rep
	}
	if p, ok := svc.Ports.GetByPort(int(sp.Port)); ok {
		rep.Protocol = string(p.Protocol)
	}
	listeners := ds.Listeners(envoy)
	rdsNames := map[string]bool{}
	for _, l := range serviceListeners(listeners, svc.GetAddressForProxy(envoy), sp.Port) {
		chains := l.GetFilterChains()
		if dc := l.GetDefaultFilterChain(); dc != nil {
			chains = append(chains, dc)
		}
		for _, fc := range chains {
			kind, rds := chainKind(fc)
			if fc == l.GetDefaultFilterChain() {
				kind += " otherwise"
			}
			rep.Sidecar = append(rep.Sidecar, kind)
			if rds != "" {
				rdsNames[rds] = true
			}
		}
	}
	for _, rc := range ds.RoutesFromListeners(envoy, listeners) {
		if !rdsNames[rc.GetName()] {
			continue
		}
		for _, vh := range rc.GetVirtualHosts() {
			// A route configuration of the Service's own listener has one
			// virtual host, for "*".
			if !slices.Contains(vh.GetDomains(), string(fqdn)) && !slices.Contains(vh.GetDomains(), "*") {
				continue
			}
			for _, r := range vh.GetRoutes() {
				rep.SidecarHTTPRoute = rep.SidecarHTTPRoute || r.GetName() == routeName
			}
		}
	}
	return rep
}

// serviceListeners are the outbound listeners a sidecar's connections to
// the Service's port land on: the Service's own, on its cluster IP (Istio
// makes one for a port whose protocol is TCP or detected), else the one on
// 0.0.0.0 that every Service with an HTTP port of that number shares.
func serviceListeners(listeners []*listenerv3.Listener, vip string, port int32) []*listenerv3.Listener {
	for _, addr := range []string{vip, "0.0.0.0"} {
		var out []*listenerv3.Listener
		for _, l := range listeners {
			a := l.GetAddress().GetSocketAddress()
			if a.GetPortValue() == uint32(port) && a.GetAddress() == addr && l.GetTrafficDirection() != corev3.TrafficDirection_INBOUND {
				out = append(out, l)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// chainKind says what a filter chain does with a connection, and the route
// configuration it takes HTTP routes from.
func chainKind(fc *listenerv3.FilterChain) (kind, rds string) {
	kind = "other"
	for _, f := range fc.GetFilters() {
		switch f.GetName() {
		case "envoy.filters.network.http_connection_manager":
			kind = "http"
			hcm := &hcmv3.HttpConnectionManager{}
			if f.GetTypedConfig().UnmarshalTo(hcm) == nil {
				rds = hcm.GetRds().GetRouteConfigName()
			}
		case "envoy.filters.network.tcp_proxy":
			kind = "tcp"
			tcp := &tcpv3.TcpProxy{}
			if f.GetTypedConfig().UnmarshalTo(tcp) == nil && tcp.GetCluster() != "" {
				kind += " to " + tcp.GetCluster()
			}
		}
	}
	if protos := fc.GetFilterChainMatch().GetApplicationProtocols(); len(protos) > 0 {
		kind += " for " + strings.Join(protos, ",")
	}
	return kind, rds
}
