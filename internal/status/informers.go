package status

import (
	"context"
	"fmt"
	"time"

	istioinformers "istio.io/client-go/pkg/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// sources are informers on the Application, its Deployments, the namespace's
// VirtualServices and the Application's analysis state, and a way to read a
// snapshot from their caches.
type sources struct {
	namespace, app string
	dyn            dynamicinformer.DynamicSharedInformerFactory
	kube           informers.SharedInformerFactory
	// state watches the analysis state ConfigMap, by the provider's labels.
	state    informers.SharedInformerFactory
	istio    istioinformers.SharedInformerFactory
	synced   []cache.InformerSynced
	snapshot func() (Snapshot, error)
}

// newSources sets up the informers and calls onChange on every event. It checks
// that the Application API is served, and which VirtualService API is (v1, v1beta1
// or none).
func newSources(ctx context.Context, c Clients, namespace, app string, onChange func()) (*sources, error) {
	if _, err := c.Dynamic.Resource(ApplicationGVR).Namespace(namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, fmt.Errorf("list applications in %s: %w", namespace, err)
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { onChange() },
		UpdateFunc: func(any, any) { onChange() },
		DeleteFunc: func(any) { onChange() },
	}
	s := &sources{namespace: namespace, app: app}
	s.dyn = dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.Dynamic, 0, namespace, func(o *metav1.ListOptions) {
		o.FieldSelector = "metadata.name=" + app
	})
	s.kube = informers.NewSharedInformerFactoryWithOptions(c.Kube, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = contract.LabelAppName + "=" + app }))
	s.istio = istioinformers.NewSharedInformerFactoryWithOptions(c.Istio, 0, istioinformers.WithNamespace(namespace))
	stateSelector := contract.LabelAnalysisState + "=true," + contract.LabelAppName + "=" + app
	s.state = informers.NewSharedInformerFactoryWithOptions(c.Kube, 0, informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = stateSelector }))

	appInf := s.dyn.ForResource(ApplicationGVR)
	depInf := s.kube.Apps().V1().Deployments()
	infs := []cache.SharedIndexInformer{appInf.Informer(), depInf.Informer()}

	listVS := func() ([]VirtualService, error) { return nil, nil }
	switch api, err := virtualServiceAPI(ctx, c, namespace); {
	case err != nil:
		return nil, err
	case api == "v1":
		inf := s.istio.Networking().V1().VirtualServices()
		infs = append(infs, inf.Informer())
		listVS = func() ([]VirtualService, error) {
			items, err := inf.Lister().VirtualServices(namespace).List(labels.Everything())
			out := make([]VirtualService, 0, len(items))
			for _, vs := range items {
				out = append(out, NewVirtualService(vs.Name, vs.Annotations, &vs.Spec))
			}
			return out, err
		}
	case api == "v1beta1":
		inf := s.istio.Networking().V1beta1().VirtualServices()
		infs = append(infs, inf.Informer())
		listVS = func() ([]VirtualService, error) {
			items, err := inf.Lister().VirtualServices(namespace).List(labels.Everything())
			out := make([]VirtualService, 0, len(items))
			for _, vs := range items {
				out = append(out, NewVirtualService(vs.Name, vs.Annotations, &vs.Spec))
			}
			return out, err
		}
	}
	getState := stateSource(ctx, c, s.state, namespace, app, stateSelector)
	if getState.informer != nil {
		infs = append(infs, getState.informer)
	}
	for _, inf := range infs {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("watch %s/%s: %w", namespace, app, err)
		}
		s.synced = append(s.synced, inf.HasSynced)
	}

	s.snapshot = func() (Snapshot, error) {
		snap := Snapshot{Namespace: namespace, Name: app}
		obj, err := appInf.Lister().ByNamespace(namespace).Get(app)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return snap, fmt.Errorf("application %s/%s from cache: %w", namespace, app, err)
		default:
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return snap, fmt.Errorf("application %s/%s from cache: unexpected type %T", namespace, app, obj)
			}
			snap.App = u
		}
		if snap.Deployments, err = depInf.Lister().Deployments(namespace).List(labels.Everything()); err != nil {
			return snap, fmt.Errorf("deployments of %s/%s from cache: %w", namespace, app, err)
		}
		if snap.VirtualServices, err = listVS(); err != nil {
			return snap, fmt.Errorf("virtualservices in %s from cache: %w", namespace, err)
		}
		snap.AnalysisState, snap.AnalysisStateErr = getState.get()
		snap.Now = time.Now()
		return snap, nil
	}
	return s, nil
}

// start runs the informers until ctx is done and waits for their caches; false
// when ctx ended first.
func (s *sources) start(ctx context.Context) bool {
	s.dyn.Start(ctx.Done())
	s.kube.Start(ctx.Done())
	s.state.Start(ctx.Done())
	s.istio.Start(ctx.Done())
	return cache.WaitForCacheSync(ctx.Done(), s.synced...)
}

// shutdown waits for the informers to stop; ctx passed to start must be done.
func (s *sources) shutdown() {
	s.dyn.Shutdown()
	s.kube.Shutdown()
	s.state.Shutdown()
	s.istio.Shutdown()
}

// virtualServiceAPI tells which VirtualService API the cluster serves: "v1",
// "v1beta1" or "" (Istio not installed).
func virtualServiceAPI(ctx context.Context, c Clients, namespace string) (string, error) {
	_, err := c.Istio.NetworkingV1().VirtualServices(namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err == nil {
		return "v1", nil
	}
	if !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("list virtualservices.v1.networking.istio.io in %s: %w", namespace, err)
	}
	_, err = c.Istio.NetworkingV1beta1().VirtualServices(namespace).List(ctx, metav1.ListOptions{Limit: 1})
	switch {
	case err == nil:
		return "v1beta1", nil
	case apierrors.IsNotFound(err):
		return "", nil
	default:
		return "", fmt.Errorf("list virtualservices.v1beta1.networking.istio.io in %s: %w", namespace, err)
	}
}

// stateReader reads the analysis state ConfigMap from an informer's cache,
// or gives the reason it cannot be read.
type stateReader struct {
	informer cache.SharedIndexInformer
	get      func() (*corev1.ConfigMap, error)
}

// stateSource sets up the informer on the analysis state ConfigMap. Someone
// who may not list ConfigMaps gets no informer (its cache would never sync)
// and the reason in every snapshot, with the rest of the view.
func stateSource(ctx context.Context, c Clients, f informers.SharedInformerFactory, namespace, app, selector string) stateReader {
	name := contract.AnalysisStateName(app)
	if _, err := c.Kube.CoreV1().ConfigMaps(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: 1}); err != nil {
		err = fmt.Errorf("cannot read the analyses (configmap %s/%s): %w", namespace, name, err)
		return stateReader{get: func() (*corev1.ConfigMap, error) { return nil, err }}
	}
	inf := f.Core().V1().ConfigMaps()
	return stateReader{informer: inf.Informer(), get: func() (*corev1.ConfigMap, error) {
		cm, err := inf.Lister().ConfigMaps(namespace).Get(name)
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("configmap %s/%s from cache: %w", namespace, name, err)
		}
		return cm, nil
	}}
}
