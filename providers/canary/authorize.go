package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// The provider acts for whoever reaches it, so it trusts no call: a call
// counts only as far as the API server confirms it. The Application must
// exist, its workflow must be running the named step for the revision the
// call names, that step must be one of ours and cover the components, and
// their rollout properties must be the Application's own. No shared secret
// is involved: a secret that travels through a workflow is readable by
// whoever writes workflows.

// Workflows reads what the authorization checks against.
type Workflows interface {
	// Get reads an Application's current run and spec; an error wrapping
	// NotFound when it does not exist.
	Get(ctx context.Context, namespace, app string) (*workflowrun.Run, error)
	// Revisions lists an Application's revisions.
	Revisions(ctx context.Context, namespace, app string) ([]workflowrun.Revision, error)
}

// RefusedError is a call the API server's state does not support. The step
// fails with it; nothing was read for the caller or written.
type RefusedError struct{ msg string }

func (e *RefusedError) Error() string { return "refused: " + e.msg }

func refusedf(format string, args ...any) error {
	return &RefusedError{msg: fmt.Sprintf(format, args...)}
}

// stepCall is what a call claims: the step of which Application run it
// comes from, and the components it acts on.
type stepCall struct {
	namespace, app string
	// step is context.stepName, revision context.appRevision.
	step, revision string
	components     []string
	// rollouts are the rollout properties the call carries, by component.
	rollouts map[string]RolloutSpec
	// stepTypes are the step types that may make this call.
	stepTypes []string
}

// canaryStepTypes may plan and scale; only canary-analysis analyses.
var (
	canaryStepTypes   = []string{contract.StepRollout, contract.StepRollback, contract.StepAnalysis}
	analysisStepTypes = []string{contract.StepAnalysis}
)

// authorized is what authorize found for a call.
type authorized struct {
	run  *workflowrun.Run
	step *workflowrun.PlannedStep
	// current: the recorded run is the one of the call's revision (not one
	// vela-core is starting and has not recorded yet).
	current bool
}

// authorize checks a call against the API server. A refusal is logged and
// returned as a RefusedError; a failed read is returned as it is (the step
// retries).
func (cl Clients) authorize(ctx context.Context, c stepCall) (authorized, error) {
	if cl.Workflows == nil {
		return authorized{}, errors.New("this provider was started without access to Applications")
	}
	a, err := cl.checkCall(ctx, c)
	return a, cl.refuse(ctx, Caller{Namespace: c.namespace, App: c.app}, c.step, err)
}

// refuse logs err when it is a refusal, and returns it.
func (cl Clients) refuse(ctx context.Context, c Caller, step string, err error) error {
	var refused *RefusedError
	if errors.As(err, &refused) {
		klog.FromContext(ctx).Info("refused a call", "application", klog.KRef(c.Namespace, c.App), "step", step, "reason", refused.msg)
	}
	return err
}

// stepCall is what a plan or scale call claims.
func (in *PlanParams) stepCall(types []string) stepCall {
	return stepCall{
		namespace: in.Namespace, app: in.App, step: in.Step, revision: in.Revision,
		components: []string{in.Component},
		rollouts:   map[string]RolloutSpec{in.Component: in.Rollout},
		stepTypes:  types,
	}
}

func (cl Clients) checkCall(ctx context.Context, c stepCall) (authorized, error) {
	if c.step == "" || c.revision == "" {
		return authorized{}, refusedf("step and revision: the step passes its context.stepName and context.appRevision; one is empty")
	}
	run, err := cl.Workflows.Get(ctx, c.namespace, c.app)
	if apierrors.IsNotFound(err) {
		return authorized{}, refusedf("application %s/%s does not exist", c.namespace, c.app)
	}
	if err != nil {
		return authorized{}, err
	}
	current, err := cl.checkRevision(ctx, run, c)
	if err != nil {
		return authorized{}, err
	}
	step := run.PlannedStep(c.step)
	if step == nil {
		return authorized{}, refusedf("application %s/%s has no workflow step %s", c.namespace, c.app, c.step)
	}
	if !slices.Contains(c.stepTypes, step.Type) {
		return authorized{}, refusedf("step %s of application %s/%s is a %s step; only %v steps make this call", c.step, c.namespace, c.app, step.Type, c.stepTypes)
	}
	if current && workflowrun.StepFinished(run.StepStatus(c.step)) {
		return authorized{}, refusedf("step %s of application %s/%s has finished", c.step, c.namespace, c.app)
	}
	// Whether the run has come to the step cannot be told: vela-core runs
	// several steps in one reconcile and records their phases at its end,
	// so a step running now may follow steps still recorded as running.
	named, err := stepComponents(step)
	if err != nil {
		return authorized{}, err
	}
	for _, comp := range c.components {
		if err := checkComponent(run, c, comp, named); err != nil {
			return authorized{}, err
		}
	}
	return authorized{run: run, step: step, current: current}, nil
}

// checkRevision: the run of the call's revision is in progress, or it is
// a run vela-core is starting and has not recorded yet (see
// workflowrun.Run.NewRunPending). It reports whether the recorded run is
// the revision's.
func (cl Clients) checkRevision(ctx context.Context, run *workflowrun.Run, c stepCall) (bool, error) {
	rev, found, current, err := cl.runOfRevision(ctx, run, c.namespace, c.revision)
	switch {
	case err != nil:
		return false, err
	case current && !run.Active():
		return false, refusedf("the workflow of application %s/%s for revision %s is not running", c.namespace, c.app, c.revision)
	case current:
		return true, nil
	case !found:
		return false, refusedf("revision %s is not a revision of application %s/%s", c.revision, c.namespace, c.app)
	case !run.NewRunPending(rev):
		return false, refusedf("revision %s of application %s/%s is not the one its workflow runs (%s), and no new run is starting", c.revision, c.namespace, c.app, run.Revision)
	}
	return false, nil
}

// runOfRevision tells whether the recorded run is that of the revision
// (context.appRevision), and finds the revision among the Application's.
// vela records a run under the Application's publishVersion when it has
// one, so the revision's own publishVersion is read then.
func (cl Clients) runOfRevision(ctx context.Context, run *workflowrun.Run, namespace, revision string) (rev workflowrun.Revision, found, current bool, err error) {
	if run.PublishVersion == "" && run.IsOf(revision) {
		return workflowrun.Revision{Name: revision}, true, true, nil
	}
	revisions, err := cl.Workflows.Revisions(ctx, namespace, run.App)
	if err != nil {
		return rev, false, false, err
	}
	for _, r := range revisions {
		if r.Name == revision {
			return r, true, run.IsOf(r.RunName()), nil
		}
	}
	return rev, false, false, nil
}

// stepComponents returns the step's components property when the spec
// writes it; nil when the step canaries every component with a rollout
// trait.
func stepComponents(step *workflowrun.PlannedStep) ([]string, error) {
	raw, ok := step.Properties["components"]
	if !ok {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, refusedf("step %s: components is not a list of names: %v", step.Name, err)
	}
	return names, nil
}

// checkComponent: the component has a rollout trait whose properties are
// the call's, and the step covers it.
func checkComponent(run *workflowrun.Run, c stepCall, comp string, named []string) error {
	spec := run.Component(comp)
	if spec == nil {
		return refusedf("application %s/%s has no component %s", c.namespace, c.app, comp)
	}
	raw, ok := spec.Trait(contract.TraitRollout)
	if !ok {
		return refusedf("component %s of application %s/%s has no rollout trait", comp, c.namespace, c.app)
	}
	if named != nil && !slices.Contains(named, comp) {
		return refusedf("step %s of application %s/%s does not canary component %s", c.step, c.namespace, c.app, comp)
	}
	got, ok := c.rollouts[comp]
	if !ok {
		return nil
	}
	var want RolloutSpec
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &want); err != nil {
			return refusedf("component %s of application %s/%s: rollout properties: %v", comp, c.namespace, c.app, err)
		}
	}
	if !sameJSON(got, want) {
		return refusedf("rollout: the call's rollout properties of component %s are not those of application %s/%s", comp, c.namespace, c.app)
	}
	return nil
}
