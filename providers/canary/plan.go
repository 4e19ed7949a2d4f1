package canary

import (
	"context"

	"k8s.io/klog/v2"
)

// Plan reads the component's live state and returns what the step applies,
// for a step the Application's workflow is running (see authorize). It
// writes nothing.
func (cl Clients) Plan(ctx context.Context, in *PlanParams) (*PlanResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	a, err := cl.authorize(ctx, in.stepCall(canaryStepTypes))
	if err != nil {
		return nil, err
	}
	return cl.plan(ctx, in, &a)
}

// plan is Plan once the call is authorized (a: what authorize found; nil
// where the tests plan without it). It runs in three stages:
// observe reads the cluster into plain data, decide chooses instances and
// weights from that data alone, and render turns the decision into
// manifests built on the live objects.
func (cl Clients) plan(ctx context.Context, in *PlanParams, a *authorized) (*PlanResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	match, err := in.checkRequests()
	if err != nil {
		return nil, err
	}
	aborted, err := cl.aborted(ctx, in, a)
	if err != nil {
		return nil, err
	}
	if aborted != "" {
		in.Action = ActionRollback
	}
	logger := klog.FromContext(ctx).WithValues("namespace", in.Namespace, "app", in.App, "component", in.Component, "action", in.Action)
	o, live, err := cl.observe(ctx, in)
	if err != nil {
		return nil, err
	}
	o.match, o.now = match, cl.now()
	if in.Rollout.TargetSize < 1 {
		return nil, inputErrorf("component %s: rollout.targetSize is %d; it must be at least 1", in.Component, in.Rollout.TargetSize)
	}
	if o.delay, err = in.Rollout.scaleDownDelay(in.Component); err != nil {
		return nil, err
	}
	d, err := o.decide()
	if err != nil {
		return nil, err
	}
	res, err := o.render(d, live)
	if err != nil {
		return nil, err
	}
	res.Aborted = aborted
	logger.V(2).Info("planned", "stable", o.roles.Stable, "canary", o.roles.Canary, "roles", o.roles.Source,
		"target", d.target.Name, "replicas", d.replicas, "ready", res.Ready, "done", res.Done)
	return res, nil
}

// aborted returns the reason a rollout step's workflow run was aborted
// with (`istio-canary abort`, or a failed analysis), or "": an aborted run
// rolls back instead, whatever step it is at. The run is the one authorize
// read; without it, it is read here.
func (cl Clients) aborted(ctx context.Context, in *PlanParams, a *authorized) (string, error) {
	if in.Action != ActionRollout {
		return "", nil
	}
	if a == nil {
		if cl.Analysis == nil || cl.Analysis.Runs == nil {
			return "", nil
		}
		run, err := cl.Analysis.Runs.Get(ctx, in.Namespace, in.App)
		if err != nil {
			return "", err
		}
		a = &authorized{run: run, current: true}
		if run.AbortRequested && in.Revision != "" && cl.Workflows != nil {
			if _, _, a.current, err = cl.runOfRevision(ctx, run, in.Namespace, in.Revision); err != nil {
				return "", err
			}
		}
	}
	// An abort of another revision's run does not apply to this one.
	if !a.run.AbortRequested || !a.current {
		return "", nil
	}
	if a.run.AbortReason == "" {
		return "aborted", nil
	}
	return a.run.AbortReason, nil
}
