package status

import (
	"context"
	"reflect"
	"time"
)

// DefaultWatchInterval is the shortest time between two views sent by Watch.
const DefaultWatchInterval = 250 * time.Millisecond

// Watch watches the Application, its Deployments, the namespace's
// VirtualServices and the Application's analysis state through informers and
// calls emit with a new view whenever the view changes, at most once per
// interval (events in between are coalesced). While the view counts down (a
// timed pause, the next measurement of an analysis), it is built again as each
// second passes, with no event. The first view comes once the caches are
// synced. It returns nil when ctx is done, or an error when the APIs cannot be
// read at the start.
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
	var tick <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick:
		}
		v, err := build(src)
		if last == nil || !reflect.DeepEqual(*last, v) || !sameError(err, lastErr) {
			emit(v, err)
			last, lastErr = &v, err
		}
		tick = nil
		if d, ok := nextTick(v.countdowns(), time.Now()); ok {
			tick = time.After(d)
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

// countdowns are the times the view counts down to.
func (v *View) countdowns() []time.Time {
	var out []time.Time
	if v.Pause != nil {
		out = append(out, v.Pause.Until)
	}
	for _, a := range v.Analyses {
		if !a.Next.IsZero() {
			out = append(out, a.Next)
		}
	}
	return out
}

// nextTick is the time until the next countdown shows one second less: the
// earliest point where the time left to one of them crosses a whole second,
// a little after it so that the rounding has moved on.
func nextTick(deadlines []time.Time, now time.Time) (time.Duration, bool) {
	const settle = 20 * time.Millisecond
	var next time.Duration
	found := false
	for _, d := range deadlines {
		left := d.Sub(now)
		if left <= 0 {
			continue
		}
		step := left % time.Second
		if step == 0 {
			step = time.Second
		}
		if !found || step < next {
			next, found = step, true
		}
	}
	return next + settle, found
}
