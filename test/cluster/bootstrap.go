package cluster

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// bootstrap is what the cluster holds before vela-core starts.
type bootstrap struct {
	base        []*unstructured.Unstructured // vela-system, the fake node
	crds        []*unstructured.Unstructured // vela-core's and Istio's
	definitions []*unstructured.Unstructured // vela's builtin definitions, the vela-core placeholder
}

func loadManifests(up upstream) (bootstrap, error) {
	var b bootstrap
	var err error
	if b.base, err = objectsFromYAML(velaSystemNamespace() + "---\n" + fakeNode()); err != nil {
		return b, err
	}
	vela, err := velaCRDs(up.KubeVela)
	if err != nil {
		return b, err
	}
	istio, err := istioCRDs(up.IstioAPI)
	if err != nil {
		return b, err
	}
	b.crds = append(vela, istio...)
	if b.definitions, err = velaDefinitions(up.KubeVela); err != nil {
		return b, err
	}
	placeholder, err := objectsFromYAML(velaCorePlaceholder(up.KubeVela.Version))
	if err != nil {
		return b, err
	}
	b.definitions = append(b.definitions, placeholder...)
	return b, nil
}

// apply applies the namespace and node, then the CRDs, waits until they are
// served, then the definitions (custom resources of those CRDs).
func (b bootstrap) apply(ctx context.Context, a *Applier) error {
	if err := a.Apply(ctx, b.base...); err != nil {
		return err
	}
	if err := a.applyConcurrently(ctx, b.crds); err != nil {
		return err
	}
	names := make([]string, 0, len(b.crds))
	for _, crd := range b.crds {
		names = append(names, crd.GetName())
	}
	if err := a.waitCRDsEstablished(ctx, time.Minute, names...); err != nil {
		return err
	}
	if err := a.applyConcurrently(ctx, b.definitions); err != nil {
		return fmt.Errorf("apply vela definitions: %w", err)
	}
	return nil
}
