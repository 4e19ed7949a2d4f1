package canary

import (
	"time"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/router"
)

// decision is what one step wants for one component, as plain data: which
// version gets how many instances and how the traffic is split.
type decision struct {
	target     *version // the version that gets the instances
	replicas   int      // instances of target
	retire     *version // the live version being phased out; nil if none
	retireTo   int      // its instances once the routes are applied
	dests      []contract.Destination
	phase      string
	routeReady bool            // routes may change now
	requests   router.Requests // routes by request content once routeReady
	// completedAt is when the traffic moved to the canary for good, and
	// hold how long retire still waits after the routes: both set only
	// when the rollout trait has a scaleDownDelay.
	completedAt time.Time
	hold        time.Duration
}

// holding reports whether the version phased out keeps instances it is to
// lose only because of the scale-down delay.
func (d *decision) holding() bool {
	return d.retire != nil && d.hold > 0 && d.retireTo < d.retire.Replicas
}

// decide chooses what the step's action wants.
func (o *observation) decide() (*decision, error) {
	var d *decision
	var err error
	switch o.in.Action {
	case ActionRollout:
		d, err = o.rollout()
	case ActionRollback:
		d = o.rollback()
	default:
		return nil, inputErrorf("action: %q is not one of rollout, rollback", o.in.Action)
	}
	if err != nil {
		return nil, err
	}
	d.requests = o.wantRequests(d)
	return d, nil
}

func (o *observation) rollout() (*decision, error) {
	in := o.in
	n, err := batchReplicas(in.Component, in.Rollout, in.BatchPartition)
	if err != nil {
		return nil, err
	}
	if len(in.WeightedTargets) > 0 && !o.routed {
		return nil, inputErrorf("traffic.weightedTargets: component %s has no canary-traffic trait, so its traffic cannot be split; add canary-traffic to it or leave traffic out", in.Component)
	}
	if o.delay > 0 && !o.routed {
		return nil, inputErrorf("rollout.scaleDownDelay: component %s has no canary-traffic trait, so its Service sends requests to the pods of every version and an old version kept after the switch would go on serving; add canary-traffic to it or leave scaleDownDelay out", in.Component)
	}
	if (len(in.Match) > 0 || in.Mirror != nil) && !o.routed {
		return nil, inputErrorf("traffic.%s: component %s has no canary-traffic trait, so its requests cannot be routed by content or mirrored; add canary-traffic to it or leave traffic.match and traffic.mirror out", map[bool]string{true: "match", false: "mirror"}[len(in.Match) > 0], in.Component)
	}
	// The new version is applied as the Application renders it; its live
	// Deployment only tells whether it is ready.
	d := &decision{target: o.rendered, replicas: n, phase: contract.PhaseProgressing}
	if o.stable == nil {
		// Nothing to canary against: the new version is all there is.
		d.replicas = in.Rollout.TargetSize
		d.dests = []contract.Destination{{Version: o.rendered.Version, Weight: 100}}
		if len(in.WeightedTargets) > 0 {
			if _, _, _, err := resolveWeights(in.Component, in.Components, "", o.rendered.Version, in.WeightedTargets); err != nil {
				return nil, err
			}
		}
		d.phase = contract.PhaseCompleted
		d.routeReady = o.canaryLive().readyAt(d.replicas)
		return d, nil
	}
	stableN := in.Rollout.TargetSize - n
	// Without weightedTargets the traffic follows the instances.
	canaryW := (100*n + in.Rollout.TargetSize/2) / in.Rollout.TargetSize
	stableW := 100 - canaryW
	if len(in.WeightedTargets) > 0 {
		sw, cw, matched, err := resolveWeights(in.Component, in.Components, o.stable.Version, o.rendered.Version, in.WeightedTargets)
		if err != nil {
			return nil, err
		}
		if matched {
			stableW, canaryW = sw, cw
		}
	}
	if stableW > 0 && stableN == 0 {
		// Blue-green: the new version at full size beside the old one,
		// which keeps serving with the instances it has (a preview).
		if o.stable.Replicas == 0 {
			return nil, inputErrorf("traffic.weightedTargets: version %s of component %s would get %d%% of the traffic, but it has no instances left; give it weight 0", o.stable.Version, in.Component, stableW)
		}
		stableN = o.stable.Replicas
	}
	for _, dst := range []contract.Destination{{Version: o.stable.Version, Weight: stableW}, {Version: o.rendered.Version, Weight: canaryW}} {
		if dst.Weight > 0 {
			d.dests = append(d.dests, dst)
		}
	}
	d.retire, d.retireTo = o.stable, stableN
	if stableN == 0 && canaryW == 100 {
		d.phase = contract.PhaseCompleted
		if o.delay > 0 {
			// The old version stays whole for a while, so that a rollback
			// finds it serving-ready: counted from the switch.
			d.completedAt = o.completedAt
			if d.completedAt.IsZero() {
				d.completedAt = o.now.UTC().Truncate(time.Second)
			}
			d.hold = max(0, d.completedAt.Add(o.delay).Sub(o.now))
		}
	}
	if a := o.abandoned(); a != nil && stableN <= o.stable.Replicas {
		// The canary of a release that a newer one overtook gets no
		// traffic from this one: it goes first, to 0 as soon as the routes
		// leave it, and the stable after it (one version a plan at a
		// time). Unless the stable must get instances back first: the
		// routes may have to move onto it.
		d.retire, d.retireTo, d.hold = a, 0, 0
	}
	// Never move weight onto a stable version without a ready instance;
	// moving weight off it is always allowed.
	d.routeReady = o.canaryLive().readyAt(n) && (o.stable.Ready > 0 || stableW <= contract.WeightOf(o.routes, o.stable.Version))
	return d, nil
}

// abandoned is a live version with instances that is neither the stable
// one nor the one the Application renders: the canary of a release that a
// new one overtook before it finished. The first by name when there are
// several.
func (o *observation) abandoned() *version {
	var found *version
	for _, v := range o.live {
		if v == o.stable || v.Version == o.rendered.Version || v.Replicas == 0 {
			continue
		}
		if found == nil || v.Name < found.Name {
			found = v
		}
	}
	return found
}

func (o *observation) rollback() *decision {
	size := o.in.Rollout.TargetSize
	if o.stable == nil {
		// Nothing to roll back to: keep the only version, whole.
		return &decision{target: o.rendered, replicas: size, phase: contract.PhaseCompleted,
			dests: []contract.Destination{{Version: o.rendered.Version, Weight: 100}}, routeReady: o.canaryLive().readyAt(size)}
	}
	d := &decision{
		target:   o.stable,
		replicas: size,
		phase:    contract.PhaseRolledBack,
		dests:    []contract.Destination{{Version: o.stable.Version, Weight: 100}},
		// Traffic goes back as soon as the stable version can take it:
		// staying on the canary is what the user is escaping from.
		routeReady: o.stable.Ready > 0,
		retire:     o.canaryLive(), // nil when the canary was never applied
	}
	if c := d.retire; c == nil || c.Replicas == 0 {
		// Then a canary an earlier release left behind, as a rollout
		// does: otherwise, once its instances became ready, it could
		// count as the stable version and the finished rollback start
		// again towards it (FuzzPlan found it).
		if a := o.abandoned(); a != nil {
			d.retire = a
		}
	}
	return d
}
