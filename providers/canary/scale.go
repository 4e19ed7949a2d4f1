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
// It refuses to take the last instance away from a version that still gets
// traffic, and writes nothing when the replicas already match.
func (cl Clients) Scale(ctx context.Context, in *ScaleParams) (*ScaleResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.Replicas < 0 {
		return nil, inputErrorf("replicas: %d is negative", in.Replicas)
	}
	logger := klog.FromContext(ctx).WithValues("deployment", klog.KRef(in.Namespace, in.Name))
	deployments := cl.Kube.AppsV1().Deployments(in.Namespace)
	d, err := deployments.Get(ctx, in.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if in.Replicas == 0 {
			return &ScaleResult{Done: true}, nil
		}
		return nil, inputErrorf("name: Deployment %s/%s does not exist", in.Namespace, in.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("get Deployment %s/%s: %w", in.Namespace, in.Name, err)
	}
	if !in.owns(d.Labels) {
		return nil, inputErrorf("name: Deployment %s/%s does not belong to component %s of application %s", in.Namespace, in.Name, in.Component, in.App)
	}
	if d.Spec.Replicas != nil && int(*d.Spec.Replicas) == in.Replicas {
		return &ScaleResult{Done: true}, nil
	}
	if in.Replicas == 0 {
		if err := cl.checkNoTraffic(ctx, in.Caller, d.Spec.Template.Labels[contract.LabelVersion]); err != nil {
			return nil, err
		}
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"replicas": in.Replicas}})
	if err != nil {
		return nil, fmt.Errorf("encode scale patch: %w", err)
	}
	if _, err := deployments.Patch(ctx, in.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return nil, fmt.Errorf("scale Deployment %s/%s to %d: %w", in.Namespace, in.Name, in.Replicas, err)
	}
	logger.Info("scaled", "replicas", in.Replicas)
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
