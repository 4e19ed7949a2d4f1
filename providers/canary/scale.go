package canary

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// Scale sets the replicas of a version that the current Application revision
// no longer owns (vela does not keep its state, so this is its only writer).
// It plans the step again from the Application and the live state, and
// scales only the version that plan retires, to the replicas it gives,
// when it says now; anything else is refused. It refuses to take the last
// instance away from a version that still gets traffic, and writes nothing
// when the replicas already match.
func (cl Clients) Scale(ctx context.Context, in *ScaleParams) (*ScaleResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.Replicas < 0 {
		return nil, inputErrorf("replicas: %d is negative", in.Replicas)
	}
	a, err := cl.authorize(ctx, in.stepCall(canaryStepTypes))
	if err != nil {
		return nil, err
	}
	if err := checkStepProperties(a.step, &in.PlanParams); err != nil {
		return nil, cl.refuse(ctx, in.Caller, in.Step, err)
	}
	planned, err := cl.plan(ctx, &in.PlanParams, &a)
	if err != nil {
		return nil, err
	}
	if r := planned.Retire; r == nil || !planned.RetireNow || r.Name != in.Name || r.Replicas != in.Replicas {
		return nil, cl.refuse(ctx, in.Caller, in.Step, refusedf("name and replicas: step %s of application %s/%s does not scale %s to %d now (%s)",
			in.Step, in.Namespace, in.App, in.Name, in.Replicas, describeRetire(planned)))
	}
	return cl.scale(ctx, in.Caller, in.Name, in.Replicas)
}

// scale sets the replicas of Deployment name, a version of the caller's
// component, once Scale found that its plan says so.
func (cl Clients) scale(ctx context.Context, c Caller, name string, replicas int) (*ScaleResult, error) {
	logger := klog.FromContext(ctx).WithValues("deployment", klog.KRef(c.Namespace, name))
	deployments := cl.Kube.AppsV1().Deployments(c.Namespace)
	d, err := deployments.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if replicas == 0 {
			return &ScaleResult{Done: true}, nil
		}
		return nil, inputErrorf("name: Deployment %s/%s does not exist", c.Namespace, name)
	}
	if err != nil {
		return nil, fmt.Errorf("get Deployment %s/%s: %w", c.Namespace, name, err)
	}
	if !c.owns(d.Labels) {
		return nil, inputErrorf("name: Deployment %s/%s does not belong to component %s of application %s", c.Namespace, name, c.Component, c.App)
	}
	if d.Spec.Replicas != nil && int(*d.Spec.Replicas) == replicas {
		return &ScaleResult{Done: true}, nil
	}
	if replicas == 0 {
		if err := cl.checkNoTraffic(ctx, c, d.Spec.Template.Labels[contract.LabelVersion]); err != nil {
			return nil, err
		}
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"replicas": replicas}})
	if err != nil {
		return nil, fmt.Errorf("encode scale patch: %w", err)
	}
	if _, err := deployments.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return nil, fmt.Errorf("scale Deployment %s/%s to %d: %w", c.Namespace, name, replicas, err)
	}
	logger.Info("scaled", "replicas", replicas)
	return &ScaleResult{Done: true, Changed: true}, nil
}

// checkNoTraffic fails (as a passing error: the routes may be on their way)
// while the component's VirtualService still sends the version traffic.
func (cl Clients) checkNoTraffic(ctx context.Context, c Caller, ver string) error {
	routes, err := cl.router().GetRoutes(ctx, c.routed())
	if err != nil {
		return routerError(err)
	}
	if w := contract.WeightOf(routes.Destinations, ver); w > 0 {
		return fmt.Errorf("not scaling version %s of component %s to 0: VirtualService %s/%s still sends it %d%% of the traffic", ver, c.Component, c.Namespace, c.Component, w)
	}
	if r := routes.Requests; len(r.Match) > 0 && r.Version == ver {
		return fmt.Errorf("not scaling version %s of component %s to 0: route %s of VirtualService %s/%s still sends it the requests it matches", ver, c.Component, contract.MatchRouteName, c.Namespace, c.Component)
	}
	return nil
}

// describeRetire says what a plan retires, for a refusal.
func describeRetire(p *PlanResult) string {
	switch r := p.Retire; {
	case r == nil:
		return "its plan retires no version"
	case !p.RetireNow:
		return fmt.Sprintf("its plan scales %s to %d later, once the new version's routes are ready", r.Name, r.Replicas)
	default:
		return fmt.Sprintf("its plan scales %s to %d", r.Name, r.Replicas)
	}
}
