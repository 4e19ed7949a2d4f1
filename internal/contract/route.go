package contract

import (
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
)

// Destination is a share of a component's traffic going to one version, the
// DestinationRule subset of that name.
type Destination struct {
	Version string
	Weight  int
}

// OurRoute is the index in spec.http of the route the steps own, or -1 when
// there is no route at all. It is the route named RouteName. A VirtualService
// rendered before the route had a name has none so named; there it is the
// first route with neither a name nor a match (a named route or one that
// matches requests was put there by someone else), else the first route.
func OurRoute(http []*networkingv1alpha3.HTTPRoute) int {
	for i, h := range http {
		if h.GetName() == RouteName {
			return i
		}
	}
	for i, h := range http {
		if h.GetName() == "" && len(h.GetMatch()) == 0 {
			return i
		}
	}
	if len(http) > 0 {
		return 0
	}
	return -1
}

// ReadRoute returns the destinations of the route the steps own; nil when
// the VirtualService has no route.
func ReadRoute(spec *networkingv1alpha3.VirtualService) []Destination {
	i := OurRoute(spec.GetHttp())
	if i < 0 {
		return nil
	}
	return Destinations(spec.GetHttp()[i])
}

// Destinations reads a route's weighted destinations, in order. Istio sends
// all the traffic to a lone destination whatever its weight, so a lone one
// gets 100.
func Destinations(route *networkingv1alpha3.HTTPRoute) []Destination {
	all := route.GetRoute()
	out := make([]Destination, 0, len(all))
	for _, r := range all {
		if r.GetDestination() == nil {
			continue
		}
		w := int(r.GetWeight())
		if len(all) == 1 {
			w = 100
		}
		out = append(out, Destination{Version: r.GetDestination().GetSubset(), Weight: w})
	}
	return out
}

// WeightOf is the share of the traffic that dests send to a version.
func WeightOf(dests []Destination, version string) int {
	w := 0
	for _, d := range dests {
		if d.Version == version {
			w += d.Weight
		}
	}
	return w
}

// WriteRoute renders dests as the route's destinations (spec.http[].route),
// as plain JSON values: each goes to the subset of its version on host, and
// to port when it is not 0 (without one, Istio uses the port the request
// came in on).
func WriteRoute(host string, port int, dests []Destination) []any {
	out := make([]any, 0, len(dests))
	for _, d := range dests {
		out = append(out, map[string]any{"destination": WriteDestination(host, port, d.Version), "weight": d.Weight})
	}
	return out
}

// WriteDestination renders the destination of a version's subset on host,
// with port when it is not 0.
func WriteDestination(host string, port int, version string) map[string]any {
	dst := map[string]any{"host": host, "subset": version}
	if port > 0 {
		dst["port"] = map[string]any{"number": port}
	}
	return dst
}

// SubsetVersions lists the versions a DestinationRule has subsets for, in
// order: each subset is named after the version whose pods it selects.
func SubsetVersions(spec *networkingv1alpha3.DestinationRule) []string {
	out := make([]string, 0, len(spec.GetSubsets()))
	for _, s := range spec.GetSubsets() {
		out = append(out, s.GetName())
	}
	return out
}

// MatchRoute is the index in spec.http of the steps' match route, the one
// named MatchRouteName; -1 when there is none.
func MatchRoute(http []*networkingv1alpha3.HTTPRoute) int {
	for i, h := range http {
		if h.GetName() == MatchRouteName {
			return i
		}
	}
	return -1
}

// Matches are the requests the steps' match route sends to one version
// whatever the weights: the route's matches in Istio's own shape (any one
// of them matches), and the version, the subset of its first destination.
type Matches struct {
	Version string
	Match   []*networkingv1alpha3.HTTPMatchRequest
}

// ReadMatches returns the steps' match route; nil when there is none.
func ReadMatches(spec *networkingv1alpha3.VirtualService) *Matches {
	i := MatchRoute(spec.GetHttp())
	if i < 0 {
		return nil
	}
	r := spec.GetHttp()[i]
	m := &Matches{Match: r.GetMatch()}
	if dst := r.GetRoute(); len(dst) > 0 {
		m.Version = dst[0].GetDestination().GetSubset()
	}
	return m
}

// Mirror is the share of the requests of the route the steps own that Istio
// also sends to a version, whose answers it discards.
type Mirror struct {
	Version string
	// Percent is from 0 to 100; Istio mirrors all requests when the route
	// names a mirror without a percentage.
	Percent float64
}

// ReadMirror returns the mirror of the route the steps own; nil when it
// mirrors nothing.
func ReadMirror(spec *networkingv1alpha3.VirtualService) *Mirror {
	i := OurRoute(spec.GetHttp())
	if i < 0 {
		return nil
	}
	r := spec.GetHttp()[i]
	if r.GetMirror() == nil {
		return nil
	}
	m := &Mirror{Version: r.GetMirror().GetSubset(), Percent: 100}
	if p := r.GetMirrorPercentage(); p != nil {
		m.Percent = p.GetValue()
	}
	return m
}
