package canary

import (
	"bytes"
	"encoding/json"

	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// checkStepProperties: the step properties that decide how many instances
// each version gets (batchPartition, traffic.weightedTargets) are the ones
// the Application's spec gives the step. A step that takes inputs from
// other steps may get them at run time, so its properties are not checked.
func checkStepProperties(step *workflowrun.PlannedStep, in *PlanParams) error {
	if len(step.Inputs) > 0 {
		return nil
	}
	var spec struct {
		BatchPartition *int `json:"batchPartition"`
		Traffic        struct {
			WeightedTargets []WeightedTarget `json:"weightedTargets"`
		} `json:"traffic"`
	}
	props, err := json.Marshal(step.Properties)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(props, &spec); err != nil {
		return refusedf("step %s: its properties in the Application do not fit canary-rollout's: %v", step.Name, err)
	}
	if !sameJSON(spec.BatchPartition, in.BatchPartition) {
		return refusedf("batchPartition: the call's is not the one application's step %s gives", step.Name)
	}
	if !sameJSON(nilIfEmpty(spec.Traffic.WeightedTargets), nilIfEmpty(in.WeightedTargets)) {
		return refusedf("traffic.weightedTargets: the call's are not the ones application's step %s gives", step.Name)
	}
	return nil
}

func nilIfEmpty(t []WeightedTarget) []WeightedTarget {
	if len(t) == 0 {
		return nil
	}
	return t
}

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
