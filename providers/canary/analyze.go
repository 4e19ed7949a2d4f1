package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/analysis"
	"github.com/istio-canary/istio-canary/providers/analysisrun"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// AnalyzeParams is the input of the analyze function: one canary-analysis
// step's analysis of the components it names.
type AnalyzeParams struct {
	Namespace string `json:"namespace"`
	App       string `json:"app"`
	// Step and Session identify the step's run (context.stepName and
	// context.stepSessionID): a call on every reconcile finds its analysis.
	Step    string `json:"step"`
	Session string `json:"session"`
	// Revision is context.appRevision (see PlanParams.Revision).
	Revision string `json:"revision"`
	// Background analyses go on while the workflow runs the next steps.
	Background bool             `json:"background,omitempty"`
	Analysis   analysis.Spec    `json:"analysis"`
	Targets    []AnalysisTarget `json:"targets"`
}

// AnalysisTarget is a component to analyse, as the step renders it: the
// provider tells its stable and canary versions by the rule Plan uses.
type AnalysisTarget struct {
	Component string         `json:"component"`
	Workload  map[string]any `json:"workload"`
	Rollout   RolloutSpec    `json:"rollout"`
	Traffic   *TrafficSpec   `json:"traffic,omitempty"`
}

// AnalyzeResult is the output of the analyze function.
type AnalyzeResult struct {
	// Phase is Running, Successful, Failed or Inconclusive.
	Phase   string `json:"phase"`
	Message string `json:"message"`
	// Rollback is true when the step must roll its components back: the
	// analysis failed, or the workflow run was aborted.
	Rollback bool `json:"rollback"`
}

// Analysis is what the analyze function needs besides the cluster clients.
type Analysis struct {
	Engine *analysisrun.Engine
	Runs   interface {
		Get(ctx context.Context, namespace, app string) (*workflowrun.Run, error)
	}
	// DefaultPrometheus is the address used when a step gives none (the
	// addon's prometheusAddress parameter).
	DefaultPrometheus string
}

// Analyze starts or continues the analysis of a canary-analysis step and
// answers where it stands. Bad properties are an InputError, before
// anything is read or written.
func (cl Clients) Analyze(ctx context.Context, in *AnalyzeParams) (*AnalyzeResult, error) {
	if cl.Analysis == nil || cl.Analysis.Engine == nil || cl.Analysis.Runs == nil {
		return nil, errors.New("this provider was started without analysis support")
	}
	spec, err := in.validate(cl.Analysis.DefaultPrometheus)
	if err != nil {
		return nil, err
	}
	if err := cl.authorizeAnalysis(ctx, in); err != nil {
		return nil, err
	}
	run, err := cl.Analysis.Runs.Get(ctx, in.Namespace, in.App)
	if err != nil {
		return nil, err
	}
	if run.AbortRequested {
		// The run's abort may be this very analysis' failure: then its
		// own words say it best.
		msg := "aborted: " + run.AbortReason
		if a, err := cl.Analysis.Engine.Find(ctx, run, in.Session); err == nil && a != nil && a.Outcome.Phase == analysis.PhaseFailed {
			msg = analysisrun.AbortReason(a)
		}
		return &AnalyzeResult{Phase: string(analysis.PhaseFailed), Rollback: true, Message: msg}, nil
	}
	if run.ID == "" {
		return nil, fmt.Errorf("application %s/%s: its workflow has not started yet", in.Namespace, in.App)
	}
	var targets []analysisrun.Target
	var idle []string
	for _, t := range in.Targets {
		roles, err := cl.roles(ctx, in, t)
		if err != nil {
			return nil, err
		}
		if roles.Stable == "" || roles.Canary == "" || roles.Stable == roles.Canary {
			idle = append(idle, t.Component)
			continue
		}
		targets = append(targets, analysisrun.Target{Component: t.Component, Canary: roles.Canary, Stable: roles.Stable})
	}
	if len(targets) == 0 {
		return &AnalyzeResult{Phase: string(analysis.PhaseSuccessful),
			Message: fmt.Sprintf("nothing to analyse: %s run(s) one version, no canary", strings.Join(idle, ", "))}, nil
	}
	a, err := cl.Analysis.Engine.Start(ctx, run, analysisrun.Analysis{
		Step: in.Step, Session: in.Session, Background: in.Background, Spec: spec, Targets: targets,
	})
	if errors.Is(err, analysisrun.ErrConflict) {
		// The loop (or another replica) wrote first: answer from what it
		// kept rather than make the step wait on a passing conflict.
		if kept, ferr := cl.Analysis.Engine.Find(ctx, run, in.Session); ferr == nil && kept != nil {
			a, err = kept, nil
		}
	}
	var badQuery *analysisrun.BadQueryError
	if errors.Is(err, analysisrun.ErrNotOwned) || errors.As(err, &badQuery) {
		return nil, &InputError{msg: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	res := &AnalyzeResult{Phase: string(a.Outcome.Phase), Message: a.Outcome.Message}
	switch a.Outcome.Phase {
	case analysis.PhaseFailed:
		res.Rollback = true
		res.Message = analysisrun.AbortReason(a)
	case analysis.PhaseRunning:
		res.Message = fmt.Sprintf("analysing; next measurement at %s: %s", a.Outcome.Next.UTC().Format("15:04:05"), a.Outcome.Message)
		if in.Background {
			res.Message = "analysis goes on in the background; " + res.Message
		}
	}
	return res, nil
}

// validate checks the call and the analysis' properties; it returns the
// spec with the default Prometheus address filled in.
func (in *AnalyzeParams) validate(defaultPrometheus string) (analysis.Spec, error) {
	for _, f := range []struct{ field, value string }{{"namespace", in.Namespace}, {"app", in.App}} {
		if !dnsLabel.MatchString(f.value) {
			return analysis.Spec{}, inputErrorf("%s: %q is not a valid name", f.field, f.value)
		}
	}
	if in.Step == "" || in.Session == "" {
		return analysis.Spec{}, inputErrorf("step and session: the step passes its context.stepName and context.stepSessionID; both are empty")
	}
	if len(in.Targets) == 0 {
		return analysis.Spec{}, inputErrorf("components: no component to analyse")
	}
	spec := in.Analysis
	if spec.Prometheus.Address == "" {
		spec.Prometheus.Address = defaultPrometheus
	}
	if spec.Prometheus.Address == "" {
		return analysis.Spec{}, inputErrorf("prometheus: no Prometheus address; give the step's prometheus property, or enable the addon with prometheusAddress=<url>")
	}
	if err := analysis.ValidateSpec(spec); err != nil {
		return analysis.Spec{}, &InputError{msg: strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	for _, t := range in.Targets {
		if !dnsLabel.MatchString(t.Component) {
			return analysis.Spec{}, inputErrorf("components: %q is not a valid component name", t.Component)
		}
	}
	return spec, nil
}

// roles tells a target's stable and canary versions as Plan would.
func (cl Clients) roles(ctx context.Context, in *AnalyzeParams, t AnalysisTarget) (contract.Roles, error) {
	o, _, err := cl.observe(ctx, &PlanParams{
		Caller:   Caller{Namespace: in.Namespace, App: in.App, Component: t.Component},
		Action:   ActionRollout,
		Workload: t.Workload,
		Rollout:  t.Rollout,
		Traffic:  t.Traffic,
	})
	if err != nil {
		return contract.Roles{}, err
	}
	return o.roles, nil
}

// authorizeAnalysis checks the call as authorize does, and that the
// Prometheus it would query is the one the Application's step names (or the
// provider's default when it names none): the provider queries no address
// a call made up.
func (cl Clients) authorizeAnalysis(ctx context.Context, in *AnalyzeParams) error {
	c := stepCall{namespace: in.Namespace, app: in.App, step: in.Step, revision: in.Revision,
		rollouts: map[string]RolloutSpec{}, stepTypes: analysisStepTypes}
	for _, t := range in.Targets {
		c.components = append(c.components, t.Component)
		c.rollouts[t.Component] = t.Rollout
	}
	a, err := cl.authorize(ctx, c)
	if err != nil || len(a.step.Inputs) > 0 {
		return err
	}
	step := a.step
	var named string
	if raw, ok := step.Properties["prometheus"]; ok {
		if err := json.Unmarshal(raw, &named); err != nil {
			return cl.refuse(ctx, Caller{Namespace: in.Namespace, App: in.App}, in.Step, refusedf("step %s: prometheus is not a URL: %v", in.Step, err))
		}
	}
	if in.Analysis.Prometheus.Address != named {
		return cl.refuse(ctx, Caller{Namespace: in.Namespace, App: in.App}, in.Step,
			refusedf("prometheus: the call's address %q is not the one application's step %s gives (%q)", in.Analysis.Prometheus.Address, in.Step, named))
	}
	return nil
}
