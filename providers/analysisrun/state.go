// Package analysisrun runs the analyses of canary-analysis steps: it keeps
// them in a ConfigMap per Application (so that they survive the provider's
// restarts and any of its replicas can go on with them), measures each
// metric when it is due from a loop of its own (a step waiting on vela's
// backoff would measure up to a minute late), and acts on a verdict through
// the Application's workflow run: a failed analysis aborts the run, any
// other verdict wakes the waiting step at once.
package analysisrun

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/analysis"
)

// State is what the provider keeps of one Application's analyses: those of
// its current workflow run only.
type State struct {
	// RunID is the workflow run the analyses belong to (contract.RunID).
	RunID    string     `json:"runID"`
	Analyses []Analysis `json:"analyses"`
}

// Analysis is one canary-analysis step's analysis.
type Analysis struct {
	Step string `json:"step"`
	// Session is the step's session ID: a restarted workflow runs the step
	// again under a new one.
	Session string `json:"session"`
	// Background analyses go on while the workflow runs the next steps.
	Background bool          `json:"background,omitempty"`
	Spec       analysis.Spec `json:"spec"`
	Targets    []Target      `json:"targets"`
	// Outcome is the last decision over all targets.
	Outcome analysis.Outcome `json:"outcome"`
	// Acted is true once the verdict in Outcome was acted on (the run
	// aborted, or the waiting step woken).
	Acted bool `json:"acted,omitempty"`
}

// Target is one component under analysis and its measurements.
type Target struct {
	Component string       `json:"component"`
	Canary    string       `json:"canary"`
	Stable    string       `json:"stable"`
	Run       analysis.Run `json:"run"`
}

// Find returns the analysis of a step session, or nil.
func (s *State) Find(session string) *Analysis {
	for i := range s.Analyses {
		if s.Analyses[i].Session == session {
			return &s.Analyses[i]
		}
	}
	return nil
}

// Done reports whether the analysis has a verdict.
func (a *Analysis) Done() bool {
	return a.Outcome.Phase != "" && a.Outcome.Phase != analysis.PhaseRunning
}

// Decode reads the state a ConfigMap holds; a ConfigMap without it holds
// an empty state.
func Decode(cm *corev1.ConfigMap) (State, error) {
	var s State
	raw, ok := cm.Data[contract.AnalysisStateKey]
	if !ok || raw == "" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return s, fmt.Errorf("configmap %s/%s: decode %s: %w", cm.Namespace, cm.Name, contract.AnalysisStateKey, err)
	}
	return s, nil
}

// encode writes the state into a ConfigMap's data.
func encode(s State, cm *corev1.ConfigMap) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("configmap %s/%s: encode %s: %w", cm.Namespace, cm.Name, contract.AnalysisStateKey, err)
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[contract.AnalysisStateKey] = string(raw)
	return nil
}
