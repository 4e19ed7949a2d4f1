package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// object is one Kubernetes or Istio object of the probed namespace, as the
// API server (or a YAML file) gives it.
type object = *unstructured.Unstructured

func identity(o object) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

func isIstio(o object) bool {
	return strings.HasSuffix(o.GroupVersionKind().Group, ".istio.io")
}

// liveKind is a resource the probe reads; a resource that falls back is read
// at that version where the first is not served (Istio before 1.22 serves
// networking.istio.io/v1beta1 only).
type liveKind struct {
	resource schema.GroupVersionResource
	fallback string
	// optional resources may be missing from the cluster: Istio kinds other
	// than the three the addon renders only change the routes when present.
	optional bool
}

func liveKinds() []liveKind {
	istio := func(resource string, optional bool) liveKind {
		return liveKind{schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: resource}, "v1beta1", optional}
	}
	return []liveKind{
		{resource: schema.GroupVersionResource{Version: "v1", Resource: "services"}},
		{resource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}},
		{resource: schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}},
		{resource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
		istio("virtualservices", false),
		istio("destinationrules", false),
		istio("gateways", false),
		istio("serviceentries", true),
		istio("sidecars", true),
	}
}

// readLive lists the namespace's objects the routes depend on, and the
// Namespace itself (its labels say whether sidecars are injected there).
func readLive(ctx context.Context, client dynamic.Interface, namespace string) ([]object, error) {
	var objs []object
	ns, err := client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("namespace %s: %w", namespace, err)
	}
	objs = append(objs, ns)
	for _, k := range liveKinds() {
		list, err := listKind(ctx, client, namespace, k)
		if err != nil {
			return nil, err
		}
		objs = append(objs, list...)
	}
	for _, o := range objs {
		// Field managers are of no use to Istio and fill the analyzers' input.
		o.SetManagedFields(nil)
	}
	return objs, nil
}

func listKind(ctx context.Context, client dynamic.Interface, namespace string, k liveKind) ([]object, error) {
	gvr := k.resource
	list, err := client.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) && k.fallback != "" {
		gvr.Version = k.fallback
		list, err = client.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	}
	if apierrors.IsNotFound(err) && k.optional {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s in %s: %w", k.resource.GroupResource(), namespace, err)
	}
	objs := make([]object, 0, len(list.Items))
	for i := range list.Items {
		objs = append(objs, &list.Items[i])
	}
	return objs, nil
}

// loadFiles reads YAML streams of objects; List objects are flattened.
func loadFiles(paths []string) ([]object, error) {
	var objs []object
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		got, err := decodeYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		objs = append(objs, got...)
	}
	return lastOfEach(objs), nil
}

// lastOfEach keeps, of the objects of one kind, namespace and name, the last
// one, as applying the files in order would.
func lastOfEach(objs []object) []object {
	last := map[string]int{}
	for i, o := range objs {
		last[identity(o)] = i
	}
	var out []object
	for i, o := range objs {
		if last[identity(o)] == i {
			out = append(out, o)
		}
	}
	return out
}

func decodeYAML(data []byte) ([]object, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []object
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i+1, err)
			}
			for j := range list.Items {
				objs = append(objs, &list.Items[j])
			}
			continue
		}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("document %d: no kind or apiVersion", i+1)
		}
		objs = append(objs, u)
	}
}

// toYAML is one YAML stream of objects, the form Istio's parsers and
// analyzers read.
func toYAML(objs []object) (string, error) {
	var b strings.Builder
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return "", fmt.Errorf("%s: %w", identity(o), err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	return b.String(), nil
}

// inNamespace keeps the objects of the namespace (and cluster-scoped ones);
// a file may hold more than one namespace.
func inNamespace(objs []object, namespace string) []object {
	var out []object
	for _, o := range objs {
		switch {
		case o.GetKind() == "Namespace" && o.GetName() == namespace:
		case o.GetKind() == "Namespace":
			continue
		case o.GetNamespace() == "":
			// A file's objects without a namespace are in the probed one, as
			// kubectl apply -n would place them.
			o.SetNamespace(namespace)
		case o.GetNamespace() != namespace:
			continue
		}
		out = append(out, o)
	}
	return out
}
