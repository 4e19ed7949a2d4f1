package canary

import (
	"context"
	"fmt"
	"regexp"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/router"
)

// Clients are the API clients the provider reads and writes with.
type Clients struct {
	Kube  kubernetes.Interface
	Istio istioclient.Interface
	// Analysis serves the analyze function and lets Plan see an aborted
	// run; nil in a provider without it.
	Analysis *Analysis
	// Workflows is what every call is checked against.
	Workflows Workflows
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (cl Clients) now() time.Time {
	if cl.Now == nil {
		return time.Now()
	}
	return cl.Now()
}

// router reads and renders the components' routes.
func (cl Clients) router() router.Router { return router.Istio{Client: cl.Istio} }

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// validate checks the identity a call acts for; the step fills it from its
// context, so a bad one means a broken step definition or a stranger.
func (c Caller) validate() error {
	// In a fixed order, so that a call with several bad names always gets
	// the same complaint (a step's message must not flip between reconciles).
	for _, f := range []struct{ field, value string }{
		{"namespace", c.Namespace}, {"app", c.App}, {"component", c.Component},
	} {
		if !dnsLabel.MatchString(f.value) {
			return inputErrorf("%s: %q is not a valid name", f.field, f.value)
		}
	}
	return nil
}

func (c Caller) selector() string {
	return labels.Set{contract.LabelAppName: c.App, contract.LabelComponent: c.Component}.String()
}

// owns reports whether an object with these labels belongs to the caller's component.
func (c Caller) owns(l map[string]string) bool {
	return contract.BelongsTo(l, c.App, c.Component)
}

// routed is the caller's component as the router knows it.
func (c Caller) routed() router.Component {
	return router.Component{Namespace: c.Namespace, App: c.App, Name: c.Component}
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
		if d.Spec.Template.Labels[contract.LabelVersion] == "" || d.DeletionTimestamp != nil {
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
