package canary

import (
	"context"
	"fmt"
	"regexp"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
)

// Clients are the API clients the provider reads and writes with.
type Clients struct {
	Kube  kubernetes.Interface
	Istio istioclient.Interface
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// validate checks the identity a call acts for; the step fills it from its
// context, so a bad one means a broken step definition or a stranger.
func (c Caller) validate() error {
	for field, v := range map[string]string{"namespace": c.Namespace, "app": c.App, "component": c.Component} {
		if !dnsLabel.MatchString(v) {
			return inputErrorf("%s: %q is not a valid name", field, v)
		}
	}
	return nil
}

func (c Caller) selector() string {
	return labels.Set{LabelApp: c.App, LabelComponent: c.Component}.String()
}

// owns reports whether an object with these labels belongs to the caller's component.
func (c Caller) owns(l map[string]string) bool {
	return l[LabelApp] == c.App && l[LabelComponent] == c.Component
}

// versions lists the live versions of the caller's component by version name.
func (cl Clients) versions(ctx context.Context, c Caller) (map[string]*version, error) {
	list, err := cl.Kube.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: c.selector()})
	if err != nil {
		return nil, fmt.Errorf("list Deployments of component %s/%s: %w", c.Namespace, c.Component, err)
	}
	out := map[string]*version{}
	for i := range list.Items {
		d := &list.Items[i]
		if d.Spec.Template.Labels[PodLabelVersion] == "" || d.DeletionTimestamp != nil {
			continue
		}
		v, err := liveVersion(d)
		if err != nil {
			return nil, err
		}
		out[v.Version] = v
	}
	return out, nil
}

// checkTakeover refuses a Deployment that has the target's name but belongs
// to someone else: applying the component would take it over.
func (cl Clients) checkTakeover(ctx context.Context, c Caller, name string) error {
	d, err := cl.Kube.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get Deployment %s/%s: %w", c.Namespace, name, err)
	}
	if !c.owns(d.Labels) {
		return inputErrorf("Deployment %s/%s exists and does not belong to component %s of application %s; rename the version or remove that Deployment", c.Namespace, name, c.Component, c.App)
	}
	return nil
}

// traffic reads the component's VirtualService and DestinationRule; either
// is nil when it does not exist.
func (cl Clients) traffic(ctx context.Context, c Caller) (*networkingv1.VirtualService, *networkingv1.DestinationRule, error) {
	vs, err := cl.virtualService(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	dr, err := getOwned(ctx, c, "DestinationRule", cl.Istio.NetworkingV1().DestinationRules(c.Namespace).Get)
	if err != nil {
		return nil, nil, err
	}
	return vs, dr, nil
}

// virtualService reads the component's VirtualService; nil when it does not exist.
func (cl Clients) virtualService(ctx context.Context, c Caller) (*networkingv1.VirtualService, error) {
	return getOwned(ctx, c, "VirtualService", cl.Istio.NetworkingV1().VirtualServices(c.Namespace).Get)
}

// getOwned gets the object named after the caller's component, or nil when
// it does not exist; one that belongs to someone else is refused.
func getOwned[T interface {
	comparable
	metav1.Object
}](ctx context.Context, c Caller, kind string, get func(context.Context, string, metav1.GetOptions) (T, error)) (T, error) {
	var none T
	obj, err := get(ctx, c.Component, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return none, nil
	case err != nil:
		return none, fmt.Errorf("get %s %s/%s: %w", kind, c.Namespace, c.Component, err)
	case !c.owns(obj.GetLabels()):
		return none, inputErrorf("%s %s/%s does not belong to component %s of application %s; remove it or rename the component", kind, c.Namespace, c.Component, c.Component, c.App)
	}
	return obj, nil
}
