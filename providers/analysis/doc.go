// Package analysis is the core of automated canary analysis: Prometheus
// metrics judge the canary version, measurement by measurement, and Decide
// tells whether the rollout may go on, must roll back, or needs a human.
// It is pure Go with no cluster access; a workflow step's provider function
// validates the spec (ValidateSpec), measures what Decide says is due
// (Measure), records it in the Run it keeps between reconciles, and acts on
// Decide's Outcome.
//
// # Metrics
//
// A metric (MetricSpec) has either a query (instant PromQL with placeholders)
// or a template, a builtin query over Istio's standard metrics:
//
//	request-success-rate  percent of the canary's requests not answered with a 5xx; check with thresholdRange.min
//	request-duration      p99 of the canary's request duration in ms; check with thresholdRange.max
//
// Both select what the canary's own sidecar reports (reporter="destination")
// by destination_workload_namespace, destination_app (the component: pod
// label app) and destination_version (the canary version: pod label
// version), the labels this addon puts on every version's pods.
//
// # Placeholders
//
// A query names the values of the analysis as {{name}}:
//
//	{{namespace}}  the Application's namespace
//	{{app}}        the Application's name
//	{{component}}  the component; also its pods' label app, Istio's destination_app
//	{{canary}}     the canary version (pod label version, Istio's destination_version)
//	{{stable}}     the stable version
//	{{interval}}   the analysis interval as a Prometheus duration (1m, 30s, 1m30s)
//
// Label placeholders stand inside a string literal, "..." or '...'
// (version="{{canary}}"); their value is escaped for that literal, and also
// for the regular expression after =~ or !~, so a value can neither end the
// string nor widen a match. A label placeholder outside quotes or inside a
// `raw string` is rejected, and so is an empty value at measurement time
// (an empty label value would match series without the label).
// {{interval}} may stand anywhere, typically as a range: rate(x[{{interval}}]).
// Placeholders in # comments are left alone.
//
// # Conditions
//
// successCondition and failureCondition are expr-lang expressions (the
// language argo-rollouts uses) that must give a boolean; they are compiled
// once, when the metric is validated, and a condition that does not
// compile, or whose type is not boolean, is rejected then. Besides
// comparisons, and/or/not, arithmetic and expr's builtins (all, any, len,
// filter, ...; not now, so that a verdict depends on the values only), they
// may call isNaN(x), isInf(x) and isInf(x, sign) (as Go's math.IsInf).
// result is, depending on how the condition is written:
//
//   - one number, when the condition compiles so (result >= 99): it runs
//     once per series, and every series must pass. A scalar is one series.
//   - the list of numbers, one per series, otherwise (all(result, # >= 99),
//     len(result) > 1, result[0] < 500): it runs once on the whole list.
//
// When both conditions are given they are written the same way.
// thresholdRange {min, max} (both ends included) bounds every series too.
//
// # Outcome of a measurement
//
// Measure takes one measurement: Successful, Failed, Inconclusive or Error.
// Each check (thresholdRange; the conditions) judges each series (or the
// list), and the worst judgement wins: Failed, then Inconclusive, then
// Successful. Failed and Inconclusive messages give the series, the values
// and the condition or bound.
//
//	what Prometheus answered            thresholdRange              conditions
//	error, bad query (400), timeout     Error                       Error
//	matrix (range vector), string       Error: use an instant query Error
//	condition fails to run (result[3])  -                           Error
//	empty vector (no series)            Inconclusive                Inconclusive, unless a list-form failureCondition
//	                                                                such as len(result) == 0 holds: Failed
//	NaN                                 Inconclusive                Failed if failureCondition holds (isNaN(result)), else Inconclusive
//	+Inf                                Failed if max, else Incon.  as NaN
//	-Inf                                Failed if min, else Incon.  as NaN
//	finite, outside [min, max]          Failed                      -
//	finite, inside [min, max]           Successful                  -
//	finite, failureCondition holds      -                           Failed (checked first: it wins over success)
//	finite, only successCondition       -                           Successful if it holds, else Failed
//	finite, only failureCondition       -                           Successful if it does not hold
//	finite, both, neither holds         -                           Inconclusive
//	finite, both, success holds only    -                           Successful
//	several series                      each series as above; any Failed fails, else any Inconclusive
//
// So no data (no series, NaN, no traffic to the canary) is never a success.
//
// # Deciding a run
//
// A Run keeps every measurement of every metric. Decide applies Limits:
//
//   - the first measurement of a metric is due at StartedAt+initialDelay,
//     each next one interval after the metric's last (errors included); a
//     measurement is due only when now >= that time (Outcome.Due).
//   - count measurements of each metric, not counting errors, complete it.
//   - more than failureLimit (default 0) Failed measurements of a metric,
//     or more than consecutiveErrorLimit (default 4) Errors in a row (any
//     answer from Prometheus ends the row): Failed. A limit reached
//     exactly is still tolerated.
//   - else more than inconclusiveLimit (default 0) Inconclusive ones:
//     Inconclusive, with a message asking a human to look.
//   - else every metric complete: Successful, but Inconclusive for a
//     metric none of whose measurements succeeded (tolerated inconclusive
//     measurements prove nothing).
//   - else Running, with the time of the next measurement.
//
// Decide is pure: deciding twice on the same run gives the same outcome.
package analysis
