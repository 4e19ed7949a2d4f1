package canary

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// BenchmarkPlan plans step 1 of the seed once reviews-v2 is ready (the
// state that computes everything: weights, routes, subsets, manifests) in
// a namespace shared with the rest of book-info and 40 Deployments of
// other applications. The fake clientsets stand in for the API server, so
// the figure includes their copying of objects; run with -benchmem or read
// the allocs/op that ReportAllocs adds.
func BenchmarkPlan(b *testing.B) {
	live := []runtime.Object{
		liveV1(b, 1, 1), deployment("v2", 1, 1),
		virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2"),
	}
	for _, c := range []string{"productpage", "details", "ratings"} {
		live = append(live, deployment("v1", 1, 1, func(d *appsv1.Deployment) {
			d.Name = c + "-v1"
			d.Labels[contract.LabelComponent] = c
		}))
	}
	for i := range 40 {
		live = append(live, deployment("v1", 3, 3, deploymentOf(fmt.Sprintf("shop-%d", i), testComp), func(d *appsv1.Deployment) {
			d.Name = fmt.Sprintf("shop-%d-reviews", i)
		}))
	}
	f := newFixture(b, live...)
	in := planStep(b, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	ctx := klog.NewContext(context.Background(), klog.Background()) // V(2) is off, as in production

	res, err := f.plan(ctx, in, nil)
	require.NoError(b, err)
	require.True(b, res.Route)
	require.NotNil(b, res.VirtualService)

	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.plan(ctx, in, nil); err != nil {
			b.Fatal(err)
		}
		f.kube.ClearActions()
		f.istio.ClearActions()
		*f.log = (*f.log)[:0]
	}
}
