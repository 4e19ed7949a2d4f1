package canary

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/router"
)

// render turns a decision into what the step applies: the workload patch
// and manifest, and, for a routed component, the routes and subsets that the
// router renders on top of the live ones.
func (o *observation) render(d *decision, live *liveRouting) (*PlanResult, error) {
	ready := o.live[d.target.Version].readyAt(d.replicas)
	res := &PlanResult{
		Planned:  true,
		Ready:    ready,
		Route:    d.routeReady,
		Canary:   o.rendered.Version,
		Workload: d.target.manifest(o.in.Namespace, d.replicas),
		Patch: &WorkloadPatch{
			Name:        d.target.Name,
			Labels:      orEmpty(d.target.Labels),
			Annotations: contract.OwnerAnnotations(d.target.Annotations),
			Replicas:    d.replicas,
			Selector:    orEmptyMap(d.target.Selector),
			Template:    orEmptyMap(d.target.Template),
			HTTP:        []any{},
			Subsets:     []any{},
			GatewayHTTP: []any{},
		},
	}
	if o.stable != nil {
		res.Stable = o.stable.Version
		if d.target == o.rendered && o.in.Action == ActionRollout {
			res.Patch.Annotations[contract.AnnotationRunStable] = o.stable.Version
			res.Patch.Annotations[contract.AnnotationRunRevision] = o.in.Revision
			// The manifest the step also applies says the same, or the two
			// applies would take the annotations from each other.
			res.Workload["metadata"].(map[string]any)["annotations"] = res.Patch.Annotations
		}
	}
	done := ready
	if o.routed {
		if err := o.renderTraffic(d, live, res); err != nil {
			return nil, err
		}
		done = done && slices.Equal(o.routes, d.dests) && slices.Equal(o.subsets, d.subsets()) && sameRequests(o.requests, d.requests)
		if g := live.gateway; g != nil {
			done = done && slices.Equal(g.Destinations, d.dests) && sameRequests(g.Requests, d.requests)
		}
	}
	if d.retire != nil {
		res.Retire = &Retire{Name: d.retire.Name, Replicas: d.retireTo}
		done = done && d.retire.Replicas == d.retireTo
		res.RetireNow = (d.routeReady && d.hold == 0) || d.retireTo > d.retire.Replicas
		if d.routeReady && d.holding() {
			res.HoldSeconds = int(math.Ceil(d.hold.Seconds()))
		}
	}
	res.Done = done
	res.Message = o.message(d, ready)
	return res, nil
}

// renderTraffic fills the routes: the patch holds the live routes until the
// target is ready, so that applying the component never moves traffic early.
func (o *observation) renderTraffic(d *decision, live *liveRouting, res *PlanResult) error {
	want := d.subsets()
	hold := o.routes
	if len(hold) == 0 {
		hold = []contract.Destination{{Version: o.serving(d).Version, Weight: 100}}
	}
	// Until then the routes by request content stay as they are too.
	patchRoutes, patchRequests := hold, o.requests
	if d.routeReady {
		patchRoutes, patchRequests = d.dests, d.requests
	}
	vs, err := live.router.SetRoutes(live.routes, router.RouteChange{Destinations: patchRoutes, Port: o.port, Requests: patchRequests})
	if err != nil {
		return err
	}
	dr, err := live.router.SetSubsets(live.subsets, union(union(o.subsets, want), namedVersions(patchRoutes, patchRequests)))
	if err != nil {
		return err
	}
	res.Patch.HTTP = specList(vs, "http")
	res.Patch.Subsets = specList(dr, "subsets")
	if live.gateway != nil {
		gw, err := live.router.SetGatewayRoutes(live.gateway, live.routes, router.RouteChange{Destinations: patchRoutes, Port: o.in.Gateway.Port, Requests: patchRequests})
		if err != nil {
			return err
		}
		res.Patch.GatewayHTTP = specList(gw, "http")
	}
	if !d.routeReady {
		return nil
	}
	if live.gateway != nil {
		if res.GatewayRoutes, err = live.router.SetGatewayRoutes(live.gateway, live.routes, router.RouteChange{Destinations: d.dests, Port: o.in.Gateway.Port, Requests: d.requests}); err != nil {
			return err
		}
	}
	annotations := map[string]string{contract.AnnotationCanary: o.rendered.Version, contract.AnnotationPhase: d.phase}
	if o.stable != nil {
		annotations[contract.AnnotationStable] = o.stable.Version
	}
	if !d.completedAt.IsZero() {
		annotations[contract.AnnotationCompletedAt] = d.completedAt.Format(time.RFC3339)
	}
	if res.VirtualService, err = live.router.SetRoutes(live.routes, router.RouteChange{Destinations: d.dests, Port: o.port, Annotations: annotations, Requests: d.requests}); err != nil {
		return err
	}
	res.DestinationRule, err = live.router.SetSubsets(live.subsets, want)
	return err
}

// sameRequests tells whether the live routes by request content are the
// wanted ones (as JSON: the live ones were read through Istio's types).
func sameRequests(live, want router.Requests) bool {
	if len(live.Match) == 0 && len(want.Match) == 0 {
		live.Version, want.Version = "", ""
	}
	a, errA := json.Marshal(live)
	b, errB := json.Marshal(want)
	return errA == nil && errB == nil && string(a) == string(b)
}

// specList is a list field of a rendered manifest's spec.
func specList(manifest map[string]any, field string) []any {
	l, _ := asMap(manifest["spec"])[field].([]any)
	return l
}

// subsets are the versions the decided routes name: the weighted
// destinations', and the match route's and the mirror's.
func (d *decision) subsets() []string { return namedVersions(d.dests, d.requests) }

// namedVersions are the versions that weighted destinations and routes by
// request content name, sorted.
func namedVersions(dests []contract.Destination, r router.Requests) []string {
	out := versionsOf(dests)
	if len(r.Match) > 0 {
		out = append(out, r.Version)
	}
	if r.Mirror != nil {
		out = append(out, r.Mirror.Version)
	}
	return union(out, nil)
}

func versionsOf(dests []contract.Destination) []string {
	out := make([]string, 0, len(dests))
	for _, d := range dests {
		out = append(out, d.Version)
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

func (o *observation) message(d *decision, ready bool) string {
	c := o.in.Component
	if !ready {
		have := 0
		if l := o.live[d.target.Version]; l != nil {
			have = l.Ready
		}
		return fmt.Sprintf("%s: waiting for %s: %d/%d ready", c, d.target.Name, have, d.replicas)
	}
	parts := []string{fmt.Sprintf("%s %d/%d ready", d.target.Name, d.replicas, d.replicas)}
	if d.retire != nil {
		parts = append(parts, fmt.Sprintf("%s %s", d.retire.Name, plural(d.retireTo, "instance", "instances")))
	}
	if d.holding() {
		parts[len(parts)-1] = fmt.Sprintf("%s kept at %s for a rollback until %s (scaleDownDelay %s)", d.retire.Name,
			plural(d.retire.Replicas, "instance", "instances"), d.completedAt.Add(o.delay).Format(time.RFC3339), o.delay)
	}
	msg := fmt.Sprintf("%s: %s", c, strings.Join(parts, ", "))
	if o.routed {
		var w []string
		for _, dst := range d.dests {
			w = append(w, fmt.Sprintf("%s %d%%", contract.DeploymentName(c, dst.Version), dst.Weight))
		}
		msg += "; traffic " + strings.Join(w, ", ")
	}
	return msg
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// serving is the version a new route sends everything to while it waits
// for the target: one with a ready instance, the stable version first, then
// the target, then the other live versions by name; the target when none
// has one (no route can then avoid a version without instances). On a
// rollback the target is the stable version, which may have none yet while
// the canary still serves.
func (o *observation) serving(d *decision) *version {
	candidates := []*version{o.stable, d.target}
	names := make([]string, 0, len(o.live))
	for name := range o.live {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		candidates = append(candidates, o.live[name])
	}
	for _, v := range candidates {
		if v != nil && v.Ready > 0 {
			return v
		}
	}
	return d.target
}
