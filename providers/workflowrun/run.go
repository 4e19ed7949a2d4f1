// Package workflowrun reads and acts on the workflow run of a KubeVela
// Application the way the canary machinery needs it: which run is current,
// whether a human or an analysis asked to abort it, and the two writes that
// abort takes (an annotation naming the run, and resuming a suspended
// workflow so that its next canary step can roll back). `istio-canary abort`
// and the provider's analysis use this one mechanism.
package workflowrun

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	wfv1alpha1 "github.com/kubevela/workflow/api/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// ApplicationGVR is the resource of KubeVela Applications.
var ApplicationGVR = schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "applications"}

// ApplicationRevisionGVR is the resource of their revisions.
var ApplicationRevisionGVR = schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "applicationrevisions"}

// Run is an Application's current workflow run.
type Run struct {
	Namespace string
	App       string
	UID       string
	// ID is contract.RunID of the run; empty before the workflow started.
	ID       string
	Revision string
	// Phase is status.workflow.status: executing, suspending, succeeded,
	// failed, terminated, ...
	Phase      string
	Suspended  bool
	Finished   bool
	Terminated bool
	// AbortRequested is true when the abort annotation names this run.
	AbortRequested bool
	AbortReason    string
	Steps          []wfv1alpha1.WorkflowStepStatus
	// Planned are the steps of the Application's workflow, in order.
	Planned []PlannedStep
	// Components are the Application's spec.components.
	Components []Component
	// PublishVersion is the Application's app.oam.dev/publishVersion: with
	// one, vela records the run under it instead of the revision's name.
	PublishVersion string
	// Generation and ObservedGeneration are the Application's
	// metadata.generation and the one vela-core last recorded a status for.
	Generation, ObservedGeneration int64
	// LatestRevision is status.latestRevision.name.
	LatestRevision string
}

// NewRunPending reports whether vela-core may be running the first steps
// of a run of rev that it has not recorded yet (it writes the workflow's
// status at the end of a reconcile): with a publishVersion, when the
// Application's is rev's and not the recorded run's. Without, when rev is
// a revision vela-core has just made (it records it as the latest before
// it runs the workflow), or while the spec is newer than what vela-core
// last recorded (a spec that comes back to an earlier revision reuses it
// and records nothing before the workflow).
func (r *Run) NewRunPending(rev Revision) bool {
	if r.PublishVersion != "" {
		return rev.PublishVersion == r.PublishVersion && !r.IsOf(r.PublishVersion)
	}
	return rev.Name == r.LatestRevision || r.Generation > r.ObservedGeneration
}

// Revision is an ApplicationRevision of an Application.
type Revision struct {
	// Name is <app>-v<N>, what a step sees as context.appRevision.
	Name string
	// PublishVersion is the publishVersion the revision was made for, if any.
	PublishVersion string
}

// RunName is the name vela records a run of this revision under, in
// status.workflow.appRevision: its publishVersion, else its name.
func (r Revision) RunName() string {
	if r.PublishVersion != "" {
		return r.PublishVersion
	}
	return r.Name
}

// IsOf reports whether the run is the one vela records under runName (a
// Revision's RunName), allowing for what vela may add to it: a legacy
// ":<hash>", or "-vf-<hash>" when the Application reads values from
// ConfigMaps or Secrets.
func (r *Run) IsOf(runName string) bool {
	rev := r.Revision
	return rev == runName || strings.HasPrefix(rev, runName+":") ||
		(strings.HasPrefix(rev, runName) && valuesFromSuffix.MatchString(rev[len(runName):]))
}

var valuesFromSuffix = regexp.MustCompile(`^-vf-[0-9a-f]{32}$`)

// PlannedStep is a step of the Application's spec.workflow.
type PlannedStep struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Properties are the step's properties as the spec writes them; Inputs
	// tells whether some of them come from other steps' outputs instead.
	Properties map[string]json.RawMessage `json:"properties,omitempty"`
	Inputs     []json.RawMessage          `json:"inputs,omitempty"`
	SubSteps   []PlannedStep              `json:"subSteps,omitempty"`
}

// Component is a component of the Application's spec.
type Component struct {
	Name   string  `json:"name"`
	Traits []Trait `json:"traits,omitempty"`
}

// Trait is a trait of a component, its properties as the spec writes them.
type Trait struct {
	Type       string          `json:"type"`
	Properties json.RawMessage `json:"properties,omitempty"`
}

// Trait returns the properties of the component's trait of type t, and
// whether it has one.
func (c Component) Trait(t string) (json.RawMessage, bool) {
	for _, tr := range c.Traits {
		if tr.Type == t {
			return tr.Properties, true
		}
	}
	return nil, false
}

// Component returns the spec of the Application's component name, or nil.
func (r *Run) Component(name string) *Component {
	for i := range r.Components {
		if r.Components[i].Name == name {
			return &r.Components[i]
		}
	}
	return nil
}

// PlannedStep returns the step (or sub-step) of the Application's workflow
// named name, or nil.
func (r *Run) PlannedStep(name string) *PlannedStep {
	var find func(steps []PlannedStep) *PlannedStep
	find = func(steps []PlannedStep) *PlannedStep {
		for i := range steps {
			if steps[i].Name == name {
				return &steps[i]
			}
			if s := find(steps[i].SubSteps); s != nil {
				return s
			}
		}
		return nil
	}
	return find(r.Planned)
}

// StepStatus returns the status of the run's step (or sub-step) name; the
// zero status when the run has not reached it.
func (r *Run) StepStatus(name string) wfv1alpha1.StepStatus {
	for _, s := range r.Steps {
		if s.Name == name {
			return s.StepStatus
		}
		for _, sub := range s.SubStepsStatus {
			if sub.Name == name {
				return sub
			}
		}
	}
	return wfv1alpha1.StepStatus{}
}

// CanaryStepAhead reports whether a step that rolls back on abort
// (contract.RollsBackOnAbort) is still to run, or running.
func (r *Run) CanaryStepAhead() bool {
	phase := map[string]wfv1alpha1.StepStatus{}
	for _, s := range r.Steps {
		phase[s.Name] = s.StepStatus
		for _, sub := range s.SubStepsStatus {
			phase[sub.Name] = sub
		}
	}
	var ahead func(steps []PlannedStep) bool
	ahead = func(steps []PlannedStep) bool {
		for _, p := range steps {
			if StepFinished(phase[p.Name]) {
				continue
			}
			if contract.RollsBackOnAbort(p.Type) || ahead(p.SubSteps) {
				return true
			}
		}
		return false
	}
	return ahead(r.Planned)
}

// Active reports whether the run may still move: it has started and has
// neither finished nor been terminated.
func (r *Run) Active() bool {
	return r.ID != "" && !r.Finished && !r.Terminated
}

// application is the part of an Application this package reads.
type application struct {
	Metadata struct {
		UID         string            `json:"uid"`
		Generation  int64             `json:"generation"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Components []Component `json:"components"`
		Workflow   *struct {
			Steps []PlannedStep `json:"steps"`
		} `json:"workflow"`
	} `json:"spec"`
	Status struct {
		ObservedGeneration int64 `json:"observedGeneration"`
		LatestRevision     *struct {
			Name string `json:"name"`
		} `json:"latestRevision"`
		Workflow *struct {
			AppRevision string                          `json:"appRevision"`
			Phase       string                          `json:"status"`
			Suspend     bool                            `json:"suspend"`
			Terminated  bool                            `json:"terminated"`
			Finished    bool                            `json:"finished"`
			StartTime   time.Time                       `json:"startTime"`
			Steps       []wfv1alpha1.WorkflowStepStatus `json:"steps"`
		} `json:"workflow"`
	} `json:"status"`
}

// FromObject reads the run of an Application object.
func FromObject(u *unstructured.Unstructured) (*Run, error) {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return nil, fmt.Errorf("application %s/%s: encode: %w", u.GetNamespace(), u.GetName(), err)
	}
	var a application
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("application %s/%s: decode: %w", u.GetNamespace(), u.GetName(), err)
	}
	r := &Run{Namespace: u.GetNamespace(), App: u.GetName(), UID: a.Metadata.UID, Components: a.Spec.Components,
		PublishVersion: a.Metadata.Annotations[contract.AnnotationPublishVersion],
		Generation:     a.Metadata.Generation, ObservedGeneration: a.Status.ObservedGeneration}
	if a.Status.LatestRevision != nil {
		r.LatestRevision = a.Status.LatestRevision.Name
	}
	if a.Spec.Workflow != nil {
		r.Planned = a.Spec.Workflow.Steps
	}
	w := a.Status.Workflow
	if w == nil || w.StartTime.IsZero() {
		return r, nil
	}
	r.ID = contract.RunID(w.AppRevision, w.StartTime)
	r.Revision = w.AppRevision
	r.Phase = w.Phase
	r.Suspended = w.Suspend
	r.Finished = w.Finished
	r.Terminated = w.Terminated
	r.Steps = w.Steps
	if a.Metadata.Annotations[contract.AnnotationAbort] == r.ID {
		r.AbortRequested = true
		r.AbortReason = a.Metadata.Annotations[contract.AnnotationAbortReason]
	}
	return r, nil
}

// SuspendedStep is the name of the step the run waits on, or "".
func (r *Run) SuspendedStep() string {
	for _, s := range r.Steps {
		if s.Phase == wfv1alpha1.WorkflowStepPhaseSuspending {
			return s.Name
		}
		for _, sub := range s.SubStepsStatus {
			if sub.Phase == wfv1alpha1.WorkflowStepPhaseSuspending {
				return sub.Name
			}
		}
	}
	return ""
}

// resumeSteps does to the steps what `vela workflow resume` does: every
// suspending step (and sub-step) runs again, and so do the unfinished
// sub-steps of a suspending step group, as vela's OperateSteps has it; a
// suspend step that runs again after a resume ends.
func resumeSteps(steps []wfv1alpha1.WorkflowStepStatus) {
	for i := range steps {
		if steps[i].Phase == wfv1alpha1.WorkflowStepPhaseSuspending {
			steps[i].Phase = wfv1alpha1.WorkflowStepPhaseRunning
			for j := range steps[i].SubStepsStatus {
				if !StepFinished(steps[i].SubStepsStatus[j]) {
					steps[i].SubStepsStatus[j].Phase = wfv1alpha1.WorkflowStepPhaseRunning
				}
			}
			continue
		}
		for j := range steps[i].SubStepsStatus {
			if steps[i].SubStepsStatus[j].Phase == wfv1alpha1.WorkflowStepPhaseSuspending {
				steps[i].SubStepsStatus[j].Phase = wfv1alpha1.WorkflowStepPhaseRunning
			}
		}
	}
}

// StepFinished is vela's IsStepFinish with its default feature gates: a
// step failed for any reason but "Execute" (which vela retries) is done.
func StepFinished(s wfv1alpha1.StepStatus) bool {
	switch s.Phase {
	case wfv1alpha1.WorkflowStepPhaseSucceeded, wfv1alpha1.WorkflowStepPhaseSkipped:
		return true
	case wfv1alpha1.WorkflowStepPhaseFailed:
		return s.Reason != "" && s.Reason != "Execute"
	}
	return false
}
