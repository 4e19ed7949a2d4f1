package canary

import (
	"context"

	"k8s.io/klog/v2"
)

// Plan reads the component's live state and returns what the step applies.
// It writes nothing. It runs in three stages: observe reads the cluster into
// plain data, decide chooses instances and weights from that data alone, and
// render turns the decision into manifests built on the live objects.
func (cl Clients) Plan(ctx context.Context, in *PlanParams) (*PlanResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	logger := klog.FromContext(ctx).WithValues("namespace", in.Namespace, "app", in.App, "component", in.Component, "action", in.Action)
	o, live, err := cl.observe(ctx, in)
	if err != nil {
		return nil, err
	}
	if in.Rollout.TargetSize < 1 {
		return nil, inputErrorf("component %s: rollout.targetSize is %d; it must be at least 1", in.Component, in.Rollout.TargetSize)
	}
	d, err := o.decide()
	if err != nil {
		return nil, err
	}
	res, err := o.render(d, live)
	if err != nil {
		return nil, err
	}
	logger.V(2).Info("planned", "stable", o.roles.Stable, "canary", o.roles.Canary, "roles", o.roles.Source,
		"target", d.target.Name, "replicas", d.replicas, "ready", res.Ready, "done", res.Done)
	return res, nil
}
