package status

import (
	"context"
	"fmt"
	"time"

	istioclient "istio.io/client-go/pkg/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// Clients are the API clients the status reads with.
type Clients struct {
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	Istio   istioclient.Interface
}

// Collect reads the Application, its Deployments, the namespace's VirtualServices
// and the Application's analysis state, and builds the view. A missing Application is an error (apierrors.IsNotFound).
func Collect(ctx context.Context, c Clients, namespace, app string) (View, error) {
	s, err := Fetch(ctx, c, namespace, app)
	if err != nil {
		return View{App: app, Namespace: namespace}, err
	}
	if s.App == nil {
		return View{App: app, Namespace: namespace}, fmt.Errorf("application %s/%s: %w", namespace, app,
			apierrors.NewNotFound(ApplicationGVR.GroupResource(), app))
	}
	return Build(s)
}

// Fetch reads a snapshot with one request per kind. Snapshot.App is nil when the
// Application does not exist. Without the Istio VirtualService API the snapshot has
// no VirtualServices.
func Fetch(ctx context.Context, c Clients, namespace, app string) (Snapshot, error) {
	s := Snapshot{Namespace: namespace, Name: app, Now: time.Now()}
	u, err := c.Dynamic.Resource(ApplicationGVR).Namespace(namespace).Get(ctx, app, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return s, fmt.Errorf("get application %s/%s: %w", namespace, app, err)
	default:
		s.App = u
	}
	sel := metav1.ListOptions{LabelSelector: contract.LabelAppName + "=" + app}
	deps, err := c.Kube.AppsV1().Deployments(namespace).List(ctx, sel)
	if err != nil {
		return s, fmt.Errorf("list deployments in %s with %s: %w", namespace, sel.LabelSelector, err)
	}
	for i := range deps.Items {
		s.Deployments = append(s.Deployments, &deps.Items[i])
	}
	s.VirtualServices, err = listVirtualServices(ctx, c.Istio, namespace)
	if err != nil {
		return s, err
	}
	s.AnalysisState, s.AnalysisStateErr = getAnalysisState(ctx, c.Kube, namespace, app)
	return s, nil
}

// getAnalysisState reads the ConfigMap of the Application's analyses, nil
// when there is none. An error is the view's to show: someone who may not
// read ConfigMaps still gets the rest of the view.
func getAnalysisState(ctx context.Context, kube kubernetes.Interface, namespace, app string) (*corev1.ConfigMap, error) {
	name := contract.AnalysisStateName(app)
	cm, err := kube.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("cannot read the analyses (configmap %s/%s): %w", namespace, name, err)
	}
	return cm, nil
}

// listVirtualServices lists networking.istio.io/v1, else v1beta1, VirtualServices.
func listVirtualServices(ctx context.Context, ic istioclient.Interface, namespace string) ([]VirtualService, error) {
	var out []VirtualService
	v1, err := ic.NetworkingV1().VirtualServices(namespace).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, vs := range v1.Items {
			out = append(out, NewVirtualService(vs.Name, vs.Annotations, &vs.Spec))
		}
		return out, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("list virtualservices.v1.networking.istio.io in %s: %w", namespace, err)
	}
	beta, err := ic.NetworkingV1beta1().VirtualServices(namespace).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list virtualservices.v1beta1.networking.istio.io in %s: %w", namespace, err)
	}
	for _, vs := range beta.Items {
		out = append(out, NewVirtualService(vs.Name, vs.Annotations, &vs.Spec))
	}
	return out, nil
}
