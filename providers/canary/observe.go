package canary

import (
	"context"
	"fmt"
	"time"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/router"
)

// observation is what Plan knows of one component before deciding, as plain
// data: versions, weights and subset names, no mesh objects.
type observation struct {
	in       *PlanParams
	rendered *version            // the version the Application renders now
	live     map[string]*version // live versions by name
	roles    contract.Roles
	stable   *version               // the live version in service before this rollout; nil if none
	routes   []contract.Destination // live weights; nil without a VirtualService
	requests router.Requests        // live routes by request content
	match    []any                  // the step's matches, as the router reads them; nil: none given
	subsets  []string               // live subsets, sorted
	routed   bool                   // the component's traffic goes through the mesh
	port     int                    // canary-traffic's port; 0 without the trait
	now      time.Time
	delay    time.Duration // the rollout trait's scaleDownDelay
	// completedAt is when the steps completed this canary's rollout, as the
	// live routes record it; zero when they record anything else.
	completedAt time.Time
}

// liveRouting is the component's routing as the router read it, kept to
// render changes on top of it.
type liveRouting struct {
	router  router.Router
	routes  *router.Routes
	subsets *router.Subsets
	gateway *router.Routes // the gateway route's delegate; nil without istio-gateway
}

// observe reads the component's live versions and routes.
func (cl Clients) observe(ctx context.Context, in *PlanParams) (*observation, *liveRouting, error) {
	rendered, err := renderedVersion(in.Component, in.Workload)
	if err != nil {
		return nil, nil, err
	}
	if err := cl.checkTakeover(ctx, in.Caller, rendered.Name); err != nil {
		return nil, nil, err
	}
	live, err := cl.versions(ctx, in.Caller)
	if err != nil {
		return nil, nil, err
	}
	if l := live[rendered.Version]; l != nil && l.PodSpecHash != "" && rendered.PodSpecHash != "" && l.PodSpecHash != rendered.PodSpecHash && in.Action == ActionRollout {
		return nil, nil, inputErrorf("rollout.version: version %q of component %s already runs a different pod template (Deployment %s); give the changed component a new version name", rendered.Version, in.Component, l.Name)
	}
	r := &liveRouting{router: cl.router()}
	if r.routes, err = r.router.GetRoutes(ctx, in.routed()); err != nil {
		return nil, nil, routerError(err)
	}
	if r.subsets, err = r.router.GetSubsets(ctx, in.routed()); err != nil {
		return nil, nil, routerError(err)
	}
	// The step sends the gateway only for a component with canary-traffic,
	// also when it has several ports (and so no traffic.port).
	if in.Gateway != nil {
		if r.gateway, err = r.router.GetGatewayRoutes(ctx, in.routed()); err != nil {
			return nil, nil, routerError(err)
		}
	}
	if in.Traffic != nil && !r.routes.Served {
		// The trait's VirtualService cannot be applied either; installing
		// Istio's CRDs fixes this without changing the Application.
		return nil, nil, fmt.Errorf("component %s has a canary-traffic trait, but the cluster serves no VirtualService API (networking.istio.io v1 or v1beta1); install Istio", in.Component)
	}
	o := &observation{
		in:       in,
		rendered: rendered,
		live:     live,
		routes:   r.routes.Destinations,
		requests: r.routes.Requests,
		subsets:  r.subsets.Names,
		routed:   in.Traffic != nil || r.routes.Found,
	}
	if in.Traffic != nil {
		o.port = in.Traffic.Port
	}
	o.roles = contract.DecideRoles(o.rolesInput(contract.RecordedIn(r.routes.Annotations)))
	o.stable = live[o.roles.Stable] // nil when the stable version is gone
	a := r.routes.Annotations
	if t, ok := contract.CompletedAt(a); ok && a[contract.AnnotationCanary] == rendered.Version && a[contract.AnnotationPhase] == contract.PhaseCompleted {
		o.completedAt = t
	}
	return o, r, nil
}

// rolesInput is what the provider knows for the roles rule: the live
// versions, the roles the steps recorded, the rendered version, which is
// the canary, and the revision the step runs for.
func (o *observation) rolesInput(recorded contract.Recorded) contract.Live {
	in := contract.Live{Recorded: recorded, Rendered: o.rendered.Version, LatestRevision: o.in.Revision}
	for name, v := range o.live {
		in.Versions = append(in.Versions, contract.Version{
			Name:        name,
			Weight:      contract.WeightOf(o.routes, name),
			Ready:       v.Ready,
			Created:     v.Created,
			AppRevision: v.Labels[contract.LabelAppRevision],
			RunStable:   v.Annotations[contract.AnnotationRunStable],
			RunRevision: v.Annotations[contract.AnnotationRunRevision],
		})
	}
	return in
}

func (o *observation) canaryLive() *version { return o.live[o.rendered.Version] }
