package canary

import (
	"fmt"
	"time"
)

// batchReplicas returns how many instances the new version has once the
// batches up to and including partition have rolled, checking the step's
// batchPartition against the component's rollout trait. Plan has checked
// that targetSize is positive.
func batchReplicas(component string, spec RolloutSpec, partition *int) (int, error) {
	batches := spec.RolloutBatches
	if len(batches) == 0 {
		batches = []Batch{{Replicas: spec.TargetSize}}
	}
	sum := 0
	for i, b := range batches {
		if b.Replicas < 1 {
			return 0, inputErrorf("component %s: rollout.rolloutBatches[%d].replicas is %d; it must be at least 1", component, i, b.Replicas)
		}
		sum += b.Replicas
	}
	if sum != spec.TargetSize {
		return 0, inputErrorf("component %s: rollout.rolloutBatches add up to %d instances but targetSize is %d; make them equal", component, sum, spec.TargetSize)
	}
	last := len(batches) - 1
	if partition != nil {
		if *partition < 0 || *partition > last {
			return 0, inputErrorf("batchPartition: %d is out of range for component %s, whose rollout trait has %s; use %s", *partition, component, plural(len(batches), "batch", "batches"), rangeText(last))
		}
		last = *partition
	}
	n := 0
	for _, b := range batches[:last+1] {
		n += b.Replicas
	}
	return n, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func rangeText(last int) string {
	if last == 0 {
		return "0"
	}
	return fmt.Sprintf("0 to %d", last)
}

// scaleDownDelay is the rollout trait's scaleDownDelay; 0 when not given.
func (s RolloutSpec) scaleDownDelay(component string) (time.Duration, error) {
	if s.ScaleDownDelay == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s.ScaleDownDelay)
	switch {
	case err != nil:
		return 0, inputErrorf("component %s: rollout.scaleDownDelay: %q is not a duration; use a number with a unit, such as 30s, 5m or 1h30m", component, s.ScaleDownDelay)
	case d < 0:
		return 0, inputErrorf("component %s: rollout.scaleDownDelay: %q is negative; use 0 or more, such as 30s", component, s.ScaleDownDelay)
	}
	return d, nil
}
