//go:build e2e && bench

package e2e

import (
	"context"
	"fmt"
	"sync"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// timeline keeps the watch events of a namespace's Applications,
// Deployments and VirtualServices with the time this process received
// them. A figure is the span between two events seen through the same
// watches, so the delivery delay of a watch is on both ends and cancels
// out; vela's own step timestamps have a resolution of a second.
type timeline struct {
	mu     sync.Mutex
	events []event
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type event struct {
	at  time.Time
	typ watch.EventType
	obj runtime.Object // *unstructured.Unstructured (Application), *appsv1.Deployment, *networkingv1.VirtualService
}

// watchTimeline starts the watches of namespace ns; they stop at the end
// of the test. Each starts at the resourceVersion of a list, so that no
// event stands for an object that was there before (a watch without one
// begins with an ADDED event for each); a watch that the API server closes
// is opened again where it stopped, or from a new list after an error.
func (e *env) watchTimeline(ns string) *timeline {
	ctx, cancel := context.WithCancel(context.Background())
	tl := &timeline{cancel: cancel}
	e.t.Cleanup(tl.stop)
	type kind struct {
		list  func() (metav1.ListInterface, error)
		watch func(metav1.ListOptions) (watch.Interface, error)
	}
	apps, deps, vss := e.dyn.Resource(applications).Namespace(ns), e.kube.AppsV1().Deployments(ns), e.istio.NetworkingV1().VirtualServices(ns)
	kinds := []kind{{
		list:  func() (metav1.ListInterface, error) { return apps.List(ctx, metav1.ListOptions{}) },
		watch: func(o metav1.ListOptions) (watch.Interface, error) { return apps.Watch(ctx, o) },
	}, {
		list:  func() (metav1.ListInterface, error) { return deps.List(ctx, metav1.ListOptions{}) },
		watch: func(o metav1.ListOptions) (watch.Interface, error) { return deps.Watch(ctx, o) },
	}, {
		list:  func() (metav1.ListInterface, error) { return vss.List(ctx, metav1.ListOptions{}) },
		watch: func(o metav1.ListOptions) (watch.Interface, error) { return vss.Watch(ctx, o) },
	}}
	var started sync.WaitGroup
	for _, k := range kinds {
		started.Add(1)
		tl.wg.Add(1)
		go func() {
			defer tl.wg.Done()
			rv, first := "", true
			for ctx.Err() == nil {
				if rv == "" {
					l, err := k.list()
					if err != nil {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					rv = l.GetResourceVersion()
				}
				w, err := k.watch(metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
				if first {
					started.Done()
					first = false
				}
				if err != nil {
					rv = ""
					time.Sleep(100 * time.Millisecond)
					continue
				}
				for ev := range w.ResultChan() {
					if ev.Type == watch.Error {
						rv = "" // e.g. resourceVersion too old: list again
						break
					}
					if m, err := meta.Accessor(ev.Object); err == nil {
						rv = m.GetResourceVersion()
					}
					if ev.Type == watch.Bookmark {
						continue
					}
					tl.mu.Lock()
					tl.events = append(tl.events, event{at: time.Now(), typ: ev.Type, obj: ev.Object})
					tl.mu.Unlock()
				}
				w.Stop()
			}
		}()
	}
	started.Wait()
	return tl
}

func (tl *timeline) stop() {
	tl.cancel()
	tl.wg.Wait()
}

// first waits for the first event received at or after from that cond
// holds for, and returns when it was received.
func (e *env) first(tl *timeline, from time.Time, what string, cond func(event) bool) time.Time {
	e.t.Helper()
	var at time.Time
	e.eventually(4*time.Minute, what, func() (bool, string) {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		for _, ev := range tl.events {
			if !ev.at.Before(from) && cond(ev) {
				at = ev.at
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events so far", len(tl.events))
	})
	return at
}

// Conditions on events.

// appGeneration: the Application at generation gen or later (an update of
// its spec as the API server holds it).
func appGeneration(name string, gen int64) func(event) bool {
	return func(ev event) bool {
		u, ok := ev.obj.(*unstructured.Unstructured)
		return ok && u.GetName() == name && u.GetGeneration() >= gen
	}
}

// appStep: the Application's status shows step in one of the phases.
func appStep(name, step string, phases ...string) func(event) bool {
	return func(ev event) bool {
		u, ok := ev.obj.(*unstructured.Unstructured)
		if !ok || u.GetName() != name {
			return false
		}
		steps, _, _ := unstructured.NestedSlice(u.Object, "status", "workflow", "steps")
		for _, st := range steps {
			m, _ := st.(map[string]any)
			for _, p := range phases {
				if m["name"] == step && m["phase"] == p {
					return true
				}
			}
		}
		return false
	}
}

// created: Deployment name was created.
func created(name string) func(event) bool {
	return func(ev event) bool {
		d, ok := ev.obj.(*appsv1.Deployment)
		return ok && ev.typ == watch.Added && d.Name == name
	}
}

// scaledTo: Deployment name wants replicas instances; replicas < 0 means
// it was deleted.
func scaledTo(name string, replicas int32) func(event) bool {
	return func(ev event) bool {
		d, ok := ev.obj.(*appsv1.Deployment)
		if !ok || d.Name != name {
			return false
		}
		if replicas < 0 {
			return ev.typ == watch.Deleted
		}
		return ev.typ != watch.Deleted && d.Spec.Replicas != nil && *d.Spec.Replicas == replicas
	}
}

// routed: VirtualService name's route of the steps prints as weights
// (e.g. "map[v1:90 v2:10]").
func routed(name, weights string) func(event) bool {
	return func(ev event) bool {
		vs, ok := ev.obj.(*networkingv1.VirtualService)
		if !ok || vs.Name != name || ev.typ == watch.Deleted {
			return false
		}
		w := map[string]int{}
		for _, d := range contract.ReadRoute(&vs.Spec) {
			w[d.Version] += d.Weight
		}
		return fmt.Sprint(w) == weights
	}
}
