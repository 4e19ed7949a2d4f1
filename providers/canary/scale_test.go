package canary

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

func scaleCall(name string, replicas int) *ScaleParams {
	return &ScaleParams{PlanParams: PlanParams{Caller: testCaller()}, Name: name, Replicas: replicas}
}

func TestScale(t *testing.T) {
	// The suspended 90/10 state of the seed.
	seed := func() []runtime.Object {
		return []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")}
	}
	getV1 := "get deployments default/reviews-v1"
	tests := []struct {
		name    string
		live    []runtime.Object
		call    *ScaleParams
		want    *ScaleResult
		patch   string   // the merge patch sent; "" for none
		actions []string // every call made
		after   int32    // reviews-v1's replicas afterwards
	}{
		{
			name:    "scale down the old version by one batch",
			live:    seed(),
			call:    scaleCall("reviews-v1", 1),
			want:    &ScaleResult{Done: true, Changed: true},
			patch:   `{"spec":{"replicas":1}}`,
			actions: []string{getV1, "patch deployments default/reviews-v1"},
			after:   1,
		},
		{
			name:    "already scaled: nothing written",
			live:    []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10))},
			call:    scaleCall("reviews-v1", 1),
			want:    &ScaleResult{Done: true},
			actions: []string{getV1},
			after:   1,
		},
		{
			name:    "scale up (rollback of a retired version)",
			live:    []runtime.Object{deployment("v1", 0, 0), virtualService(r("v2", 100))},
			call:    scaleCall("reviews-v1", 2),
			want:    &ScaleResult{Done: true, Changed: true},
			patch:   `{"spec":{"replicas":2}}`,
			actions: []string{getV1, "patch deployments default/reviews-v1"},
			after:   2,
		},
		{
			name:  "to 0 once the VirtualService sends it nothing",
			live:  []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), virtualService(r("v2", 100)), destinationRule("v2")},
			call:  scaleCall("reviews-v1", 0),
			want:  &ScaleResult{Done: true, Changed: true},
			patch: `{"spec":{"replicas":0}}`,
			actions: []string{getV1, "get virtualservices default/reviews",
				"patch deployments default/reviews-v1"},
			after: 0,
		},
		{
			name:  "to 0 with a zero-weight destination left",
			live:  []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), virtualService(r("v2", 100), r("v1", 0))},
			call:  scaleCall("reviews-v1", 0),
			want:  &ScaleResult{Done: true, Changed: true},
			patch: `{"spec":{"replicas":0}}`,
			actions: []string{getV1, "get virtualservices default/reviews",
				"patch deployments default/reviews-v1"},
			after: 0,
		},
		{
			name:  "to 0 without a VirtualService",
			live:  []runtime.Object{deployment("v1", 1, 1)},
			call:  scaleCall("reviews-v1", 0),
			want:  &ScaleResult{Done: true, Changed: true},
			patch: `{"spec":{"replicas":0}}`,
			actions: []string{getV1, "get virtualservices default/reviews",
				"patch deployments default/reviews-v1"},
			after: 0,
		},
		{
			name:    "already at 0: traffic is not even read",
			live:    []runtime.Object{deployment("v1", 0, 0), virtualService(r("v1", 100))},
			call:    scaleCall("reviews-v1", 0),
			want:    &ScaleResult{Done: true},
			actions: []string{getV1},
			after:   0,
		},
		{
			name:    "missing Deployment scaled to 0 is done (garbage-collected already)",
			live:    []runtime.Object{deployment("v2", 2, 2)},
			call:    scaleCall("reviews-v1", 0),
			want:    &ScaleResult{Done: true},
			actions: []string{getV1},
			after:   -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.live...)
			_, ctx := ktesting.NewTestContext(t)
			got, err := f.scale(ctx, tt.call.Caller, tt.call.Name, tt.call.Replicas)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.actions, f.actions())
			var patches []k8stesting.PatchAction
			for _, a := range f.kube.Actions() {
				if p, ok := a.(k8stesting.PatchAction); ok {
					patches = append(patches, p)
				}
			}
			if tt.patch == "" {
				require.Empty(t, patches)
			} else {
				require.Len(t, patches, 1, "exactly one write")
				require.Equal(t, types.MergePatchType, patches[0].GetPatchType())
				require.JSONEq(t, tt.patch, string(patches[0].GetPatch()))
			}
			if tt.after >= 0 {
				d, err := f.kube.AppsV1().Deployments(testNS).Get(context.Background(), "reviews-v1", metav1.GetOptions{})
				require.NoError(t, err)
				require.Equal(t, tt.after, *d.Spec.Replicas)
			}
		})
	}
}

func TestScaleRefuses(t *testing.T) {
	tests := []struct {
		name    string
		live    []runtime.Object
		call    *ScaleParams
		input   bool     // an InputError (the step fails) rather than a passing one (it retries)
		want    []string // substrings of the message
		actions []string
	}{
		{
			name:    "a Deployment of another application",
			live:    []runtime.Object{deployment("v1", 2, 2, deploymentOf("shop", testComp))},
			call:    scaleCall("reviews-v1", 1),
			input:   true,
			want:    []string{"name: Deployment default/reviews-v1 does not belong to component reviews of application book-info"},
			actions: []string{"get deployments default/reviews-v1"},
		},
		{
			name:    "a Deployment of another component",
			live:    []runtime.Object{deployment("v1", 2, 2, deploymentOf(testApp, "ratings"))},
			call:    scaleCall("reviews-v1", 0),
			input:   true,
			want:    []string{"name: Deployment default/reviews-v1 does not belong to component reviews"},
			actions: []string{"get deployments default/reviews-v1"},
		},
		{
			name:    "to 0 while the VirtualService still sends it traffic",
			live:    []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10))},
			call:    scaleCall("reviews-v1", 0),
			want:    []string{"not scaling version v1 of component reviews to 0", "VirtualService default/reviews still sends it 90% of the traffic"},
			actions: []string{"get deployments default/reviews-v1", "get virtualservices default/reviews"},
		},
		{
			name:    "to 0 while the match route still sends it the requests it matches",
			live:    []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1), withRequests(virtualService(r("v1", 100)), "v2", 0)},
			call:    scaleCall("reviews-v2", 0),
			want:    []string{"not scaling version v2 of component reviews to 0", "route canary-match of VirtualService default/reviews still sends it the requests it matches"},
			actions: []string{"get deployments default/reviews-v2", "get virtualservices default/reviews"},
		},
		{
			name:    "to 0 while it is the VirtualService's lone destination",
			live:    []runtime.Object{deployment("v1", 2, 2), virtualService(r("v1", 0))},
			call:    scaleCall("reviews-v1", 0),
			want:    []string{"still sends it 100% of the traffic"},
			actions: []string{"get deployments default/reviews-v1", "get virtualservices default/reviews"},
		},
		{
			name:    "a missing Deployment to more than 0",
			call:    scaleCall("reviews-v1", 1),
			input:   true,
			want:    []string{"name: Deployment default/reviews-v1 does not exist"},
			actions: []string{"get deployments default/reviews-v1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.live...)
			_, ctx := ktesting.NewTestContext(t)
			got, err := f.scale(ctx, tt.call.Caller, tt.call.Name, tt.call.Replicas)
			require.Nil(t, got)
			require.Error(t, err)
			require.Equal(t, tt.input, IsInputError(err), "input error: %v", err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			require.Equal(t, tt.actions, f.actions())
			f.requireReadOnly(t)
		})
	}
}

func TestScalePassingErrors(t *testing.T) {
	for _, tt := range []struct {
		name     string
		verb     string
		resource string
		istio    bool
		replicas int
		want     string
	}{
		{"get fails", "get", "deployments", false, 1, "get Deployment default/reviews-v1"},
		{"patch fails", "patch", "deployments", false, 1, "scale Deployment default/reviews-v1 to 1"},
		{"reading the routes fails", "get", "virtualservices", true, 0, "get VirtualService default/reviews"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, deployment("v1", 2, 2), virtualService(r("v2", 100)))
			fail := func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewTimeoutError("slow", 1)
			}
			if tt.istio {
				f.istio.PrependReactor(tt.verb, tt.resource, fail)
			} else {
				f.kube.PrependReactor(tt.verb, tt.resource, fail)
			}
			_, ctx := ktesting.NewTestContext(t)
			got, err := f.scale(ctx, testCaller(), "reviews-v1", tt.replicas)
			require.Nil(t, got)
			require.ErrorContains(t, err, tt.want)
			require.False(t, IsInputError(err))
			require.True(t, apierrors.IsTimeout(err), "wraps the API error: %v", err)
		})
	}

	t.Run("a VirtualService of another application stops a scale to 0", func(t *testing.T) {
		vs := virtualService(r("v2", 100))
		vs.Labels[contract.LabelAppName] = "shop"
		f := newFixture(t, deployment("v1", 1, 1), vs)
		_, ctx := ktesting.NewTestContext(t)
		_, err := f.scale(ctx, testCaller(), "reviews-v1", 0)
		requireInputError(t, err, "VirtualService default/reviews does not belong")
		f.requireReadOnly(t)
	})
}
