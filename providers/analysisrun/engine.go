package analysisrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/istio-canary/istio-canary/providers/analysis"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// Runs is what the engine needs of Applications' workflow runs
// (workflowrun.Client).
type Runs interface {
	Get(ctx context.Context, namespace, app string) (*workflowrun.Run, error)
	Abort(ctx context.Context, namespace, app, reason string) (*workflowrun.Run, error)
	Notify(ctx context.Context, namespace, app, note string) error
}

// Engine keeps, measures and acts on analyses.
type Engine struct {
	Kube kubernetes.Interface
	Runs Runs
	// NewAPI makes a Prometheus client for an address; default analysis.NewAPI.
	NewAPI func(address string) (v1.API, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// QueryTimeout bounds one measurement; default 10s, so that a step's
	// call returns before vela gives up on it.
	QueryTimeout time.Duration
	// NoWake leaves the Application alone on a verdict of a foreground
	// analysis: its step learns it on its next run, after vela's backoff.
	// Only the benchmark sets it, to measure what waking saves.
	NoWake bool

	mu   sync.Mutex
	apis map[string]v1.API
}

// ErrNotOwned: a ConfigMap of the state's name exists and is someone
// else's; retrying cannot help.
var ErrNotOwned = errors.New("exists and is not this application's analysis state")

// BadQueryError: Prometheus cannot run a metric's query; retrying cannot
// help, so the step fails with it before anything is kept.
type BadQueryError struct{ Err error }

func (e *BadQueryError) Error() string { return e.Err.Error() }
func (e *BadQueryError) Unwrap() error { return e.Err }

// checkQueries asks Prometheus to run each query once for the first target.
func (e *Engine) checkQueries(ctx context.Context, run *workflowrun.Run, a Analysis) error {
	if len(a.Targets) == 0 {
		return nil
	}
	api, err := e.api(a.Spec.Prometheus.Address)
	if err != nil {
		return &BadQueryError{Err: err}
	}
	t := a.Targets[0]
	ctx, cancel := context.WithTimeout(ctx, e.queryTimeout())
	defer cancel()
	err = analysis.CheckQueries(ctx, api, a.Spec, analysis.Vars{
		Namespace: run.Namespace, App: run.App, Component: t.Component, Canary: t.Canary, Stable: t.Stable,
		Interval: time.Duration(a.Spec.Interval), Time: e.now(),
	})
	if err != nil {
		return &BadQueryError{Err: err}
	}
	return nil
}

func (e *Engine) queryTimeout() time.Duration {
	if e.QueryTimeout > 0 {
		return e.QueryTimeout
	}
	return 10 * time.Second
}

// ErrConflict: another writer changed the state meanwhile; what this
// evaluation measured was dropped, and the next one goes on from theirs.
var ErrConflict = errors.New("the analysis state changed meanwhile")

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) api(address string) (v1.API, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok := e.apis[address]; ok {
		return a, nil
	}
	newAPI := e.NewAPI
	if newAPI == nil {
		newAPI = analysis.NewAPI
	}
	a, err := newAPI(address)
	if err != nil {
		return nil, err
	}
	if e.apis == nil {
		e.apis = map[string]v1.API{}
	}
	e.apis[address] = a
	return a, nil
}

// Start registers the analysis of a step session of the run, unless it is
// there already (a step calls on every reconcile), and evaluates it. It
// returns the analysis as it stands.
func (e *Engine) Start(ctx context.Context, run *workflowrun.Run, a Analysis) (*Analysis, error) {
	l, err := store{e.Kube}.load(ctx, run.Namespace, run.App)
	if err != nil {
		return nil, err
	}
	if l.cm != nil && !owned(l.cm, run) {
		return nil, fmt.Errorf("configmap %s/%s: %w; rename or delete it", l.cm.Namespace, l.cm.Name, ErrNotOwned)
	}
	state := l.state
	if state.RunID != run.ID {
		// A new run: the analyses of the one before are over.
		state = State{RunID: run.ID}
	}
	if state.Find(a.Session) == nil {
		if err := e.checkQueries(ctx, run, a); err != nil {
			return nil, err
		}
		now := e.now()
		for i := range a.Targets {
			a.Targets[i].Run = analysis.NewRun(a.Spec, now)
		}
		a.Outcome = analysis.Outcome{Phase: analysis.PhaseRunning, Next: now.Add(time.Duration(a.Spec.InitialDelay)), Message: "started"}
		state.Analyses = append(state.Analyses, a)
		if err := (store{e.Kube}).save(ctx, run, l, state); err != nil {
			return nil, conflict(err)
		}
	}
	return e.Evaluate(ctx, run, a.Session)
}

// Find returns the session's analysis in the run as kept, or nil.
func (e *Engine) Find(ctx context.Context, run *workflowrun.Run, session string) (*Analysis, error) {
	l, err := store{e.Kube}.load(ctx, run.Namespace, run.App)
	if err != nil || l.state.RunID != run.ID {
		return nil, err
	}
	return l.state.Find(session), nil
}

// Evaluate measures what is due in the session's analysis, decides, keeps
// the result, and acts on a new verdict. It returns the analysis as kept.
func (e *Engine) Evaluate(ctx context.Context, run *workflowrun.Run, session string) (*Analysis, error) {
	logger := klog.FromContext(ctx).WithValues("namespace", run.Namespace, "app", run.App, "session", session)
	l, err := store{e.Kube}.load(ctx, run.Namespace, run.App)
	if err != nil {
		return nil, err
	}
	state := l.state
	a := state.Find(session)
	if a == nil || state.RunID != run.ID {
		return nil, fmt.Errorf("application %s/%s: no analysis of step session %s in run %s", run.Namespace, run.App, session, run.ID)
	}
	if !a.Done() {
		changed := e.measureDue(ctx, run, a)
		before := a.Outcome.Phase
		a.Outcome = decide(a, e.now())
		if changed || a.Outcome.Phase != before {
			if err := (store{e.Kube}).save(ctx, run, l, state); err != nil {
				return nil, conflict(err)
			}
			logger.V(2).Info("analysis evaluated", "step", a.Step, "phase", a.Outcome.Phase)
		}
	}
	if a.Done() && !a.Acted {
		if err := e.act(ctx, run, a); err != nil {
			return a, err
		}
		a.Acted = true
		l, err := store{e.Kube}.load(ctx, run.Namespace, run.App)
		if err == nil {
			if kept := l.state.Find(session); kept != nil && l.state.RunID == run.ID && kept.Done() {
				kept.Acted = true
				err = store{e.Kube}.save(ctx, run, l, l.state)
			}
		}
		if err != nil {
			// Acting again is harmless: the next evaluation will.
			logger.Info("could not record that the verdict was acted on", "err", err.Error())
		}
	}
	return a, nil
}

func conflict(err error) error {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// measureDue takes the measurements that are due now; it reports whether
// it took any.
func (e *Engine) measureDue(ctx context.Context, run *workflowrun.Run, a *Analysis) bool {
	now := e.now()
	api, apiErr := e.api(a.Spec.Prometheus.Address)
	taken := false
	for ti := range a.Targets {
		t := &a.Targets[ti]
		outcome := analysis.Decide(t.Run, a.Spec.Limits, now)
		for _, name := range outcome.Due {
			spec, ok := metricSpec(a.Spec, name)
			if !ok {
				continue
			}
			var m analysis.Measurement
			if apiErr != nil {
				m = analysis.Measurement{Time: now, Phase: analysis.PhaseError, Message: apiErr.Error()}
			} else {
				m = e.measure(ctx, api, spec, run, a, t, now)
			}
			if err := t.Run.Record(name, m); err == nil {
				taken = true
			}
		}
	}
	return taken
}

func (e *Engine) measure(ctx context.Context, api v1.API, spec analysis.MetricSpec, run *workflowrun.Run, a *Analysis, t *Target, now time.Time) analysis.Measurement {
	ctx, cancel := context.WithTimeout(ctx, e.queryTimeout())
	defer cancel()
	return analysis.Measure(ctx, api, spec, analysis.Vars{
		Namespace: run.Namespace, App: run.App, Component: t.Component,
		Canary: t.Canary, Stable: t.Stable,
		Interval: time.Duration(a.Spec.Interval), Time: now,
	})
}

func metricSpec(spec analysis.Spec, name string) (analysis.MetricSpec, bool) {
	for _, m := range spec.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return analysis.MetricSpec{}, false
}
