// Package canary plans and drives one component's canary for the canary-rollout
// and canary-rollback workflow steps: which version is stable, how many
// instances each version gets, when the new batch is ready, and which routes
// and subsets Istio gets. It reads the cluster; vela applies what it plans.
package canary

// Action says what the step asks for.
type Action string

const (
	// ActionRollout moves instances and traffic to the version the Application renders now.
	ActionRollout Action = "rollout"
	// ActionRollback moves all instances and traffic back to the stable version.
	ActionRollback Action = "rollback"
)

// Batch is one entry of the rollout trait's rolloutBatches.
type Batch struct {
	Replicas int `json:"replicas"`
}

// RolloutSpec holds the rollout trait's properties as the Application gives them.
type RolloutSpec struct {
	TargetSize     int     `json:"targetSize"`
	RolloutBatches []Batch `json:"rolloutBatches,omitempty"`
	Version        string  `json:"version,omitempty"`
	// ScaleDownDelay is how long the version phased out keeps its instances
	// once the new one has all the traffic (a Go duration; "" is 0).
	ScaleDownDelay string `json:"scaleDownDelay,omitempty"`
}

// WeightedTarget is one entry of the step's traffic.weightedTargets.
type WeightedTarget struct {
	// Revision names a version: <component>-<version>, <version>, stable or canary.
	Revision string `json:"revision"`
	Weight   int    `json:"weight"`
}

// Caller identifies the Application a call acts for. The step fills it from
// its context, never from user properties; the provider checks it against
// the Application (see authorize).
type Caller struct {
	Namespace string `json:"namespace"`
	App       string `json:"app"`
	Component string `json:"component"`
}

// PlanParams is the input of the plan function.
type PlanParams struct {
	Caller
	Action Action `json:"action"`
	// Step is the step's name (context.stepName): the call counts only while
	// the Application's workflow runs that step.
	Step string `json:"step"`
	// Revision is the Application revision the step runs for
	// (context.appRevision). While vela-core runs the first steps of a new
	// revision, the Application's status still describes the run before
	// it: an abort of that run must not roll the new one back.
	Revision string `json:"revision"`
	// Workload is the component's Deployment as the Application renders it now.
	Workload map[string]any `json:"workload"`
	Rollout  RolloutSpec    `json:"rollout"`
	// BatchPartition is the index of the last batch to roll; nil means all.
	BatchPartition  *int             `json:"batchPartition,omitempty"`
	WeightedTargets []WeightedTarget `json:"weightedTargets,omitempty"`
	// Components are all the components the step canaries, so that a
	// weighted target naming another one of them is not an error here.
	Components []string `json:"components,omitempty"`
	// Traffic holds the canary-traffic trait's properties; nil without it.
	Traffic *TrafficSpec `json:"traffic,omitempty"`
	// Gateway holds the istio-gateway trait's properties when the component
	// has it beside canary-traffic: its route delegates to a VirtualService
	// that the plan keeps split as the component's; nil otherwise.
	Gateway *GatewaySpec `json:"gateway,omitempty"`
	// Match are the step's traffic.match: requests that go to the canary
	// whatever the weights, in Istio's HTTPMatchRequest shape. nil keeps
	// the live ones while they serve the same canary; empty drops them.
	Match []map[string]any `json:"match,omitempty"`
	// Mirror is the step's traffic.mirror; nil keeps the live one while it
	// serves the same canary.
	Mirror *MirrorSpec `json:"mirror,omitempty"`
}

// TrafficSpec holds the canary-traffic trait's properties.
type TrafficSpec struct {
	Port int `json:"port"`
}

// GatewaySpec holds the istio-gateway trait's properties the plan needs.
type GatewaySpec struct {
	// Port is the component's port the gateway sends requests to.
	Port int `json:"port"`
}

// WorkloadPatch is what the step patches into the component's rendered
// workload when it applies the component.
type WorkloadPatch struct {
	Name string `json:"name"`
	// Every field is always present (empty, not absent): the step refers to
	// them without conditionals, which vela could not re-export.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Replicas    int               `json:"replicas"`
	Selector    map[string]any    `json:"selector"`
	Template    map[string]any    `json:"template"`
	// HTTP and Subsets replace the VirtualService routes and DestinationRule
	// subsets that canary-traffic renders; empty without canary-traffic.
	HTTP    []any `json:"http"`
	Subsets []any `json:"subsets"`
	// GatewayHTTP replaces the routes of the VirtualService the component's
	// gateway route delegates to; empty without istio-gateway.
	GatewayHTTP []any `json:"gatewayHTTP"`
}

// Retire asks the step to scale the version being phased out.
type Retire struct {
	Name     string `json:"name"`
	Replicas int    `json:"replicas"`
}

// PlanResult is the output of the plan function. (A failed call answers
// {"err": ...} or {"retry": ...} instead; see package server.)
type PlanResult struct {
	// Planned is true in every answer that holds a plan.
	Planned bool `json:"planned"`
	// Ready is true when the target version has all the instances this step gives it.
	Ready bool `json:"ready"`
	// Route is true when the step may apply VirtualService and DestinationRule now.
	Route bool `json:"route"`
	// Done is true when the cluster already is as this step wants it.
	Done    bool   `json:"done"`
	Message string `json:"message"`

	Stable string `json:"stable,omitempty"`
	Canary string `json:"canary,omitempty"`

	Patch           *WorkloadPatch `json:"patch,omitempty"`
	Workload        map[string]any `json:"workload,omitempty"`
	VirtualService  map[string]any `json:"virtualService,omitempty"`
	DestinationRule map[string]any `json:"destinationRule,omitempty"`
	// GatewayRoutes is the VirtualService the gateway route delegates to,
	// to apply with VirtualService.
	GatewayRoutes map[string]any `json:"gatewayRoutes,omitempty"`
	Retire        *Retire        `json:"retire,omitempty"`
	// RetireNow is true when the step may scale Retire now: after the routes,
	// or at once when it gives the version instances back.
	RetireNow bool `json:"retireNow"`
	// HoldSeconds is how long the step waits before it scales Retire: the
	// rest of the rollout trait's scaleDownDelay, during which a rollback
	// finds the old version whole.
	HoldSeconds int `json:"holdSeconds,omitempty"`
	// Aborted is why the workflow run was aborted: the plan rolls back
	// instead, and the step fails with this once it is done.
	Aborted string `json:"aborted,omitempty"`
}

// ScaleParams is the input of the scale function.
type ScaleParams struct {
	// PlanParams are the plan's own: the provider plans again and scales
	// only what that plan retires.
	PlanParams
	// Name is the Deployment to scale: a version of Caller.Component.
	Name     string `json:"name"`
	Replicas int    `json:"replicas"`
}

// ScaleResult is the output of the scale function.
type ScaleResult struct {
	Done    bool `json:"done"`
	Changed bool `json:"changed"`
}
