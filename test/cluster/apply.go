package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// fieldManager owns every field this package applies.
const fieldManager = "istio-canary-cluster"

// Applier server-side applies multi-document YAML, like
// `kubectl apply --server-side --force-conflicts`. Server-side apply has no
// last-applied annotation, so the big vela CRDs do not hit its size limit.
type Applier struct {
	client dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewApplier returns an Applier for the cluster behind config.
func NewApplier(config *rest.Config) (*Applier, error) {
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("create dynamic client: %w", err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("create discovery client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))
	return &Applier{client: client, mapper: mapper}, nil
}

// DecodeYAML splits a multi-document YAML (or JSON) stream into objects,
// skipping empty documents.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objects []*unstructured.Unstructured
	for {
		var raw map[string]any
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, fmt.Errorf("decode YAML document %d: %w", len(objects)+1, err)
		}
		if len(raw) == 0 {
			continue
		}
		objects = append(objects, &unstructured.Unstructured{Object: raw})
	}
}

// Apply server-side applies each object, in order. Objects whose kind the
// server does not know yet (a CRD applied just before) are retried until
// discovery shows it, for at most a minute.
func (a *Applier) Apply(ctx context.Context, objects ...*unstructured.Unstructured) error {
	for _, obj := range objects {
		if err := a.applyOne(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// applyConcurrently applies objects that do not depend on each other (all
// CRDs; all definitions) with a few requests in flight: one by one, the
// ~125 objects of the bootstrap take seconds longer.
func (a *Applier) applyConcurrently(ctx context.Context, objects []*unstructured.Unstructured) error {
	const inFlight = 8
	slots := make(chan struct{}, inFlight)
	errs := make([]error, len(objects))
	var wg sync.WaitGroup
	for i, obj := range objects {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			errs[i] = a.applyOne(ctx, obj)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (a *Applier) applyOne(ctx context.Context, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	describe := fmt.Sprintf("%s %s/%s", gvk.Kind, obj.GetNamespace(), obj.GetName())
	data, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode %s: %w", describe, err)
	}
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			a.mapper.Reset() // the kind may have been added since discovery was cached
			lastErr = err
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("map %s to a resource: %w", describe, err)
		}
		var resource dynamic.ResourceInterface = a.client.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			resource = a.client.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		force := true
		_, err = resource.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: fieldManager, Force: &force})
		if err != nil {
			return false, fmt.Errorf("apply %s: %w", describe, err)
		}
		return true, nil
	})
	if wait.Interrupted(err) && lastErr != nil {
		return fmt.Errorf("apply %s: kind not served: %w", describe, lastErr)
	}
	return err
}

// waitCRDsEstablished waits until every named CRD reports Established.
func (a *Applier) waitCRDsEstablished(ctx context.Context, timeout time.Duration, names ...string) error {
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			crd, err := a.client.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil //nolint:nilerr // not there yet: keep polling
			}
			conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conditions {
				cond, _ := c.(map[string]any)
				if cond["type"] == "Established" && cond["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("wait for CRD %s to be established: %w", name, err)
		}
	}
	a.mapper.Reset()
	return nil
}
