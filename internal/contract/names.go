// Package contract is the one definition of the data contract between the
// addon's definitions, its provider and its status view (docs/design.md,
// "Names and labels"): the labels and annotations they read and write, the
// phases a rollout records, the HTTP route the steps own, how that route's
// weights are read and written, and the rule that tells the stable version
// from the canary.
//
// The CUE definitions spell the same names; a change here goes together with
// a change there.
package contract

import "strings"

// Labels that vela stamps on what it renders.
const (
	// LabelAppName names the Application an object belongs to.
	LabelAppName = "app.oam.dev/name"
	// LabelComponent names the component an object belongs to.
	LabelComponent = "app.oam.dev/component"
	// LabelAppRevision names the Application revision that last applied an object.
	LabelAppRevision = "app.oam.dev/appRevision"
)

// The definitions' names that the provider checks an Application against.
const (
	// TraitRollout is the trait that makes a component a canary.
	TraitRollout = "rollout"
	// StepRollout, StepRollback and StepAnalysis are the canary workflow steps.
	StepRollout  = "canary-rollout"
	StepRollback = "canary-rollback"
	StepAnalysis = "canary-analysis"
)

// AnnotationPublishVersion is vela's annotation that names a release of an
// Application; `vela workflow rollback` goes back to the last release that
// succeeded only when the Application carries it.
const AnnotationPublishVersion = "app.oam.dev/publishVersion"

// LabelVersion is the pod template label that names a version; the
// DestinationRule's subset of that version selects it.
const LabelVersion = "version"

// Annotations the rollout trait writes on a version's Deployment.
const (
	// AnnotationVersion is the version's name.
	AnnotationVersion = "canary.oam.dev/version"
	// AnnotationPodSpecHash is a hash of the pod spec, so that two pod
	// templates are never run under one version name.
	AnnotationPodSpecHash = "canary.oam.dev/pod-template-hash"
)

// Annotations the canary steps write on the component's VirtualService: the
// roles of the rollout they last routed, and how far it got.
const (
	AnnotationStable = "canary.oam.dev/stable"
	AnnotationCanary = "canary.oam.dev/canary"
	AnnotationPhase  = "canary.oam.dev/phase"
)

// Annotations a rollout step writes on the canary's Deployment: the stable
// version its first plan chose and the Application revision the step runs
// for. Until a route is applied no VirtualService records the roles, and the
// rule alone could change its mind when an older version's instances become
// ready in the middle of the step; with these, the roles hold for the whole
// run of that revision.
const (
	AnnotationRunStable   = "canary.oam.dev/run-stable"
	AnnotationRunRevision = "canary.oam.dev/run-revision"
)

// Values of AnnotationPhase.
const (
	// PhaseProgressing: both versions may get traffic.
	PhaseProgressing = "progressing"
	// PhaseCompleted: the canary has all the instances and all the traffic.
	PhaseCompleted = "completed"
	// PhaseRolledBack: the stable version has all the traffic back.
	PhaseRolledBack = "rolled-back"
)

// RouteName is the name of the VirtualService's HTTP route that the
// canary-traffic trait renders and the steps set the weights of. Other routes
// of the VirtualService belong to someone else.
const RouteName = "canary-traffic"

// MatchRouteName is the name of the HTTP route the steps put right before
// RouteName's when a step routes requests by their content (headers, URI,
// query parameters, ...): the requests it matches go to the canary whatever
// the weights.
const MatchRouteName = "canary-match"

// GatewayRoutesName is the name of the VirtualService, rendered by
// canary-traffic, that the route of the component's istio-gateway delegates
// to when the component has both traits: it carries the same routes as the
// component's VirtualService, so ingress traffic is split alike.
func GatewayRoutesName(component string) string { return component + "-gateway-routes" }

// DeploymentName is the name of the Deployment that runs a version of a component.
func DeploymentName(component, version string) string {
	return component + "-" + version
}

// OwnerAnnotations are the annotations of a live object that its owner wrote:
// those that apply tools and controllers write are left out, so that
// re-applying the object does not nest them.
func OwnerAnnotations(in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		if strings.Contains(k, "last-applied") || strings.HasPrefix(k, "deployment.kubernetes.io/") {
			continue
		}
		out[k] = v
	}
	return out
}

// BelongsTo reports whether an object with these labels belongs to a
// component of an Application.
func BelongsTo(labels map[string]string, app, component string) bool {
	return labels[LabelAppName] == app && labels[LabelComponent] == component
}
