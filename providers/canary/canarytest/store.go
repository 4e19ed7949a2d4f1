package canarytest

import (
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// store holds the objects of one resource by namespace and name. It keeps
// its own copies, so that neither what a caller writes nor what it reads
// shares memory with what is stored, as with an API server.
type store[T metav1.Object] struct {
	resource schema.GroupResource
	copy     func(T) T
	objects  map[types.NamespacedName]T
}

func newStore[T metav1.Object](resource schema.GroupResource, copy func(T) T) *store[T] {
	return &store[T]{resource: resource, copy: copy, objects: map[types.NamespacedName]T{}}
}

func (s *store[T]) get(namespace, name string) (T, error) {
	o, ok := s.objects[types.NamespacedName{Namespace: namespace, Name: name}]
	if !ok {
		var none T
		return none, apierrors.NewNotFound(s.resource, name)
	}
	return s.copy(o), nil
}

// sorted returns the namespace's objects, sorted by name: the stored ones,
// for a caller to copy what it hands out.
func (s *store[T]) sorted(namespace string) []T {
	var out []T
	for k, o := range s.objects {
		if k.Namespace == namespace {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func (s *store[T]) create(namespace string, o T) (T, error) { return s.put(namespace, o, false) }

func (s *store[T]) update(namespace string, o T) (T, error) { return s.put(namespace, o, true) }

// put stores a copy of o in namespace (its own when it names none): a new
// object unless replace, else one that exists. It returns o, which holds
// what was stored, rather than another copy; one without a namespace gets
// a copy that has it.
func (s *store[T]) put(namespace string, o T, replace bool) (T, error) {
	var none T
	stored := s.copy(o)
	if stored.GetNamespace() == "" {
		stored.SetNamespace(namespace)
	}
	if stored.GetNamespace() != namespace {
		return none, apierrors.NewBadRequest(fmt.Sprintf("the namespace of the request, %q, does not match the object's, %q", namespace, stored.GetNamespace()))
	}
	k := types.NamespacedName{Namespace: namespace, Name: stored.GetName()}
	switch _, exists := s.objects[k]; {
	case exists && !replace:
		return none, apierrors.NewAlreadyExists(s.resource, stored.GetName())
	case !exists && replace:
		return none, apierrors.NewNotFound(s.resource, stored.GetName())
	}
	s.objects[k] = stored
	if o.GetNamespace() == "" {
		return s.copy(stored), nil
	}
	return o, nil
}
