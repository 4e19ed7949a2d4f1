package status

import (
	"encoding/json"
	"fmt"

	wfv1alpha1 "github.com/kubevela/workflow/api/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ApplicationGVR is the resource of KubeVela Applications.
var ApplicationGVR = schema.GroupVersionResource{Group: "core.oam.dev", Version: "v1beta1", Resource: "applications"}

// RolloutTrait is the trait type that marks a component as canaried.
const RolloutTrait = "rollout"

// application is the part of a KubeVela Application the status reads.
type application struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Components []struct {
			Name   string `json:"name"`
			Type   string `json:"type"`
			Traits []struct {
				Type string `json:"type"`
			} `json:"traits"`
		} `json:"components"`
		Workflow *struct {
			Steps []plannedStep `json:"steps"`
		} `json:"workflow"`
	} `json:"spec"`
	Status struct {
		Phase          string `json:"status"`
		LatestRevision *struct {
			Name string `json:"name"`
		} `json:"latestRevision"`
		Workflow *appWorkflow `json:"workflow"`
	} `json:"status"`
}

// plannedStep is a step of spec.workflow.steps, or one of its subSteps.
type plannedStep struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		// Duration is read only from suspend steps: other step types may
		// have a duration property of any type.
		Duration json.RawMessage `json:"duration"`
	} `json:"properties"`
	SubSteps []plannedStep `json:"subSteps"`
}

// duration is a suspend step's properties.duration, "" for none.
func (p plannedStep) duration() string {
	var d string
	if p.Type != suspendStep || json.Unmarshal(p.Properties.Duration, &d) != nil {
		return ""
	}
	return d
}

// suspendStep is vela's builtin step type that suspends the workflow.
const suspendStep = "suspend"

// appWorkflow mirrors status.workflow of an Application (kubevela common.WorkflowStatus).
type appWorkflow struct {
	Phase      string                          `json:"status"`
	Message    string                          `json:"message"`
	Suspend    bool                            `json:"suspend"`
	Terminated bool                            `json:"terminated"`
	Finished   bool                            `json:"finished"`
	Steps      []wfv1alpha1.WorkflowStepStatus `json:"steps"`
}

func decodeApplication(u *unstructured.Unstructured) (*application, error) {
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return nil, fmt.Errorf("application %s/%s: encode: %w", u.GetNamespace(), u.GetName(), err)
	}
	var app application
	if err := json.Unmarshal(raw, &app); err != nil {
		return nil, fmt.Errorf("application %s/%s: decode: %w", u.GetNamespace(), u.GetName(), err)
	}
	return &app, nil
}

func (a *application) latestRevision() string {
	if a.Status.LatestRevision == nil {
		return ""
	}
	return a.Status.LatestRevision.Name
}

// workflow merges the planned steps (spec.workflow.steps) with their status.
func (a *application) workflow() Workflow {
	w := Workflow{Current: -1}
	var statusSteps []wfv1alpha1.WorkflowStepStatus
	if s := a.Status.Workflow; s != nil {
		w.Phase, w.Message = s.Phase, s.Message
		w.Suspended, w.Terminated, w.Finished = s.Suspend, s.Terminated, s.Finished
		statusSteps = s.Steps
	}
	byName := make(map[string]wfv1alpha1.WorkflowStepStatus, len(statusSteps))
	for _, st := range statusSteps {
		byName[st.Name] = st
	}
	if a.Spec.Workflow != nil && len(a.Spec.Workflow.Steps) > 0 {
		for _, planned := range a.Spec.Workflow.Steps {
			st, ok := byName[planned.Name]
			step := merged(planned, st.StepStatus, ok)
			subs := make(map[string]wfv1alpha1.StepStatus, len(st.SubStepsStatus))
			for _, ss := range st.SubStepsStatus {
				subs[ss.Name] = ss
			}
			for _, p := range planned.SubSteps {
				ss, ok := subs[p.Name]
				step.SubSteps = append(step.SubSteps, merged(p, ss, ok))
			}
			w.Steps = append(w.Steps, step)
		}
	} else {
		for _, st := range statusSteps {
			step := stepFrom(st.StepStatus)
			for _, ss := range st.SubStepsStatus {
				step.SubSteps = append(step.SubSteps, stepFrom(ss))
			}
			w.Steps = append(w.Steps, step)
		}
	}
	w.Current = currentStep(w.Steps)
	return w
}

// merged is a planned step with its status, pending when it has none.
func merged(planned plannedStep, st wfv1alpha1.StepStatus, started bool) Step {
	step := Step{Name: planned.Name, Type: planned.Type, Phase: string(wfv1alpha1.WorkflowStepPhasePending)}
	if started {
		step = stepFrom(st)
		if step.Type == "" {
			step.Type = planned.Type
		}
	}
	step.Duration = planned.duration()
	return step
}

func stepFrom(st wfv1alpha1.StepStatus) Step {
	return Step{Name: st.Name, Type: st.Type, Phase: string(st.Phase), Message: st.Message, Reason: st.Reason,
		Started: st.FirstExecuteTime.Time}
}

// currentStep is the first step that has not succeeded or been skipped, else the last.
func currentStep(steps []Step) int {
	for i, s := range steps {
		switch wfv1alpha1.WorkflowStepPhase(s.Phase) {
		case wfv1alpha1.WorkflowStepPhaseSucceeded, wfv1alpha1.WorkflowStepPhaseSkipped:
			continue
		}
		return i
	}
	return len(steps) - 1
}
