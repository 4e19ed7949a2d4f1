package canary

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// TestPlanRejectsBadInput: every mistake in what the step asks for is an
// InputError whose message names the field to fix, and nothing is written.
func TestPlanRejectsBadInput(t *testing.T) {
	// The seed's state before step 1.
	seed := func() []runtime.Object {
		return []runtime.Object{deployment("v1", 2, 2), virtualService(r("v1", 100)), destinationRule("v1")}
	}
	step1 := func(t *testing.T, targets ...WeightedTarget) *PlanParams {
		if targets == nil {
			targets = []WeightedTarget{wt("reviews-v1", 90), wt("reviews-v2", 10)}
		}
		return planStep(t, ptr(0), targets...)
	}
	otherVS := virtualService(r("v1", 100))
	otherVS.Labels[contract.LabelAppName] = "shop"
	otherDR := destinationRule("v1")
	otherDR.Labels[contract.LabelComponent] = "ratings"

	tests := []struct {
		name   string
		live   []runtime.Object // default: seed()
		params func(*testing.T) *PlanParams
		want   []string // substrings of the message
	}{
		{
			name:   "weights not adding up to 100",
			params: func(t *testing.T) *PlanParams { return step1(t, wt("reviews-v1", 80), wt("reviews-v2", 10)) },
			want:   []string{"traffic.weightedTargets:", "add up to 90", "must add up to 100"},
		},
		{
			name:   "weights over 100",
			params: func(t *testing.T) *PlanParams { return step1(t, wt("reviews-v1", 100), wt("reviews-v2", 10)) },
			want:   []string{"traffic.weightedTargets:", "add up to 110"},
		},
		{
			name:   "negative weight",
			params: func(t *testing.T) *PlanParams { return step1(t, wt("reviews-v1", 100), wt("reviews-v2", -10)) },
			want:   []string{"traffic.weightedTargets[1].weight:", "-10"},
		},
		{
			name:   "weight over 100 on one target",
			params: func(t *testing.T) *PlanParams { return step1(t, wt("reviews-v1", 101), wt("reviews-v2", 0)) },
			want:   []string{"traffic.weightedTargets[0].weight:", "101"},
		},
		{
			name:   "unknown revision",
			params: func(t *testing.T) *PlanParams { return step1(t, wt("reviews-v1", 90), wt("reviews-v3", 10)) },
			want: []string{`traffic.weightedTargets[1].revision: "reviews-v3"`, "component reviews",
				"reviews-v1 (stable), reviews-v2 (canary), stable, canary"},
		},
		{
			name: "a revision of a component the step does not canary",
			params: func(t *testing.T) *PlanParams {
				return step1(t, wt("reviews-v1", 90), wt("reviews-v2", 10), wt("ratings-v2", 0))
			},
			want: []string{`traffic.weightedTargets[2].revision: "ratings-v2"`},
		},
		{
			// Alone in its step, a component must be named by a target.
			// (With several components, one no target names follows its
			// instances: TestPlanWeightsOfAnUnnamedComponentFollowInstances.)
			name: "no target names the component",
			params: func(t *testing.T) *PlanParams {
				p := step1(t, wt("ratings-v1", 90), wt("ratings-v2", 10))
				p.Components = []string{testComp}
				return p
			},
			want: []string{"traffic.weightedTargets[0].revision", `"ratings-v1" is not a version of component reviews`, "reviews-v2 (canary)"},
		},
		{
			name: "stable named on a component that has no stable version",
			live: []runtime.Object{},
			params: func(t *testing.T) *PlanParams {
				return step1(t, wt("stable", 90), wt("canary", 10))
			},
			want: []string{`traffic.weightedTargets[0].revision: "stable"`, "use reviews-v2 (canary), canary"},
		},
		{
			name:   "batchPartition past the last batch",
			params: func(t *testing.T) *PlanParams { p := step1(t); p.BatchPartition = ptr(2); return p },
			want:   []string{"batchPartition: 2 is out of range", "component reviews", "2 batches", "use 0 to 1"},
		},
		{
			name:   "negative batchPartition",
			params: func(t *testing.T) *PlanParams { p := step1(t); p.BatchPartition = ptr(-1); return p },
			want:   []string{"batchPartition: -1 is out of range"},
		},
		{
			name: "batchPartition 1 without rolloutBatches",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				p.BatchPartition = ptr(1)
				p.Rollout.RolloutBatches = nil
				return p
			},
			want: []string{"batchPartition: 1 is out of range", "1 batch;", "use 0"},
		},
		{
			name: "batches not adding up to targetSize",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				p.Rollout.RolloutBatches = []Batch{{1}, {2}}
				return p
			},
			want: []string{"rollout.rolloutBatches add up to 3", "targetSize is 2"},
		},
		{
			name: "a batch of 0",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				p.Rollout.RolloutBatches = []Batch{{2}, {0}}
				return p
			},
			want: []string{"rollout.rolloutBatches[1].replicas is 0"},
		},
		{
			name: "targetSize 0",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				p.Rollout = RolloutSpec{Version: "v2"}
				return p
			},
			want: []string{"rollout.targetSize is 0"},
		},
		{
			// Without this check a rollback plans the stable version at 0
			// replicas with 100% of the traffic: an outage.
			name: "targetSize 0 on rollback",
			params: func(t *testing.T) *PlanParams {
				p := rollbackStep(t)
				p.Rollout = RolloutSpec{Version: "v2"}
				return p
			},
			want: []string{"rollout.targetSize is 0"},
		},
		{
			name: "weight to a stable version without instances",
			live: []runtime.Object{deployment("v1", 0, 0), deployment("v2", 2, 2), virtualService(r("v2", 100)), destinationRule("v1", "v2")},
			params: func(t *testing.T) *PlanParams {
				p := step1(t, wt("reviews-v1", 10), wt("reviews-v2", 90))
				p.BatchPartition = ptr(1)
				return p
			},
			want: []string{"traffic.weightedTargets:", "version v1 of component reviews would get 10%", "no instances left"},
		},
		{
			name:   "scaleDownDelay not a duration",
			params: func(t *testing.T) *PlanParams { p := step1(t); p.Rollout.ScaleDownDelay = "30 seconds"; return p },
			want:   []string{"rollout.scaleDownDelay:", `"30 seconds" is not a duration`, "30s"},
		},
		{
			name:   "negative scaleDownDelay",
			params: func(t *testing.T) *PlanParams { p := step1(t); p.Rollout.ScaleDownDelay = "-5m"; return p },
			want:   []string{"rollout.scaleDownDelay:", `"-5m" is negative`},
		},
		{
			name: "scaleDownDelay on a rollback checks it too",
			params: func(t *testing.T) *PlanParams {
				p := rollbackStep(t)
				p.Rollout.ScaleDownDelay = "soon"
				return p
			},
			want: []string{"rollout.scaleDownDelay:", `"soon" is not a duration`},
		},
		{
			name: "scaleDownDelay without canary-traffic",
			live: []runtime.Object{deployment("v1", 2, 2)},
			params: func(t *testing.T) *PlanParams {
				p := planStep(t, ptr(0))
				p.Traffic = nil
				p.Rollout.ScaleDownDelay = "30s"
				return p
			},
			want: []string{"rollout.scaleDownDelay:", "no canary-traffic trait", "leave scaleDownDelay out"},
		},
		{
			name: "weightedTargets without canary-traffic and without a VirtualService",
			live: []runtime.Object{deployment("v1", 2, 2)},
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				p.Traffic = nil
				return p
			},
			want: []string{"traffic.weightedTargets:", "component reviews has no canary-traffic trait"},
		},
		{
			name: "workload without a version label",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				deletePath(p.Workload, "spec", "template", "metadata", "labels", contract.LabelVersion)
				return p
			},
			want: []string{"component reviews: its workload has no version", "rollout trait"},
		},
		{
			name: "workload not named after its version",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				setPath(p.Workload, "reviews", "metadata", "name")
				return p
			},
			want: []string{"component reviews: its workload has no version"},
		},
		{
			name: "workload that is not a Deployment",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				p.Workload["kind"] = "StatefulSet"
				return p
			},
			want: []string{"component reviews: its workload is not a Deployment"},
		},
		{
			name: "workload that does not decode as a Deployment",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				setPath(p.Workload, "two", "spec", "replicas")
				return p
			},
			want: []string{"component reviews: its workload is not a Deployment"},
		},
		{
			name: "no workload",
			params: func(t *testing.T) *PlanParams {
				p := step1(t)
				p.Workload = nil
				return p
			},
			want: []string{"component reviews: its workload is not a Deployment"},
		},
		{
			name: "same version name, different pod template",
			live: append(seed(), deployment("v2", 1, 1, withHash("0123456789"))),
			params: func(t *testing.T) *PlanParams {
				return step1(t)
			},
			want: []string{`rollout.version: version "v2" of component reviews already runs a different pod template (Deployment reviews-v2)`},
		},
		{
			name: "target Deployment belongs to another application",
			live: append(seed(), deployment("v2", 1, 1, deploymentOf("shop", testComp))),
			params: func(t *testing.T) *PlanParams {
				return step1(t)
			},
			want: []string{"Deployment default/reviews-v2 exists and does not belong to component reviews of application book-info"},
		},
		{
			name: "target Deployment belongs to another component",
			live: append(seed(), deployment("v2", 1, 1, deploymentOf(testApp, "ratings"))),
			params: func(t *testing.T) *PlanParams {
				return step1(t)
			},
			want: []string{"Deployment default/reviews-v2 exists and does not belong to component reviews"},
		},
		{
			name:   "VirtualService belongs to another application",
			live:   []runtime.Object{deployment("v1", 2, 2), otherVS, destinationRule("v1")},
			params: func(t *testing.T) *PlanParams { return step1(t) },
			want:   []string{"VirtualService default/reviews does not belong to component reviews of application book-info"},
		},
		{
			name:   "DestinationRule belongs to another component",
			live:   []runtime.Object{deployment("v1", 2, 2), virtualService(r("v1", 100)), otherDR},
			params: func(t *testing.T) *PlanParams { return step1(t) },
			want:   []string{"DestinationRule default/reviews does not belong to component reviews of application book-info"},
		},
		{
			name:   "unknown action",
			params: func(t *testing.T) *PlanParams { p := step1(t); p.Action = "promote"; return p },
			want:   []string{`action: "promote" is not one of rollout, rollback`},
		},
		{
			name:   "no action",
			params: func(t *testing.T) *PlanParams { p := step1(t); p.Action = ""; return p },
			want:   []string{`action: "" is not one of rollout, rollback`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := tt.live
			if live == nil {
				live = seed()
			}
			f := newFixture(t, live...)
			_, ctx := ktesting.NewTestContext(t)
			res, err := f.plan(ctx, tt.params(t), nil)
			require.Nil(t, res)
			requireInputError(t, err, tt.want...)
			f.requireReadOnly(t)
		})
	}
}

// TestPlanRejectsBadCaller: the identity a call acts for is checked before
// any API call.
func TestPlanRejectsBadCaller(t *testing.T) {
	for _, tt := range []struct {
		name   string
		caller func(*Caller)
		want   string
	}{
		{"namespace with capitals", func(c *Caller) { c.Namespace = "Default" }, `namespace: "Default" is not a valid name`},
		{"no namespace", func(c *Caller) { c.Namespace = "" }, `namespace: "" is not a valid name`},
		{"no app", func(c *Caller) { c.App = "" }, `app: "" is not a valid name`},
		{"app with a slash", func(c *Caller) { c.App = "book/info" }, `app: "book/info" is not a valid name`},
		{"component with a selector", func(c *Caller) { c.Component = "reviews,app=x" }, `component: "reviews,app=x" is not a valid name`},
		{"component ending in a dash", func(c *Caller) { c.Component = "reviews-" }, `component: "reviews-" is not a valid name`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, deployment("v1", 2, 2))
			p := planStep(t, ptr(0))
			tt.caller(&p.Caller)
			_, ctx := ktesting.NewTestContext(t)
			_, err := f.plan(ctx, p, nil)
			requireInputError(t, err, tt.want)
			require.Empty(t, f.actions())
		})
	}
}

// TestPlanPassingErrors: when the API server fails, Plan returns an error
// that is not an InputError, so the step waits and calls again.
func TestPlanPassingErrors(t *testing.T) {
	for _, tt := range []struct {
		verb, resource string
		istio          bool
		want           string
	}{
		{"get", "deployments", false, "get Deployment default/reviews-v2"},
		{"list", "deployments", false, "list Deployments of component default/reviews"},
		{"get", "virtualservices", true, "get VirtualService default/reviews"},
		{"get", "destinationrules", true, "get DestinationRule default/reviews"},
	} {
		t.Run(tt.verb+" "+tt.resource, func(t *testing.T) {
			f := newFixture(t, deployment("v1", 2, 2), virtualService(r("v1", 100)), destinationRule("v1"))
			cause := apierrors.NewServiceUnavailable("etcd is down")
			fail := func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, cause }
			if tt.istio {
				f.istio.PrependReactor(tt.verb, tt.resource, fail)
			} else {
				f.kube.PrependReactor(tt.verb, tt.resource, fail)
			}
			_, ctx := ktesting.NewTestContext(t)
			res, err := f.plan(ctx, planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)), nil)
			require.Nil(t, res)
			require.Error(t, err)
			require.False(t, IsInputError(err), "a passing error: %v", err)
			require.ErrorContains(t, err, tt.want)
			require.True(t, errors.Is(err, cause) || apierrors.IsServiceUnavailable(err), "wraps the API error: %v", err)
			f.requireReadOnly(t)
		})
	}

	t.Run("a forbidden read is passing too", func(t *testing.T) {
		// RBAC may be on its way (addon upgrade): retrying can help.
		f := newFixture(t, deployment("v1", 2, 2))
		f.istio.PrependReactor("get", "virtualservices", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: networkingv1.SchemeGroupVersion.Group, Resource: "virtualservices"}, "reviews", errors.New("no RBAC"))
		})
		_, ctx := ktesting.NewTestContext(t)
		_, err := f.plan(ctx, planStep(t, ptr(0)), nil)
		require.Error(t, err)
		require.False(t, IsInputError(err))
	})
}

func TestIsInputError(t *testing.T) {
	ie := inputErrorf("batchPartition: %d is out of range", 3)
	require.True(t, IsInputError(ie))
	require.Equal(t, "batchPartition: 3 is out of range", ie.Error())
	require.True(t, IsInputError(fmt.Errorf("component reviews: %w", ie)), "wrapped")
	require.False(t, IsInputError(errors.New("batchPartition: 3 is out of range")))
	require.False(t, IsInputError(nil))
}
