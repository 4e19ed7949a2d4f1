package canary

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/klog/v2"
)

// state is what Plan knows of one component before deciding.
type state struct {
	in       *PlanParams
	rendered *version            // the version the Application renders now
	live     map[string]*version // live versions by name
	stable   *version            // the version in service before this rollout; nil if none
	routes   []destination       // live weights; nil without a VirtualService
	subsets  []string            // live subsets
	traffic  trafficObjects
	routed   bool // the component's traffic goes through Istio
}

// decision is what one step wants for one component.
type decision struct {
	target     *version // the version that gets the instances
	replicas   int      // instances of target
	retire     *version // the live version being phased out; nil if none
	retireTo   int      // its instances once the routes are applied
	dests      []destination
	phase      string
	routeReady bool // routes may change now
}

// Plan reads the component's live state and returns what the step applies.
// It writes nothing.
func (cl Clients) Plan(ctx context.Context, in *PlanParams) (*PlanResult, error) {
	if err := in.Caller.validate(); err != nil {
		return nil, err
	}
	logger := klog.FromContext(ctx).WithValues("namespace", in.Namespace, "app", in.App, "component", in.Component, "action", in.Action)
	s, err := cl.observe(ctx, in)
	if err != nil {
		return nil, err
	}
	if in.Rollout.TargetSize < 1 {
		return nil, inputErrorf("component %s: rollout.targetSize is %d; it must be at least 1", in.Component, in.Rollout.TargetSize)
	}
	var d *decision
	switch in.Action {
	case ActionRollout:
		d, err = s.rollout()
	case ActionRollback:
		d = s.rollback()
	default:
		err = inputErrorf("action: %q is not one of rollout, rollback", in.Action)
	}
	if err != nil {
		return nil, err
	}
	res, err := s.result(d)
	if err != nil {
		return nil, err
	}
	logger.V(2).Info("planned", "target", d.target.Name, "replicas", d.replicas, "ready", res.Ready, "done", res.Done)
	return res, nil
}

func (cl Clients) observe(ctx context.Context, in *PlanParams) (*state, error) {
	rendered, err := renderedVersion(in.Component, in.Workload)
	if err != nil {
		return nil, err
	}
	if err := cl.checkTakeover(ctx, in.Caller, rendered.Name); err != nil {
		return nil, err
	}
	live, err := cl.versions(ctx, in.Caller)
	if err != nil {
		return nil, err
	}
	if l := live[rendered.Version]; l != nil && l.PodSpecHash != "" && rendered.PodSpecHash != "" && l.PodSpecHash != rendered.PodSpecHash && in.Action == ActionRollout {
		return nil, inputErrorf("rollout.version: version %q of component %s already runs a different pod template (Deployment %s); give the changed component a new version name", rendered.Version, in.Component, l.Name)
	}
	vs, dr, err := cl.traffic(ctx, in.Caller)
	if err != nil {
		return nil, err
	}
	s := &state{
		in:       in,
		rendered: rendered,
		live:     live,
		routes:   liveRoutes(vs),
		subsets:  liveSubsets(dr),
		traffic:  trafficObjects{namespace: in.Namespace, app: in.App, component: in.Component, vs: vs, dr: dr},
		routed:   in.Traffic != nil || vs != nil,
	}
	if in.Traffic != nil {
		s.traffic.port = in.Traffic.Port
	}
	s.stable = s.pickStable()
	return s, nil
}

// pickStable chooses the version in service other than the rendered one:
// the one with the most traffic, then the most ready instances.
func (s *state) pickStable() *version {
	var candidates []*version
	for name, v := range s.live {
		if name != s.rendered.Version {
			candidates = append(candidates, v)
		}
	}
	sort.Slice(candidates, func(i, j int) bool {
		a, b := candidates[i], candidates[j]
		if wa, wb := weightOf(s.routes, a.Version), weightOf(s.routes, b.Version); wa != wb {
			return wa > wb
		}
		if a.Ready != b.Ready {
			return a.Ready > b.Ready
		}
		return a.Name < b.Name
	})
	if len(candidates) == 0 {
		return nil
	}
	return candidates[0]
}

func (s *state) canaryLive() *version { return s.live[s.rendered.Version] }

func (s *state) rollout() (*decision, error) {
	in := s.in
	n, err := batchReplicas(in.Component, in.Rollout, in.BatchPartition)
	if err != nil {
		return nil, err
	}
	if len(in.WeightedTargets) > 0 && !s.routed {
		return nil, inputErrorf("traffic.weightedTargets: component %s has no canary-traffic trait, so its traffic cannot be split; add canary-traffic to it or leave traffic out", in.Component)
	}
	// The new version is applied as the Application renders it; its live
	// Deployment only tells whether it is ready.
	d := &decision{target: s.rendered, replicas: n, phase: PhaseProgressing}
	if s.stable == nil {
		// Nothing to canary against: the new version is all there is.
		d.replicas = in.Rollout.TargetSize
		d.dests = []destination{{Version: s.rendered.Version, Weight: 100}}
		if len(in.WeightedTargets) > 0 {
			if _, _, _, err := resolveWeights(in.Component, in.Components, "", s.rendered.Version, in.WeightedTargets); err != nil {
				return nil, err
			}
		}
		d.phase = PhaseCompleted
		d.routeReady = s.canaryLive().readyAt(d.replicas)
		return d, nil
	}
	stableN := in.Rollout.TargetSize - n
	// Without weightedTargets the traffic follows the instances.
	canaryW := (100*n + in.Rollout.TargetSize/2) / in.Rollout.TargetSize
	stableW := 100 - canaryW
	if len(in.WeightedTargets) > 0 {
		sw, cw, matched, err := resolveWeights(in.Component, in.Components, s.stable.Version, s.rendered.Version, in.WeightedTargets)
		if err != nil {
			return nil, err
		}
		if matched {
			stableW, canaryW = sw, cw
		}
	}
	if stableW > 0 && stableN == 0 {
		return nil, inputErrorf("traffic.weightedTargets: version %s of component %s would get %d%% of the traffic, but this batchPartition leaves it no instances; give it weight 0 or choose an earlier batchPartition", s.stable.Version, in.Component, stableW)
	}
	for _, dst := range []destination{{s.stable.Version, stableW}, {s.rendered.Version, canaryW}} {
		if dst.Weight > 0 {
			d.dests = append(d.dests, dst)
		}
	}
	d.retire, d.retireTo = s.stable, stableN
	if stableN == 0 && canaryW == 100 {
		d.phase = PhaseCompleted
	}
	// Never move weight onto a stable version without a ready instance;
	// moving weight off it is always allowed.
	d.routeReady = s.canaryLive().readyAt(n) && (s.stable.Ready > 0 || stableW <= weightOf(s.routes, s.stable.Version))
	return d, nil
}

func (s *state) rollback() *decision {
	size := s.in.Rollout.TargetSize
	if s.stable == nil {
		// Nothing to roll back to: keep the only version, whole.
		return &decision{target: s.rendered, replicas: size, phase: PhaseCompleted,
			dests: []destination{{s.rendered.Version, 100}}, routeReady: s.canaryLive().readyAt(size)}
	}
	d := &decision{
		target:   s.stable,
		replicas: size,
		phase:    PhaseRolledBack,
		dests:    []destination{{s.stable.Version, 100}},
		// Traffic goes back as soon as the stable version can take it:
		// staying on the canary is what the user is escaping from.
		routeReady: s.stable.Ready > 0,
	}
	d.retire = s.canaryLive() // nil when the canary was never applied
	return d
}

// result turns a decision into what the step applies.
func (s *state) result(d *decision) (*PlanResult, error) {
	ns := s.in.Namespace
	ready := s.live[d.target.Version].readyAt(d.replicas)
	res := &PlanResult{
		Planned:  true,
		Ready:    ready,
		Route:    d.routeReady,
		Canary:   s.rendered.Version,
		Workload: d.target.manifest(ns, d.replicas),
		Patch: &WorkloadPatch{
			Name:        d.target.Name,
			Labels:      orEmpty(d.target.Labels),
			Annotations: ownerAnnotations(d.target.Annotations),
			Replicas:    d.replicas,
			Selector:    orEmptyMap(d.target.Selector),
			Template:    orEmptyMap(d.target.Template),
			HTTP:        []any{},
			Subsets:     []any{},
		},
	}
	if s.stable != nil {
		res.Stable = s.stable.Version
	}
	done := ready
	if s.routed {
		if err := s.plannedTraffic(d, res); err != nil {
			return nil, err
		}
		done = done && slices.Equal(s.routes, d.dests) && slices.Equal(s.subsets, versionsOf(d.dests))
	}
	if d.retire != nil {
		res.Retire = &Retire{Name: d.retire.Name, Replicas: d.retireTo}
		done = done && d.retire.Replicas == d.retireTo
		res.RetireNow = d.routeReady || d.retireTo > d.retire.Replicas
	}
	res.Done = done
	res.Message = s.message(d, ready)
	return res, nil
}

// plannedTraffic fills the routes: the patch holds the live routes until the
// target is ready, so that applying the component never moves traffic early.
func (s *state) plannedTraffic(d *decision, res *PlanResult) error {
	want := versionsOf(d.dests)
	hold := s.routes
	if len(hold) == 0 {
		hold = []destination{{d.target.Version, 100}}
		if s.stable != nil && s.stable.Ready > 0 {
			hold = []destination{{s.stable.Version, 100}}
		}
	}
	patchRoutes := hold
	if d.routeReady {
		patchRoutes = d.dests
	}
	http, err := s.traffic.http(patchRoutes)
	if err != nil {
		return err
	}
	res.Patch.HTTP = http
	res.Patch.Subsets = subsets(union(union(s.subsets, want), versionsOf(patchRoutes)))
	if !d.routeReady {
		return nil
	}
	final, err := s.traffic.http(d.dests)
	if err != nil {
		return err
	}
	annotations := map[string]string{AnnoCanary: s.rendered.Version, AnnoPhase: d.phase}
	if s.stable != nil {
		annotations[AnnoStable] = s.stable.Version
	}
	if res.VirtualService, err = s.traffic.virtualService(final, annotations); err != nil {
		return err
	}
	res.DestinationRule, err = s.traffic.destinationRule(want)
	return err
}

func versionsOf(dests []destination) []string {
	out := make([]string, 0, len(dests))
	for _, d := range dests {
		out = append(out, d.Version)
	}
	sort.Strings(out)
	return out
}

func (s *state) message(d *decision, ready bool) string {
	c := s.in.Component
	if !ready {
		have := 0
		if l := s.live[d.target.Version]; l != nil {
			have = l.Ready
		}
		return fmt.Sprintf("%s: waiting for %s: %d/%d ready", c, d.target.Name, have, d.replicas)
	}
	parts := []string{fmt.Sprintf("%s %d/%d ready", d.target.Name, d.replicas, d.replicas)}
	if d.retire != nil {
		parts = append(parts, fmt.Sprintf("%s %s", d.retire.Name, plural(d.retireTo, "instance", "instances")))
	}
	msg := fmt.Sprintf("%s: %s", c, strings.Join(parts, ", "))
	if s.routed {
		var w []string
		for _, dst := range d.dests {
			w = append(w, fmt.Sprintf("%s-%s %d%%", c, dst.Version, dst.Weight))
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
