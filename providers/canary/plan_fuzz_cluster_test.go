package canary

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	istioapi "istio.io/api/networking/v1alpha3"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/istio-canary/istio-canary/providers/canary/canarytest"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// fuzzFixture is a cluster FuzzPlan plays a step against: the provider's
// clients over it, and the calls made through them.
type fuzzFixture struct {
	Clients
	calls      func() []canarytest.Call // since clearCalls
	clearCalls func()
}

// newFuzzFixture is an in-memory cluster holding objs, which is what
// FuzzPlan plays against: client-go's fake clientsets took most of an
// execution's time.
func newFuzzFixture(t testing.TB, workflows Workflows, objs ...runtime.Object) fuzzFixture {
	t.Helper()
	c := canarytest.NewCluster(t, objs...)
	return fuzzFixture{
		Clients:    Clients{Kube: c.Kube(), Istio: c.Istio(), Workflows: workflows},
		calls:      c.Calls,
		clearCalls: c.ClearCalls,
	}
}

// fakesFuzzFixture is the same cluster over client-go's fake clientsets,
// which the unit tests use.
func fakesFuzzFixture(t testing.TB, objs ...runtime.Object) fuzzFixture {
	t.Helper()
	f := newFixture(t, objs...)
	return fuzzFixture{
		Clients: f.Clients,
		calls: func() []canarytest.Call {
			var out []canarytest.Call
			for _, a := range append(f.kube.Actions(), f.istio.Actions()...) {
				out = append(out, canarytest.Call{Verb: a.GetVerb(), Resource: a.GetResource().Resource, Namespace: a.GetNamespace(), Subresource: a.GetSubresource()})
			}
			return out
		},
		clearCalls: func() {
			f.kube.ClearActions()
			f.istio.ClearActions()
		},
	}
}

// withoutHelpers is t for the checks of an execution. testing's Helper,
// which every require call makes twice, walks the stack each time: about
// a fifteenth of an execution. Without it a failure is reported at a line
// of testify's, whose Error Trace still names the check's.
type withoutHelpers struct{ testing.TB }

func (withoutHelpers) Helper() {}

// requireReadOnly fails unless every call since clearCalls was a get or a list.
func (f fuzzFixture) requireReadOnly(t testing.TB) {
	t.Helper()
	for _, c := range f.calls() {
		requireRead(t, c.Verb, c.Resource)
	}
}

// applyDeployment applies the plan's patch to the target Deployment, or
// creates it from workload, the plan's manifest, where it is missing.
func (f fuzzFixture) applyDeployment(ctx context.Context, t testing.TB, res *stepPlan, workload *appsv1.Deployment) {
	t.Helper()
	deployments := f.Kube.AppsV1().Deployments(testNS)
	d, err := deployments.Get(ctx, res.Patch.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		d = workload.DeepCopy()
		d.Namespace = testNS
		_, err = deployments.Create(ctx, d, metav1.CreateOptions{})
		require.NoError(t, err)
		return
	}
	require.NoError(t, err)
	d.Spec.Replicas = ptr(int32(res.Patch.Replicas))
	for k, v := range res.Patch.Annotations {
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations[k] = v
	}
	_, err = deployments.Update(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// applyIstio sets the VirtualService's http and the DestinationRule's
// subsets, creating the objects where they are missing. The VirtualService
// takes annotations when they are not nil (a manifest that has them), and
// keeps its own otherwise.
func (f fuzzFixture) applyIstio(ctx context.Context, t testing.TB, annotations map[string]string, http []*istioapi.HTTPRoute, subsets []*istioapi.Subset) {
	t.Helper()
	vss := f.Istio.NetworkingV1().VirtualServices(testNS)
	vs, err := vss.Get(ctx, testComp, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		vs = virtualService()
		vs.Spec.Http = http
		vs.Annotations = annotations
		_, err = vss.Create(ctx, vs, metav1.CreateOptions{})
	} else {
		require.NoError(t, err)
		vs.Spec.Http = http
		if annotations != nil {
			vs.Annotations = annotations
		}
		_, err = vss.Update(ctx, vs, metav1.UpdateOptions{})
	}
	require.NoError(t, err)

	drs := f.Istio.NetworkingV1().DestinationRules(testNS)
	dr, err := drs.Get(ctx, testComp, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		dr = destinationRule()
		dr.Spec.Subsets = subsets
		_, err = drs.Create(ctx, dr, metav1.CreateOptions{})
	} else {
		require.NoError(t, err)
		dr.Spec.Subsets = subsets
		_, err = drs.Update(ctx, dr, metav1.UpdateOptions{})
	}
	require.NoError(t, err)
}

// TestFuzzClusterPlaysAsTheFakes plays FuzzPlan's seeds and random steps
// against the in-memory cluster and against client-go's fake clientsets,
// and requires the same plans, round after round, and the same cluster
// after them: the fuzzer must meet the cluster the unit tests model.
func TestFuzzClusterPlaysAsTheFakes(t *testing.T) {
	inputs := append([]fuzzInput(nil), fuzzPlanSeeds...)
	rnd := rand.New(rand.NewPCG(7, 42)) // fixed: the same steps every run
	for range 200 {
		inputs = append(inputs, randomFuzzInput(rnd))
	}
	workload := rendered(t)
	workflows := workflowruntest.Applications(t, workflowruntest.SeedApplication)
	planned := 0
	for i, in := range inputs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			s := in.state()
			fakes := fakesFuzzFixture(t, s.objects()...)
			want := s.play(t, fakes, workload)
			mem := newFuzzFixture(t, workflows, s.objects()...)
			got := s.play(t, mem, workload)
			require.Equal(t, want, got, "the plans of %+v", in)
			require.Equal(t, fakes.snapshot(t), mem.snapshot(t), "the cluster after %+v", in)
			if len(got) > 0 {
				planned++
			}
		})
	}
	require.Greater(t, planned, len(inputs)/2, "most steps plan")
}

// randomFuzzInput is an input as the fuzzer might make it, mostly one that
// is no input error, so that the step plays.
func randomFuzzInput(rnd *rand.Rand) fuzzInput {
	bytesOf := func(maxLen int, value func() byte) []byte {
		out := make([]byte, rnd.IntN(maxLen+1))
		for i := range out {
			out[i] = value()
		}
		return out
	}
	small := func(n int) func() byte { return func() byte { return byte(rnd.IntN(n)) } }
	weight := func() byte { return []byte{0, 5, 10, 50, 90, 100, byte(rnd.IntN(256))}[rnd.IntN(7)] }
	pairs := func(maxPairs, index int) []byte {
		var out []byte
		for range rnd.IntN(maxPairs + 1) {
			out = append(out, byte(rnd.IntN(index)), weight())
		}
		return out
	}
	in := fuzzInput{
		v1: bytesOf(3, small(4)), v2: bytesOf(3, small(4)),
		vs: rnd.IntN(4) > 0, routes: pairs(3, 3),
		dr: rnd.IntN(4) > 0, subsets: bytesOf(3, small(3)),
		traffic: rnd.IntN(4) > 0, rollback: rnd.IntN(5) == 0,
		batches:   bytesOf(3, func() byte { return byte(1 + rnd.IntN(4)) }),
		sizeDelta: int8(rnd.IntN(5) - 2),
		targets:   pairs(2, len(fuzzRevisions)),
		flags:     uint8(rnd.IntN(256)) &^ fuzzOtherPodTpl,
	}
	in.partition = int8(rnd.IntN(max(len(in.batches), 1)+1) - 1)
	if rnd.IntN(4) > 0 {
		in.flags |= fuzzTargetsTo100
	}
	if rnd.IntN(8) == 0 {
		in.flags |= fuzzOtherPodTpl
	}
	return in
}
