package analysisrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// DefaultTick is how often the loop looks for due measurements: the
// analysis reacts within an interval plus this.
const DefaultTick = time.Second

// Loop measures every kept analysis when it is due, and acts on verdicts,
// until ctx ends. It watches the state ConfigMaps of all namespaces.
func (e *Engine) Loop(ctx context.Context, tick time.Duration) error {
	if tick <= 0 {
		tick = DefaultTick
	}
	logger := klog.FromContext(ctx).WithName("analysis")
	factory := informers.NewSharedInformerFactoryWithOptions(e.Kube, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = contract.LabelAnalysisState + "=true"
		}))
	lister := factory.Core().V1().ConfigMaps().Lister()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("analysis loop: cache of %v did not sync", typ)
		}
	}
	logger.Info("analysis loop started", "tick", tick)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		cms, err := lister.List(labels.Everything())
		if err != nil {
			logger.Error(err, "list analysis states")
			continue
		}
		for _, cm := range cms {
			state, err := Decode(cm)
			if err != nil {
				logger.Error(err, "skip a state that does not decode")
				continue
			}
			app, _ := cache.MetaNamespaceKeyFunc(cm)
			if err := e.tend(klog.NewContext(ctx, logger.WithValues("state", app)), cm.Namespace, cm.Labels[contract.LabelAppName], state); err != nil {
				logger.Info("analysis not tended this time", "state", app, "err", err.Error())
			}
		}
	}
}

// tend evaluates the analyses of one Application that have something to
// do now: a measurement due, or a verdict not yet acted on.
func (e *Engine) tend(ctx context.Context, namespace, app string, state State) error {
	now := e.now()
	var work []string
	for _, a := range state.Analyses {
		switch {
		case a.Done() && !a.Acted:
			work = append(work, a.Session)
		case !a.Done() && !a.Outcome.Next.After(now):
			work = append(work, a.Session)
		}
	}
	if len(work) == 0 || app == "" {
		return nil
	}
	run, err := e.Runs.Get(ctx, namespace, app)
	if err != nil {
		return err
	}
	if run.ID != state.RunID || !run.Active() {
		return nil // kept from a run that is over
	}
	var errs []error
	for _, session := range work {
		if _, err := e.Evaluate(ctx, run, session); err != nil && !errors.Is(err, ErrConflict) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
