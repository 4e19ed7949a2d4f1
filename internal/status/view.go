// Package status builds and renders the state of a KubeVela Application whose
// workflow canaries components with Istio traffic splitting.
//
// The flow is: collect objects (Snapshot, from clients or informer caches) ->
// Build a plain View -> Render it as text. Nothing here keeps global state.
package status

import (
	"time"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// Role of a version inside a canaried component.
type Role string

// Roles of versions.
const (
	RoleStable Role = "stable"
	RoleCanary Role = "canary"
	RoleOther  Role = "other"
)

// ActionKind classifies the next action for the human.
type ActionKind string

// Kinds of next actions.
const (
	ActionNone       ActionKind = "none"        // the application does not exist (yet)
	ActionWaiting    ActionKind = "waiting"     // the workflow has not started or reported yet
	ActionRollingOut ActionKind = "rolling-out" // a step is running, nothing to do but wait
	ActionSuspended  ActionKind = "suspended"   // the workflow waits for `vela workflow resume`
	ActionFailed     ActionKind = "failed"      // a step failed; the human must fix or roll back
	ActionTerminated ActionKind = "terminated"  // the workflow was terminated by hand
	ActionUnhealthy  ActionKind = "unhealthy"   // workflow done but some instances are not ready
	ActionDone       ActionKind = "done"        // workflow finished and everything is ready
	ActionPausing    ActionKind = "pausing"     // a timed suspend step resumes by itself
	ActionDecide     ActionKind = "decide"      // an inconclusive analysis waits for a human
	ActionAborting   ActionKind = "aborting"    // the run was aborted; its canary steps roll back
	ActionAborted    ActionKind = "aborted"     // the aborted run has ended
)

// View is everything the status command shows, as plain data.
type View struct {
	App       string
	Namespace string
	// Found is false when the Application does not exist.
	Found bool
	// Phase is the Application's status.status (running, workflowSuspending, ...).
	Phase string
	// LatestRevision is status.latestRevision.name.
	LatestRevision string
	// PublishVersion is the Application's app.oam.dev/publishVersion
	// annotation, which `vela workflow rollback` needs.
	PublishVersion string
	Workflow       Workflow
	// Canaried lists the components with a trait of type rollout, in spec order.
	Canaried []Component
	// Others lists the remaining components, in spec order.
	Others []Plain
	// Abort is set when the current run was asked to abort.
	Abort *Abort
	// Pause is set while the workflow waits at a suspend step with a duration.
	Pause *Pause
	// Analyses are the current run's, as the provider keeps them.
	Analyses []Analysis
	// AnalysisProblem says why the analyses could not be read ("" when they could).
	AnalysisProblem string
	Next            Action
}

// Abort is an abort of the current run (`istio-canary abort`, or a failed
// analysis): the run's canary steps roll back.
type Abort struct {
	Reason string
	// Done: the run has ended, or every canaried component is rolled back.
	Done bool
}

// Pause is a timed `suspend` step (properties.duration) that vela resumes
// by itself at Until.
type Pause struct {
	Step  string
	Until time.Time
	// Left is the time to Until from the snapshot's time, in whole seconds
	// rounded up; 0 once Until has passed.
	Left time.Duration
}

// Workflow is the Application's status.workflow plus the planned steps.
type Workflow struct {
	// Phase is status.workflow.status (executing, suspending, succeeded, failed, terminated).
	Phase      string
	Message    string
	Suspended  bool
	Terminated bool
	Finished   bool
	// RunID is the run's contract.RunID, "" before the workflow started.
	RunID string
	// Steps lists the steps in spec order when the Application names them (those not
	// started yet have phase pending), else the steps in status.workflow.steps.
	Steps []Step
	// Current indexes Steps: the step running now (first step that has not succeeded
	// or been skipped), else the last step. -1 when there are no steps.
	Current int
}

// Step is one workflow step.
type Step struct {
	Name    string
	Type    string
	Phase   string
	Message string
	Reason  string
	// SubSteps are the steps of a step-group, merged like the steps.
	SubSteps []Step
	// Duration is the properties.duration of a suspend step ("" for none).
	Duration string
	// Started is the step's firstExecuteTime (zero before it ran).
	Started time.Time
}

// Component is a canaried component: its versions and traffic split.
type Component struct {
	Name string
	// Phase is the VirtualService annotation canary.oam.dev/phase, if any.
	Phase string
	// Stable and Canary are version names ("" when there is none).
	Stable string
	Canary string
	// RoleSource says how the roles were decided: annotations, single, appRevision, traffic.
	RoleSource string
	// Decision is the roles rule's answer (contract.DecideRoles), which
	// Stable and Canary show; the provider asks the same rule.
	Decision contract.Roles
	// Versions: stable first, then canary, then any others by name.
	Versions []Version
	// VirtualService is the name of the VirtualService read ("" when there is none).
	VirtualService string
	// Routes are the destinations of the VirtualService's route that the
	// steps own (contract.OurRoute), in order.
	Routes []Route
	// Matches are the requests sent to one version whatever Routes say;
	// nil when the VirtualService has no match route.
	Matches *Matches
	// Mirror is the share of Routes' requests also copied to a version;
	// nil when they are not mirrored.
	Mirror *Mirror
	// CompletedAt is when the steps moved all the traffic to the canary, as
	// recorded for a rollout trait with a scaleDownDelay; zero otherwise.
	CompletedAt time.Time
}

// Version is one version of a canaried component.
type Version struct {
	Name string
	Role Role
	// Deployment is the Deployment's name ("" when no Deployment of this version exists).
	Deployment string
	Ready      int32
	Desired    int32
	// Weight is the percentage of traffic the VirtualService sends to this version.
	Weight int32
}

// Route is one weighted destination of the VirtualService.
type Route struct {
	// Subset is destination.subset ("" when the route has no subset).
	Subset string
	Weight int32
}

// Plain is a component that is not canaried.
type Plain struct {
	Name        string
	Deployments []string
	Ready       int32
	Desired     int32
}

// Action is the next action for the human.
type Action struct {
	Kind ActionKind
	Text string
}

// Component returns the canaried component with the given name, or nil.
func (v *View) Component(name string) *Component {
	for i := range v.Canaried {
		if v.Canaried[i].Name == name {
			return &v.Canaried[i]
		}
	}
	return nil
}

// CurrentStep returns the step running now, or nil.
func (w *Workflow) CurrentStep() *Step {
	if w.Current < 0 || w.Current >= len(w.Steps) {
		return nil
	}
	return &w.Steps[w.Current]
}

// Active reports whether the run may still move: it has started and has
// neither finished nor ended in failure or termination.
func (w *Workflow) Active() bool {
	switch w.Phase {
	case "succeeded", "failed", "terminated":
		return false
	}
	return w.RunID != "" && !w.Finished && !w.Terminated
}

// Version returns the version with the given name, or nil.
func (c *Component) Version(name string) *Version {
	for i := range c.Versions {
		if c.Versions[i].Name == name {
			return &c.Versions[i]
		}
	}
	return nil
}
