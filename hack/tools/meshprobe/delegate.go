package main

import (
	"fmt"
	"slices"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/proto"

	networking "istio.io/api/networking/v1alpha3"
	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/networking/core/route"
	"istio.io/istio/pkg/config"
)

// gatewayHTTP is one HTTP route of a gateway's VirtualService as Istio
// routes it: one of the VirtualService's own, or one of its delegate's,
// which Istio merges into the root route that delegates to it.
type gatewayHTTP struct {
	// name is the route's name, else its index ("#0") in its VirtualService.
	name string
	// delegate is the VirtualService (ns/name) the route is one of; "" for
	// the root's own.
	delegate string
	// missing: no VirtualService can be the delegate; the route is the
	// root's that names it.
	missing  bool
	declared *networking.HTTPRoute
	// matches are those Istio generates a route for each of, in order (nil
	// for a route without matches); none when it drops the route.
	matches []*networking.HTTPMatchRequest
}

// virtualServices are the objects' VirtualServices as Istio's config store
// holds them, with short host and gateway names resolved as Istio does
// before it merges delegates and generates routes.
func virtualServices(objs []object) ([]config.Config, error) {
	var out []config.Config
	for _, o := range objs {
		if o.GetKind() != "VirtualService" || !isIstio(o) {
			continue
		}
		text, err := toYAML([]object{o})
		if err != nil {
			return nil, err
		}
		parsed, _, err := crd.ParseInputs(text)
		if err != nil || len(parsed) != 1 {
			return nil, fmt.Errorf("%s: %d configs, %v", identity(o), len(parsed), err)
		}
		parsed[0].Domain = domainSuffix
		out = append(out, model.ResolveVirtualServiceShortnames(parsed[0]))
	}
	return out, nil
}

// delegates are the VirtualServices that can be delegates, by ns/name:
// Istio takes only those without hosts.
func delegates(vses []config.Config) map[string]*networking.VirtualService {
	out := map[string]*networking.VirtualService{}
	for _, c := range vses {
		if spec := c.Spec.(*networking.VirtualService); len(spec.GetHosts()) == 0 {
			out[c.Namespace+"/"+c.Name] = spec
		}
	}
	return out
}

// expand is the VirtualService's HTTP routes with each delegating one
// replaced by the delegate's routes. A delegate that is not exported to the
// root's namespace is expanded all the same: Istio generates nothing from it,
// and matchGenerated finds nothing.
func expand(root config.Config, delegates map[string]*networking.VirtualService) []gatewayHTTP {
	var out []gatewayHTTP
	for i, r := range root.Spec.(*networking.VirtualService).GetHttp() {
		d := r.GetDelegate()
		if d == nil {
			out = append(out, gatewayHTTP{name: routeLabel(r.GetName(), i), declared: r, matches: orCatchAll(r.GetMatch())})
			continue
		}
		ns := d.GetNamespace()
		if ns == "" {
			ns = root.Namespace
		}
		key := ns + "/" + d.GetName()
		spec, ok := delegates[key]
		if !ok {
			out = append(out, gatewayHTTP{name: routeLabel(r.GetName(), i), delegate: key, missing: true, declared: r})
			continue
		}
		for j, dr := range spec.GetHttp() {
			h := gatewayHTTP{name: routeLabel(dr.GetName(), j), delegate: key, declared: dr}
			// Istio's own merge, one delegate route at a time to see which it
			// drops (one of its matches conflicts with every root match), on
			// copies: it changes both routes.
			if merged := model.MergeHTTPRoutes(r.DeepCopy(), []*networking.HTTPRoute{dr.DeepCopy()}); len(merged) == 1 {
				h.matches = orCatchAll(merged[0].GetMatch())
			}
			out = append(out, h)
		}
	}
	return out
}

// orCatchAll: Istio generates one route per match, and one for a route
// without matches.
func orCatchAll(m []*networking.HTTPMatchRequest) []*networking.HTTPMatchRequest {
	if len(m) == 0 {
		return []*networking.HTTPMatchRequest{nil}
	}
	return m
}

func routeLabel(name string, index int) string {
	if name == "" {
		return fmt.Sprintf("#%d", index)
	}
	return name
}

// matchGenerated hands each route its generated ones, from the routes Istio
// generated from the VirtualService for one gateway, in order. Istio
// generates them in the order of the routes' matches but leaves some out (a
// match for another port or gateway, all after a catch-all, a delegate not
// exported to the root's namespace), so a generated route is taken for a
// match only when it matches the same requests. Should a match Istio left
// out translate to the same Envoy match as the next that it did not (they
// differ only in port or gateways), the former takes its route.
func matchGenerated(root config.Config, routes []gatewayHTTP, generated []*routev3.Route) [][]*routev3.Route {
	out := make([][]*routev3.Route, len(routes))
	next := 0
	for i, h := range routes {
		for _, m := range h.matches {
			if next < len(generated) && sameMatch(generated[next].GetMatch(), route.TranslateRouteMatch(root, m)) {
				out[i] = append(out[i], generated[next])
				next++
			}
		}
	}
	return out
}

// sameMatch compares Envoy route matches; Istio adds query parameter
// matchers in map order.
func sameMatch(a, b *routev3.RouteMatch) bool {
	a, b = proto.Clone(a).(*routev3.RouteMatch), proto.Clone(b).(*routev3.RouteMatch)
	for _, m := range []*routev3.RouteMatch{a, b} {
		slices.SortFunc(m.QueryParameters, func(x, y *routev3.QueryParameterMatcher) int { return strings.Compare(x.GetName(), y.GetName()) })
	}
	return proto.Equal(a, b)
}
