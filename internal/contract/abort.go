package contract

import "time"

// Aborting a canary: `istio-canary abort` and a failing analysis both write
// these annotations on the Application, and the canary steps of that
// workflow run roll back when they see them. The value of AnnotationAbort is
// the RunID it aborts, so that the next release (or a restart of the same
// one) is not aborted by a stale request.
const (
	AnnotationAbort       = "canary.oam.dev/abort"
	AnnotationAbortReason = "canary.oam.dev/abort-reason"
	// AnnotationAnalysis is written by the provider when an analysis reaches
	// a verdict, so that vela-core runs the waiting step at once instead of
	// after its backoff (up to a minute). Its value says which and what.
	AnnotationAnalysis = "canary.oam.dev/analysis"
)

// RunID names one run of an Application's workflow: the revision it runs
// and when it started (a restart of the same revision is a new run).
func RunID(appRevision string, started time.Time) string {
	return appRevision + "@" + started.UTC().Format(time.RFC3339)
}

// AnalysisStateName is the ConfigMap, in the Application's namespace and
// owned by it, where the provider keeps the analyses of its current run.
func AnalysisStateName(app string) string { return app + "-canary-analysis" }

// LabelAnalysisState marks those ConfigMaps, so that the provider finds them
// again after a restart.
const LabelAnalysisState = "canary.oam.dev/analysis-state"

// AnalysisStateKey is the ConfigMap key that holds the state as JSON.
const AnalysisStateKey = "state.json"

// RollsBackOnAbort tells the workflow step types that roll the canary back
// when their run is aborted: rollout and analysis steps roll back instead of
// going on, a rollback step rolls back anyway. Resuming an aborted run with
// none of them left to run would only finish the release.
func RollsBackOnAbort(stepType string) bool {
	switch stepType {
	case StepRollout, StepAnalysis, StepRollback:
		return true
	}
	return false
}
