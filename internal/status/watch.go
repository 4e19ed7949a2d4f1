package status

import (
	"context"
	"reflect"
	"time"
)

// DefaultWatchInterval is the shortest time between two views sent by Watch.
const DefaultWatchInterval = 250 * time.Millisecond

// Watch watches the Application, its Deployments and the namespace's
// VirtualServices through informers and calls emit with a new view whenever the
// view changes, at most once per interval (events in between are coalesced). The
// first view comes once the caches are synced. It returns nil when ctx is done,
// or an error when the APIs cannot be read at the start.
func Watch(ctx context.Context, c Clients, namespace, app string, interval time.Duration, emit func(View, error)) error {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	changed := make(chan struct{}, 1)
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	src, err := newSources(ctx, c, namespace, app, notify)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		src.shutdown()
	}()
	if !src.start(ctx) {
		return nil
	}
	notify()

	var last *View
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
		v, err := build(src)
		if last == nil || !reflect.DeepEqual(*last, v) || !sameError(err, lastErr) {
			emit(v, err)
			last, lastErr = &v, err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func build(src *sources) (View, error) {
	snap, err := src.snapshot()
	if err != nil {
		return View{App: src.app, Namespace: src.namespace}, err
	}
	return Build(snap)
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}
