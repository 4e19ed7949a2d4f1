package canary

import (
	"encoding/json"
	"fmt"
	"sort"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
)

// destination is a share of the component's traffic going to one version.
type destination struct {
	Version string
	Weight  int
}

// liveRoutes reads the weighted destinations of the VirtualService's first
// HTTP route, which is the one canary-traffic renders. Istio sends all the
// traffic to a lone destination whatever its weight.
func liveRoutes(vs *networkingv1.VirtualService) []destination {
	if vs == nil || len(vs.Spec.Http) == 0 {
		return nil
	}
	route := vs.Spec.Http[0].Route
	out := make([]destination, 0, len(route))
	for _, r := range route {
		if r.Destination == nil {
			continue
		}
		w := int(r.Weight)
		if len(route) == 1 {
			w = 100
		}
		out = append(out, destination{Version: r.Destination.Subset, Weight: w})
	}
	return out
}

func weightOf(routes []destination, v string) int {
	for _, d := range routes {
		if d.Version == v {
			return d.Weight
		}
	}
	return 0
}

// liveSubsets lists the DestinationRule's subset names, sorted.
func liveSubsets(dr *networkingv1.DestinationRule) []string {
	if dr == nil {
		return nil
	}
	out := make([]string, 0, len(dr.Spec.Subsets))
	for _, s := range dr.Spec.Subsets {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// trafficObjects builds the VirtualService routes and DestinationRule subsets
// of a component, starting from the live objects so that fields this addon
// does not manage are kept.
type trafficObjects struct {
	namespace, app, component string
	port                      int
	vs                        *networkingv1.VirtualService
	dr                        *networkingv1.DestinationRule
}

// http returns spec.http with the first route's destinations replaced.
func (t trafficObjects) http(dests []destination) ([]any, error) {
	route := make([]any, 0, len(dests))
	for _, d := range dests {
		dst := map[string]any{"host": t.component, "subset": d.Version}
		if p := t.destinationPort(); p > 0 {
			dst["port"] = map[string]any{"number": p}
		}
		route = append(route, map[string]any{"destination": dst, "weight": d.Weight})
	}
	first := map[string]any{}
	var rest []any
	if t.vs != nil && len(t.vs.Spec.Http) > 0 {
		var all []any
		if err := roundTrip(t.vs.Spec.Http, &all); err != nil {
			return nil, fmt.Errorf("read VirtualService %s/%s routes: %w", t.namespace, t.component, err)
		}
		first, _ = all[0].(map[string]any)
		rest = all[1:]
	}
	first["route"] = route
	return append([]any{first}, rest...), nil
}

func (t trafficObjects) destinationPort() int {
	if t.port > 0 {
		return t.port
	}
	if t.vs != nil && len(t.vs.Spec.Http) > 0 && len(t.vs.Spec.Http[0].Route) > 0 {
		if d := t.vs.Spec.Http[0].Route[0].Destination; d != nil && d.Port != nil {
			return int(d.Port.Number)
		}
	}
	return 0
}

func subsets(versions []string) []any {
	out := make([]any, 0, len(versions))
	for _, v := range versions {
		out = append(out, map[string]any{"name": v, "labels": map[string]any{PodLabelVersion: v}})
	}
	return out
}

// virtualService is the manifest to apply: the live one (or a new one) with
// the given routes and the annotations that record the canary's state.
func (t trafficObjects) virtualService(http []any, annotations map[string]string) (map[string]any, error) {
	m := map[string]any{}
	if t.vs != nil {
		if err := roundTrip(t.vs, &m); err != nil {
			return nil, fmt.Errorf("read VirtualService %s/%s: %w", t.namespace, t.component, err)
		}
	}
	spec := asMap(m["spec"])
	if spec == nil {
		spec = map[string]any{"hosts": []any{t.component}}
	}
	spec["http"] = http
	return t.object("VirtualService", m, spec, annotations), nil
}

// destinationRule is the manifest to apply: the live one (or a new one) with
// one subset per version given.
func (t trafficObjects) destinationRule(versions []string) (map[string]any, error) {
	m := map[string]any{}
	if t.dr != nil {
		if err := roundTrip(t.dr, &m); err != nil {
			return nil, fmt.Errorf("read DestinationRule %s/%s: %w", t.namespace, t.component, err)
		}
	}
	spec := asMap(m["spec"])
	if spec == nil {
		spec = map[string]any{"host": t.component}
	}
	spec["subsets"] = subsets(versions)
	return t.object("DestinationRule", m, spec, nil), nil
}

func (t trafficObjects) object(kind string, live map[string]any, spec map[string]any, extra map[string]string) map[string]any {
	meta := asMap(live["metadata"])
	labels := map[string]any{LabelApp: t.app, LabelComponent: t.component}
	for k, v := range asMap(meta["labels"]) {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range asMap(meta["annotations"]) {
		if s, ok := v.(string); ok {
			annotations[k] = s
		}
	}
	annotations = ownerAnnotations(annotations)
	for k, v := range extra {
		annotations[k] = v
	}
	return map[string]any{
		"apiVersion": "networking.istio.io/v1",
		"kind":       kind,
		"metadata": map[string]any{
			"name":        t.component,
			"namespace":   t.namespace,
			"labels":      labels,
			"annotations": annotations,
		},
		"spec": spec,
	}
}

// roundTrip converts between typed objects and plain JSON values.
func roundTrip(in, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}
