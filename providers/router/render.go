package router

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// SetRoutes renders the component's VirtualService with the owned route's
// destinations replaced by want's. Everything else of the live object stays:
// other routes in their places, the owned route's matches, timeouts and
// retries, labels and annotations others wrote.
func (r Istio) SetRoutes(live *Routes, want RouteChange) (map[string]any, error) {
	c := live.Component
	http, err := live.http(want)
	if err != nil {
		return nil, err
	}
	spec, err := liveSpec(live.Found, live.live.spec, map[string]any{"hosts": []any{c.Name}})
	if err != nil {
		return nil, fmt.Errorf("read VirtualService %s/%s: %w", c.Namespace, c.Name, err)
	}
	spec["http"] = http
	return manifest(live.live.apiVersion, "VirtualService", c.Name, c, live.live.meta, spec, want.Annotations), nil
}

// SetGatewayRoutes renders the VirtualService an ingress gateway route
// delegates to: no hosts (Istio takes only a VirtualService without hosts as
// a delegate), exported to its own namespace (where its root is), and the
// routes of the component's VirtualService as SetRoutes renders them, each
// of ours on want's port. Istio merges the root route's URI matches into
// each of them.
func (r Istio) SetGatewayRoutes(live, mesh *Routes, want RouteChange) (map[string]any, error) {
	c := live.Component
	http, err := mesh.http(want)
	if err != nil {
		return nil, err
	}
	spec, err := liveSpec(live.Found, live.live.spec, map[string]any{})
	if err != nil {
		return nil, fmt.Errorf("read VirtualService %s/%s: %w", c.Namespace, live.Name, err)
	}
	delete(spec, "hosts")
	delete(spec, "gateways")
	spec["exportTo"] = []any{"."}
	spec["http"] = http
	return manifest(live.live.apiVersion, "VirtualService", live.Name, c, live.live.meta, spec, nil), nil
}

// http is the VirtualService's spec.http with the owned route set to want.
// Without a route to own, one named contract.RouteName is added; an owned
// route without a name gets that name, so that the next read finds it by name.
func (r *Routes) http(want RouteChange) ([]any, error) {
	typed := r.live.spec.GetHttp() // nil without a VirtualService
	var all []any
	if len(typed) > 0 {
		if err := roundTrip(typed, &all); err != nil {
			return nil, fmt.Errorf("read VirtualService %s/%s routes: %w", r.Component.Namespace, r.Component.Name, err)
		}
	}
	i := contract.OurRoute(typed)
	ours := map[string]any{}
	if i >= 0 {
		if m, ok := all[i].(map[string]any); ok {
			ours = m
		}
	}
	if name, _ := ours["name"].(string); name == "" {
		ours["name"] = contract.RouteName
	}
	port := want.Port
	if port == 0 {
		port = r.Port
	}
	ours["route"] = contract.WriteRoute(r.Component.Name, port, want.Destinations)
	delete(ours, "mirror")
	delete(ours, "mirrorPercentage")
	if m := want.Requests.Mirror; m != nil {
		ours["mirror"] = contract.WriteDestination(r.Component.Name, port, m.Version)
		ours["mirrorPercentage"] = map[string]any{"value": m.Percent}
	}
	if i < 0 {
		all, i = append(all, ours), len(all)
	}
	all[i] = ours
	// The match route goes right before the owned one (the first route that
	// matches a request wins in Istio), in place of the live one, or away
	// when want has no matches.
	out := make([]any, 0, len(all)+1)
	for j, route := range all {
		if m, _ := route.(map[string]any); m["name"] == contract.MatchRouteName {
			continue
		}
		if j == i && len(want.Requests.Match) > 0 {
			out = append(out, map[string]any{
				"name":  contract.MatchRouteName,
				"match": want.Requests.Match,
				"route": contract.WriteRoute(r.Component.Name, port, []contract.Destination{{Version: want.Requests.Version, Weight: 100}}),
			})
		}
		out = append(out, route)
	}
	return out, nil
}

// SetSubsets renders the component's DestinationRule with one subset per
// version, each selecting the pods of its version; the rest of the live
// object (its traffic policy, say) stays.
func (r Istio) SetSubsets(live *Subsets, versions []string) (map[string]any, error) {
	c := live.Component
	spec, err := liveSpec(live.Found, live.live.spec, map[string]any{"host": c.Name})
	if err != nil {
		return nil, fmt.Errorf("read DestinationRule %s/%s: %w", c.Namespace, c.Name, err)
	}
	subsets := make([]any, 0, len(versions))
	for _, v := range versions {
		subsets = append(subsets, map[string]any{"name": v, "labels": map[string]any{contract.LabelVersion: v}})
	}
	spec["subsets"] = subsets
	return manifest(live.live.apiVersion, "DestinationRule", c.Name, c, live.live.meta, spec, nil), nil
}

// liveSpec is the live object's spec as plain JSON values, or fresh when
// there is no live object.
func liveSpec(found bool, live any, fresh map[string]any) (map[string]any, error) {
	if !found {
		return fresh, nil
	}
	spec := map[string]any{}
	err := roundTrip(live, &spec)
	return spec, err
}

// manifest is an object to apply: the live metadata that its owners wrote
// (none of what the API server sets), the component's labels and the
// annotations given over the live ones.
func manifest(apiVersion, kind, name string, c Component, live metav1.ObjectMeta, spec map[string]any, annotations map[string]string) map[string]any {
	if apiVersion == "" { // no API served: render for the current one
		apiVersion = apiV1
	}
	labels := map[string]any{contract.LabelAppName: c.App, contract.LabelComponent: c.Name}
	for k, v := range live.Labels {
		labels[k] = v
	}
	merged := contract.OwnerAnnotations(live.Annotations)
	for k, v := range annotations {
		merged[k] = v
	}
	return map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata": map[string]any{
			"name":        name,
			"namespace":   c.Namespace,
			"labels":      labels,
			"annotations": merged,
		},
		"spec": spec,
	}
}

// roundTrip converts typed objects to plain JSON values.
func roundTrip(in, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}
