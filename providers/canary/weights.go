package canary

import (
	"strings"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// resolveWeights turns the step's weightedTargets into the weights of the
// stable and the canary version of one component. Targets that name another
// component of the step are left to that component; when every target names
// another one (a step canarying several components), matched is false and
// the component's traffic follows its instances.
func resolveWeights(component string, others []string, stable, canary string, targets []WeightedTarget) (stableW, canaryW int, matched bool, err error) {
	sum := 0
	n := 0
	for i, t := range targets {
		v, ok := resolveRevision(component, stable, canary, t.Revision)
		if !ok {
			if namesOther(component, others, t.Revision) {
				continue
			}
			return 0, 0, false, inputErrorf("traffic.weightedTargets[%d].revision: %q is not a version of component %s; use %s", i, t.Revision, component, revisionChoices(component, stable, canary))
		}
		if t.Weight < 0 || t.Weight > 100 {
			return 0, 0, false, inputErrorf("traffic.weightedTargets[%d].weight: %d is not between 0 and 100", i, t.Weight)
		}
		n++
		sum += t.Weight
		if v == canary {
			canaryW += t.Weight
		} else {
			stableW += t.Weight
		}
	}
	if n == 0 {
		if len(others) > 1 {
			return 0, 0, false, nil
		}
		return 0, 0, false, inputErrorf("traffic.weightedTargets: no target names a version of component %s; use %s", component, revisionChoices(component, stable, canary))
	}
	if sum != 100 {
		return 0, 0, false, inputErrorf("traffic.weightedTargets: the weights for component %s add up to %d; they must add up to 100", component, sum)
	}
	return stableW, canaryW, true, nil
}

// resolveRevision maps a revision name to a version: <component>-<version>,
// <version>, "stable" or "canary".
func resolveRevision(component, stable, canary, revision string) (string, bool) {
	switch revision {
	case "canary":
		return canary, true
	case "stable":
		return stable, stable != ""
	}
	for _, v := range []string{canary, stable} {
		if v != "" && (revision == v || revision == contract.DeploymentName(component, v)) {
			return v, true
		}
	}
	return "", false
}

func namesOther(component string, others []string, revision string) bool {
	for _, o := range others {
		if o != component && strings.HasPrefix(revision, o+"-") {
			return true
		}
	}
	return false
}

func revisionChoices(component, stable, canary string) string {
	var c []string
	if stable != "" {
		c = append(c, contract.DeploymentName(component, stable)+" (stable)")
	}
	c = append(c, contract.DeploymentName(component, canary)+" (canary)")
	if stable != "" {
		c = append(c, "stable")
	}
	c = append(c, "canary")
	return strings.Join(c, ", ")
}
