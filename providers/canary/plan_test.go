package canary

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	istioapi "istio.io/api/networking/v1alpha3"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// wantPlan is what a plan answer must hold. nil slices of vs/dr mean that the
// answer must not carry that manifest.
type wantPlan struct {
	ready, route, done bool
	target             string   // patch.name and workload name
	replicas           int      // patch.replicas and the workload's spec.replicas
	patchHTTP          []string // patch.http[0].route as "subset=weight"
	patchSubsets       []string // exact patch.subsets; nil: only checked to cover patchHTTP
	vs, dr             []string // the VirtualService's routes and DestinationRule's subsets
	phase              string   // canary.oam.dev/phase on the VirtualService
	retire             *Retire
	stable, canary     string
	message            string
}

// plan runs Plan the way the server does (JSON in the result, a ktesting
// logger in the context) and checks that it only read the cluster.
func plan(t *testing.T, f fixture, in *PlanParams) PlanResult {
	t.Helper()
	_, ctx := ktesting.NewTestContext(t)
	res, err := f.plan(ctx, in, nil)
	require.NoError(t, err)
	f.requireReadOnly(t)
	require.Equal(t, planReads(in.Component+"-"+getPath(in.Workload, "spec", "template", "metadata", "labels", contract.LabelVersion).(string)), f.actions())
	return throughJSON[PlanResult](t, res)
}

func checkPlan(t *testing.T, got PlanResult, want wantPlan) {
	t.Helper()
	require.True(t, got.Planned, "planned")
	require.Equal(t, want.ready, got.Ready, "ready; message %q", got.Message)
	require.Equal(t, want.route, got.Route, "route")
	require.Equal(t, want.done, got.Done, "done")
	require.Equal(t, want.stable, got.Stable, "stable")
	require.Equal(t, want.canary, got.Canary, "canary")
	require.Equal(t, want.retire, got.Retire, "retire")
	if want.message != "" {
		require.Equal(t, want.message, got.Message)
	}

	require.NotNil(t, got.Patch)
	require.Equal(t, want.target, got.Patch.Name, "patch.name")
	require.Equal(t, want.replicas, got.Patch.Replicas, "patch.replicas")
	ver := want.target[len(testComp)+1:]
	require.Equal(t, ver, getPath(got.Patch.Template, "metadata", "labels", contract.LabelVersion), "patch.template version label")
	require.Equal(t, ver, getPath(got.Patch.Selector, "matchLabels", contract.LabelVersion), "patch.selector version label")
	require.Equal(t, testApp, got.Patch.Labels[contract.LabelAppName])

	w := decodeWorkload(t, got.Workload)
	require.Equal(t, want.target, w.Name, "workload name")
	require.Equal(t, testNS, w.Namespace, "workload namespace")
	require.NotNil(t, w.Spec.Replicas)
	require.Equal(t, int32(want.replicas), *w.Spec.Replicas, "workload replicas")
	require.Equal(t, ver, w.Spec.Template.Labels[contract.LabelVersion])

	if want.patchHTTP == nil {
		require.Empty(t, got.Patch.HTTP, "patch.http without canary-traffic")
		require.Empty(t, got.Patch.Subsets, "patch.subsets without canary-traffic")
	} else {
		http := decodeHTTP(t, got.Patch.HTTP)
		require.NotEmpty(t, http)
		require.Equal(t, want.patchHTTP, weights(t, http[0].Route), "patch.http[0].route")
		subsets := patchSubsets(t, got.Patch.Subsets)
		if want.patchSubsets != nil {
			require.Equal(t, want.patchSubsets, subsets, "patch.subsets")
		}
		// Applying the patch must never route to a subset it does not define.
		for _, rd := range http[0].Route {
			require.Contains(t, subsets, rd.Destination.Subset, "patch routes to a subset that patch.subsets lacks")
		}
		requireSum100(t, http[0])
	}

	if want.vs == nil {
		require.Nil(t, got.VirtualService, "virtualService before the routes may change")
	} else {
		vs := decodeVS(t, got.VirtualService)
		require.Equal(t, testComp, vs.meta.Name)
		require.Equal(t, testNS, vs.meta.Namespace)
		require.Equal(t, testApp, vs.meta.Labels[contract.LabelAppName])
		require.Equal(t, testComp, vs.meta.Labels[contract.LabelComponent])
		require.Equal(t, want.vs, weights(t, vs.spec.Http[0].Route), "virtualService http[0].route")
		requireSum100(t, vs.spec.Http[0])
		require.Equal(t, want.phase, vs.meta.Annotations[contract.AnnotationPhase], "phase")
		require.Equal(t, want.canary, vs.meta.Annotations[contract.AnnotationCanary], "canary annotation")
		stable, has := vs.meta.Annotations[contract.AnnotationStable]
		require.Equal(t, want.stable != "", has, "stable annotation present")
		require.Equal(t, want.stable, stable, "stable annotation")
	}
	if want.dr == nil {
		require.Nil(t, got.DestinationRule, "destinationRule before the routes may change")
	} else {
		dr := decodeDR(t, got.DestinationRule)
		require.Equal(t, testComp, dr.meta.Name)
		require.Equal(t, testComp, dr.spec.Host)
		require.Equal(t, testApp, dr.meta.Labels[contract.LabelAppName])
		require.Equal(t, want.dr, subsetNames(t, dr.spec.Subsets), "destinationRule subsets")
	}
	// The routes and subsets that the step applies together agree.
	if got.VirtualService != nil && got.DestinationRule != nil {
		vs, dr := decodeVS(t, got.VirtualService), decodeDR(t, got.DestinationRule)
		for _, rd := range vs.spec.Http[0].Route {
			require.Contains(t, subsetNames(t, dr.spec.Subsets), rd.Destination.Subset)
		}
	}
}

// requireSum100 checks that a route's weights add up to 100, as the
// contract reads them (a lone destination gets everything).
func requireSum100(t testing.TB, route *istioapi.HTTPRoute) {
	t.Helper()
	sum := 0
	for _, d := range contract.Destinations(route) {
		sum += d.Weight
	}
	require.Equal(t, 100, sum, "weights must add up to 100")
}

// TestPlanSeedRollout walks the seed's rollout-v2 workflow for reviews:
// step 1 (batchPartition 0, reviews-v1 90 / reviews-v2 10) and step 3
// (batchPartition 1, reviews-v2 100), through every state a reconcile can
// observe.
func TestPlanSeedRollout(t *testing.T) {
	step1 := func(t *testing.T) *PlanParams {
		return planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	}
	step3 := func(t *testing.T) *PlanParams {
		return planStep(t, ptr(1), wt("reviews-v2", 100))
	}
	// Step 1 before its batch is ready: instances for v2, routes held.
	step1Waiting := wantPlan{
		target: "reviews-v2", replicas: 1,
		patchHTTP: []string{"v1=100"}, patchSubsets: []string{"v1", "v2"},
		retire: &Retire{Name: "reviews-v1", Replicas: 1}, stable: "v1", canary: "v2",
	}
	step1Ready := wantPlan{
		ready: true, route: true, target: "reviews-v2", replicas: 1,
		patchHTTP: []string{"v1=90", "v2=10"}, patchSubsets: []string{"v1", "v2"},
		vs: []string{"v1=90", "v2=10"}, dr: []string{"v1", "v2"}, phase: contract.PhaseProgressing,
		retire: &Retire{Name: "reviews-v1", Replicas: 1}, stable: "v1", canary: "v2",
		message: "reviews: reviews-v2 1/1 ready, reviews-v1 1 instance; traffic reviews-v1 90%, reviews-v2 10%",
	}
	step1Done := step1Ready
	step1Done.done = true
	step3Waiting := wantPlan{
		target: "reviews-v2", replicas: 2,
		patchHTTP: []string{"v1=90", "v2=10"}, patchSubsets: []string{"v1", "v2"},
		retire: &Retire{Name: "reviews-v1", Replicas: 0}, stable: "v1", canary: "v2",
	}
	step3Ready := wantPlan{
		ready: true, route: true, target: "reviews-v2", replicas: 2,
		patchHTTP: []string{"v2=100"},
		vs:        []string{"v2=100"}, dr: []string{"v2"}, phase: contract.PhaseCompleted,
		retire: &Retire{Name: "reviews-v1", Replicas: 0}, stable: "v1", canary: "v2",
		message: "reviews: reviews-v2 2/2 ready, reviews-v1 0 instances; traffic reviews-v2 100%",
	}
	step3Done := step3Ready
	step3Done.done = true

	with := func(w wantPlan, message string) wantPlan { w.message = message; return w }

	tests := []struct {
		name   string
		params func(*testing.T) *PlanParams
		live   []runtime.Object
		want   wantPlan
	}{
		{
			name:   "step 1, reviews-v2 missing",
			params: step1,
			live:   []runtime.Object{deployment("v1", 2, 2), virtualService(r("v1", 100)), destinationRule("v1")},
			want:   with(step1Waiting, "reviews: waiting for reviews-v2: 0/1 ready"),
		},
		{
			name:   "step 1, reviews-v2 created, no pod ready",
			params: step1,
			live:   []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 0), virtualService(r("v1", 100)), destinationRule("v1")},
			want:   with(step1Waiting, "reviews: waiting for reviews-v2: 0/1 ready"),
		},
		{
			name:   "step 1, reviews-v2 ready but its status is not observed yet",
			params: step1,
			live:   []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1, stale), virtualService(r("v1", 100)), destinationRule("v1")},
			want:   step1Waiting,
		},
		{
			name:   "step 1, reviews-v2 ready pod runs an old template",
			params: step1,
			live:   []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1, updated(0)), virtualService(r("v1", 100)), destinationRule("v1")},
			want:   step1Waiting,
		},
		{
			name:   "step 1, reviews-v2 still has all its rendered replicas",
			params: step1,
			live:   []runtime.Object{deployment("v1", 2, 2), deployment("v2", 2, 2), virtualService(r("v1", 100)), destinationRule("v1")},
			want:   step1Waiting,
		},
		{
			name:   "step 1, reviews-v2 ready: route",
			params: step1,
			live:   []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1")},
			want:   step1Ready,
		},
		{
			name:   "step 1, routes applied, reviews-v1 not scaled down yet",
			params: step1,
			live:   []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want:   step1Ready,
		},
		{
			name:   "step 1, routes applied, DestinationRule lacks v2",
			params: step1,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1")},
			want:   with(step1Ready, ""),
		},
		{
			name:   "step 1, VirtualService not at 90/10 yet",
			params: step1,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1", "v2")},
			want:   step1Ready,
		},
		{
			name:   "step 1, DestinationRule has another subset than the canary's",
			params: step1,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v0", "v1")},
			want: func() wantPlan {
				w := step1Ready
				w.patchSubsets = []string{"v0", "v1", "v2"} // the patch keeps live subsets
				return w
			}(),
		},
		{
			name:   "step 1, VirtualService weights differ",
			params: step1,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 50), r("v2", 50)), destinationRule("v1", "v2")},
			want:   step1Ready,
		},
		{
			name:   "step 1 done",
			params: step1,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want:   step1Done,
		},
		{
			name:   "step 1 done, reviews-v2 loses its pod: routes stay as they are",
			params: step1,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 0), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want: wantPlan{
				target: "reviews-v2", replicas: 1,
				patchHTTP: []string{"v1=90", "v2=10"}, patchSubsets: []string{"v1", "v2"},
				retire: &Retire{Name: "reviews-v1", Replicas: 1}, stable: "v1", canary: "v2",
				message: "reviews: waiting for reviews-v2: 0/1 ready",
			},
		},
		{
			name:   "step 3, reviews-v2 not scaled to 2 yet",
			params: step3,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want:   with(step3Waiting, "reviews: waiting for reviews-v2: 1/2 ready"),
		},
		{
			name:   "step 3, reviews-v2 scaled, one pod ready",
			params: step3,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want:   with(step3Waiting, "reviews: waiting for reviews-v2: 1/2 ready"),
		},
		{
			name:   "step 3, reviews-v2 ready: route",
			params: step3,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want:   step3Ready,
		},
		{
			name:   "step 3, routes applied, reviews-v1 still has an instance",
			params: step3,
			live:   []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), virtualService(r("v2", 100)), destinationRule("v2")},
			want:   step3Ready,
		},
		{
			name:   "step 3 done",
			params: step3,
			live:   []runtime.Object{deployment("v1", 0, 0), deployment("v2", 2, 2), virtualService(r("v2", 100)), destinationRule("v2")},
			want:   step3Done,
		},
		{
			name:   "step 3 done, reviews-v1 garbage-collected",
			params: step3,
			live:   []runtime.Object{deployment("v2", 2, 2), virtualService(r("v2", 100)), destinationRule("v2")},
			want: wantPlan{
				ready: true, route: true, done: true, target: "reviews-v2", replicas: 2,
				patchHTTP: []string{"v2=100"}, patchSubsets: []string{"v2"},
				vs: []string{"v2=100"}, dr: []string{"v2"}, phase: contract.PhaseCompleted, canary: "v2",
				message: "reviews: reviews-v2 2/2 ready; traffic reviews-v2 100%",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.live...)
			checkPlan(t, plan(t, f, tt.params(t)), tt.want)
		})
	}
}

// TestPlanSeedRollback is canary-rollback from the suspended 90/10 state
// of the seed, through to the garbage collection of reviews-v2.
func TestPlanSeedRollback(t *testing.T) {
	back := wantPlan{
		route: true, target: "reviews-v1", replicas: 2,
		patchHTTP: []string{"v1=100"},
		vs:        []string{"v1=100"}, dr: []string{"v1"}, phase: contract.PhaseRolledBack,
		retire: &Retire{Name: "reviews-v2", Replicas: 0}, stable: "v1", canary: "v2",
	}
	waiting := back
	waiting.message = "reviews: waiting for reviews-v1: 1/2 ready"
	ready := back
	ready.ready = true
	ready.message = "reviews: reviews-v1 2/2 ready, reviews-v2 0 instances; traffic reviews-v1 100%"
	done := ready
	done.done = true

	tests := []struct {
		name string
		live []runtime.Object
		want wantPlan
	}{
		{
			name: "from 90/10: traffic back at once, reviews-v1 scaled to 2",
			live: []runtime.Object{liveV1(t, 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want: waiting,
		},
		{
			name: "reviews-v2 runs another pod template under the same name: rollback still plans",
			live: []runtime.Object{liveV1(t, 1, 1), deployment("v2", 1, 1, withHash("0000000000")), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want: waiting,
		},
		{
			name: "reviews-v1 has no ready pod: routes held",
			live: []runtime.Object{liveV1(t, 1, 0), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want: wantPlan{
				target: "reviews-v1", replicas: 2,
				patchHTTP: []string{"v1=90", "v2=10"}, patchSubsets: []string{"v1", "v2"},
				retire: &Retire{Name: "reviews-v2", Replicas: 0}, stable: "v1", canary: "v2",
				message: "reviews: waiting for reviews-v1: 0/2 ready",
			},
		},
		{
			name: "from a completed rollout, reviews-v1 at 0: routes held until it has a ready pod",
			live: []runtime.Object{liveV1(t, 0, 0), deployment("v2", 2, 2), virtualService(r("v2", 100)), destinationRule("v2")},
			want: wantPlan{
				target: "reviews-v1", replicas: 2,
				patchHTTP: []string{"v2=100"}, patchSubsets: []string{"v1", "v2"},
				retire: &Retire{Name: "reviews-v2", Replicas: 0}, stable: "v1", canary: "v2",
			},
		},
		{
			name: "reviews-v1 2/2, routes back, reviews-v2 not retired yet",
			live: []runtime.Object{liveV1(t, 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1")},
			want: ready,
		},
		{
			name: "reviews-v1 2/2, VirtualService not back yet",
			live: []runtime.Object{liveV1(t, 2, 2), deployment("v2", 0, 0), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want: ready,
		},
		{
			name: "rolled back",
			live: []runtime.Object{liveV1(t, 2, 2), deployment("v2", 0, 0), virtualService(r("v1", 100)), destinationRule("v1")},
			want: done,
		},
		{
			name: "rolled back, reviews-v2 garbage-collected",
			live: []runtime.Object{liveV1(t, 2, 2), virtualService(r("v1", 100)), destinationRule("v1")},
			want: func() wantPlan {
				w := done
				w.retire = nil
				w.message = "reviews: reviews-v1 2/2 ready; traffic reviews-v1 100%"
				return w
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.live...)
			checkPlan(t, plan(t, f, rollbackStep(t)), tt.want)
		})
	}
}

// TestPlanRollbackWorkload checks the manifest of the stable version that the
// rollback step applies (so that it lands in the current revision's tracker):
// the live reviews-v1, cleaned of status and server- and tool-written metadata.
func TestPlanRollbackWorkload(t *testing.T) {
	f := newFixture(t, liveV1(t, 1, 1), deployment("v2", 1, 1), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2"))
	got := plan(t, f, rollbackStep(t))

	require.Equal(t, []string{"apiVersion", "kind", "metadata", "spec"}, sortedKeys(got.Workload), "no status")
	require.Equal(t, "apps/v1", got.Workload["apiVersion"])
	require.Equal(t, "Deployment", got.Workload["kind"])
	meta, ok := got.Workload["metadata"].(map[string]any)
	require.True(t, ok)
	require.Equal(t, []string{"annotations", "labels", "name", "namespace"}, sortedKeys(meta),
		"no uid, resourceVersion, generation, creationTimestamp, managedFields")
	require.Equal(t, []string{contract.AnnotationPodSpecHash, contract.AnnotationVersion}, sortedKeys(meta["annotations"].(map[string]any)),
		"last-applied and deployment.kubernetes.io annotations dropped")
	require.Equal(t, []string{contract.AnnotationPodSpecHash, contract.AnnotationVersion}, sortedKeys(got.Patch.Annotations))

	live := liveV1(t, 1, 1)
	w := decodeWorkload(t, got.Workload)
	require.Equal(t, live.Labels, w.Labels)
	require.Equal(t, int32(2), *w.Spec.Replicas)
	require.Equal(t, live.Spec.Template, w.Spec.Template, "the live pod template, unchanged")
	require.Equal(t, live.Spec.Selector, w.Spec.Selector)
	require.Equal(t, live.Spec.Strategy, w.Spec.Strategy)
	require.Equal(t, "docker.io/istio/examples-bookinfo-reviews-v1:1.16.2", getPath(got.Patch.Template, "spec", "containers").([]any)[0].(map[string]any)["image"])
	// The API server's zero creationTimestamp is not the owner's: applying
	// it would add a null that vela re-exports.
	require.NotContains(t, getPath(got.Patch.Template, "metadata"), "creationTimestamp")
	require.NotContains(t, getPath(got.Workload, "spec", "template", "metadata"), "creationTimestamp")
}

func TestPlanFirstVersion(t *testing.T) {
	// canary-rollout on a component that has no other version yet: the
	// rendered version gets everything, and Istio objects are created.
	first := func(t *testing.T) *PlanParams {
		p := planStep(t, nil)
		p.Workload = rendered(t, renderedAs("v1"))
		return p
	}
	tests := []struct {
		name   string
		params func(*testing.T) *PlanParams
		live   []runtime.Object
		want   wantPlan
	}{
		{
			name:   "nothing live",
			params: first,
			want: wantPlan{
				target: "reviews-v1", replicas: 2, patchHTTP: []string{"v1=100"}, patchSubsets: []string{"v1"},
				canary: "v1", message: "reviews: waiting for reviews-v1: 0/2 ready",
			},
		},
		{
			name: "batchPartition 0 still gives the only version all instances",
			params: func(t *testing.T) *PlanParams {
				p := first(t)
				p.BatchPartition = ptr(0)
				return p
			},
			want: wantPlan{
				target: "reviews-v1", replicas: 2, patchHTTP: []string{"v1=100"}, patchSubsets: []string{"v1"}, canary: "v1",
			},
		},
		{
			name:   "ready: VirtualService and DestinationRule created",
			params: first,
			live:   []runtime.Object{deployment("v1", 2, 2)},
			want: wantPlan{
				ready: true, route: true, target: "reviews-v1", replicas: 2,
				patchHTTP: []string{"v1=100"}, patchSubsets: []string{"v1"},
				vs: []string{"v1=100"}, dr: []string{"v1"}, phase: contract.PhaseCompleted, canary: "v1",
				message: "reviews: reviews-v1 2/2 ready; traffic reviews-v1 100%",
			},
		},
		{
			name:   "done",
			params: first,
			live:   []runtime.Object{deployment("v1", 2, 2), virtualService(r("v1", 100)), destinationRule("v1")},
			want: wantPlan{
				ready: true, route: true, done: true, target: "reviews-v1", replicas: 2,
				patchHTTP: []string{"v1=100"}, patchSubsets: []string{"v1"},
				vs: []string{"v1=100"}, dr: []string{"v1"}, phase: contract.PhaseCompleted, canary: "v1",
			},
		},
		{
			name: "weightedTargets naming the canary",
			params: func(t *testing.T) *PlanParams {
				p := first(t)
				p.WeightedTargets = []WeightedTarget{wt("canary", 100)}
				return p
			},
			live: []runtime.Object{deployment("v1", 2, 2)},
			want: wantPlan{
				ready: true, route: true, target: "reviews-v1", replicas: 2,
				patchHTTP: []string{"v1=100"}, patchSubsets: []string{"v1"},
				vs: []string{"v1=100"}, dr: []string{"v1"}, phase: contract.PhaseCompleted, canary: "v1",
			},
		},
		{
			name: "rollback with nothing to roll back to keeps the only version",
			params: func(t *testing.T) *PlanParams {
				p := first(t)
				p.Action = ActionRollback
				return p
			},
			live: []runtime.Object{deployment("v1", 2, 2), virtualService(r("v1", 100)), destinationRule("v1")},
			want: wantPlan{
				ready: true, route: true, done: true, target: "reviews-v1", replicas: 2,
				patchHTTP: []string{"v1=100"}, patchSubsets: []string{"v1"},
				vs: []string{"v1=100"}, dr: []string{"v1"}, phase: contract.PhaseCompleted, canary: "v1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.live...)
			checkPlan(t, plan(t, f, tt.params(t)), tt.want)
		})
	}

	t.Run("a new VirtualService and DestinationRule are complete objects", func(t *testing.T) {
		f := newFixture(t, deployment("v1", 2, 2))
		got := plan(t, f, first(t))
		vs := decodeVS(t, got.VirtualService)
		require.Equal(t, []string{testComp}, vs.spec.Hosts)
		require.Len(t, vs.spec.Http, 1)
		require.Equal(t, map[string]string{contract.LabelAppName: testApp, contract.LabelComponent: testComp}, vs.meta.Labels)
		require.Equal(t, map[string]string{contract.AnnotationCanary: "v1", contract.AnnotationPhase: contract.PhaseCompleted}, vs.meta.Annotations)
		dr := decodeDR(t, got.DestinationRule)
		require.Equal(t, testComp, dr.spec.Host)
		require.Equal(t, map[string]string{contract.LabelAppName: testApp, contract.LabelComponent: testComp}, dr.meta.Labels)
	})
}

// TestPlanWeights covers how weightedTargets and batches become weights.
func TestPlanWeights(t *testing.T) {
	ready := []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1")}
	tests := []struct {
		name   string
		params func(*testing.T) *PlanParams
		live   []runtime.Object
		vs     []string
		dr     []string
	}{
		{
			name:   "component-version names",
			params: func(t *testing.T) *PlanParams { return planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)) },
			vs:     []string{"v1=90", "v2=10"}, dr: []string{"v1", "v2"},
		},
		{
			name:   "version names",
			params: func(t *testing.T) *PlanParams { return planStep(t, ptr(0), wt("v1", 80), wt("v2", 20)) },
			vs:     []string{"v1=80", "v2=20"}, dr: []string{"v1", "v2"},
		},
		{
			name:   "stable and canary",
			params: func(t *testing.T) *PlanParams { return planStep(t, ptr(0), wt("canary", 30), wt("stable", 70)) },
			vs:     []string{"v1=70", "v2=30"}, dr: []string{"v1", "v2"},
		},
		{
			name: "one version named twice",
			params: func(t *testing.T) *PlanParams {
				return planStep(t, ptr(0), wt("stable", 50), wt("reviews-v1", 25), wt("v2", 25))
			},
			vs: []string{"v1=75", "v2=25"}, dr: []string{"v1", "v2"},
		},
		{
			name:   "a zero weight drops the destination and its subset",
			params: func(t *testing.T) *PlanParams { return planStep(t, ptr(0), wt("reviews-v1", 100), wt("reviews-v2", 0)) },
			vs:     []string{"v1=100"}, dr: []string{"v1"},
		},
		{
			name: "targets naming another component of the step are left to it",
			params: func(t *testing.T) *PlanParams {
				p := planStep(t, ptr(0), wt("ratings-v2", 0), wt("reviews-v1", 90), wt("reviews-v2", 10))
				p.Components = []string{"ratings", testComp}
				return p
			},
			vs: []string{"v1=90", "v2=10"}, dr: []string{"v1", "v2"},
		},
		{
			name:   "without weightedTargets the traffic follows the instances",
			params: func(t *testing.T) *PlanParams { return planStep(t, ptr(0)) },
			vs:     []string{"v1=50", "v2=50"}, dr: []string{"v1", "v2"},
		},
		{
			name: "without weightedTargets, rounded to whole percents adding up to 100",
			params: func(t *testing.T) *PlanParams {
				p := planStep(t, ptr(0))
				p.Rollout = RolloutSpec{TargetSize: 3, RolloutBatches: []Batch{{2}, {1}}, Version: "v2"}
				return p
			},
			live: []runtime.Object{deployment("v1", 3, 3), deployment("v2", 2, 2), virtualService(r("v1", 100)), destinationRule("v1")},
			vs:   []string{"v1=33", "v2=67"}, dr: []string{"v1", "v2"},
		},
		{
			name: "without batchPartition every batch rolls",
			params: func(t *testing.T) *PlanParams {
				return planStep(t, nil)
			},
			live: []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			vs:   []string{"v2=100"}, dr: []string{"v2"},
		},
		{
			name: "without rolloutBatches one batch of targetSize",
			params: func(t *testing.T) *PlanParams {
				p := planStep(t, ptr(0), wt("reviews-v2", 100))
				p.Rollout.RolloutBatches = nil
				return p
			},
			live: []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), virtualService(r("v1", 100)), destinationRule("v1")},
			vs:   []string{"v2=100"}, dr: []string{"v2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := tt.live
			if live == nil {
				live = ready
			}
			f := newFixture(t, live...)
			got := plan(t, f, tt.params(t))
			require.True(t, got.Route, got.Message)
			require.Equal(t, tt.vs, weights(t, decodeVS(t, got.VirtualService).spec.Http[0].Route))
			require.Equal(t, tt.dr, subsetNames(t, decodeDR(t, got.DestinationRule).spec.Subsets))
			// The patch routes as the VirtualService does once the batch is ready.
			require.Equal(t, tt.vs, weights(t, decodeHTTP(t, got.Patch.HTTP)[0].Route))
		})
	}
}

// TestPlanBatches checks the instances each batchPartition gives the new
// version and leaves the old one.
func TestPlanBatches(t *testing.T) {
	spec := RolloutSpec{TargetSize: 6, RolloutBatches: []Batch{{1}, {2}, {3}}, Version: "v2"}
	for _, tt := range []struct {
		partition      *int
		canary, stable int
	}{
		{ptr(0), 1, 5},
		{ptr(1), 3, 3},
		{ptr(2), 6, 0},
		{nil, 6, 0},
	} {
		name := "all"
		if tt.partition != nil {
			name = string(rune('0' + *tt.partition))
		}
		t.Run("batchPartition "+name, func(t *testing.T) {
			f := newFixture(t, deployment("v1", 6, 6), virtualService(r("v1", 100)), destinationRule("v1"))
			p := planStep(t, tt.partition)
			p.Rollout = spec
			got := plan(t, f, p)
			require.Equal(t, tt.canary, got.Patch.Replicas)
			require.Equal(t, &Retire{Name: "reviews-v1", Replicas: tt.stable}, got.Retire)
		})
	}
}

// TestPlanWithoutTraffic: a component without canary-traffic and without a
// VirtualService gets instances only.
func TestPlanWithoutTraffic(t *testing.T) {
	p := func(t *testing.T) *PlanParams {
		p := planStep(t, ptr(0))
		p.Traffic = nil
		return p
	}
	tests := []struct {
		name string
		live []runtime.Object
		want wantPlan
	}{
		{
			name: "waiting",
			live: []runtime.Object{deployment("v1", 2, 2)},
			want: wantPlan{target: "reviews-v2", replicas: 1, retire: &Retire{Name: "reviews-v1", Replicas: 1}, stable: "v1", canary: "v2"},
		},
		{
			name: "ready: route is allowed but there is nothing to route",
			live: []runtime.Object{deployment("v1", 2, 2), deployment("v2", 1, 1)},
			want: wantPlan{ready: true, route: true, target: "reviews-v2", replicas: 1, retire: &Retire{Name: "reviews-v1", Replicas: 1}, stable: "v1", canary: "v2",
				message: "reviews: reviews-v2 1/1 ready, reviews-v1 1 instance"},
		},
		{
			name: "done once the old version is scaled",
			live: []runtime.Object{deployment("v1", 1, 1), deployment("v2", 1, 1)},
			want: wantPlan{ready: true, route: true, done: true, target: "reviews-v2", replicas: 1, retire: &Retire{Name: "reviews-v1", Replicas: 1}, stable: "v1", canary: "v2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.live...)
			checkPlan(t, plan(t, f, p(t)), tt.want)
		})
	}

	t.Run("every patch field is present, empty rather than absent", func(t *testing.T) {
		// The step refers to the patch fields without conditionals.
		f := newFixture(t, deployment("v1", 2, 2))
		_, ctx := ktesting.NewTestContext(t)
		res, err := f.plan(ctx, p(t), nil)
		require.NoError(t, err)
		patch := throughJSON[map[string]any](t, res)["patch"].(map[string]any)
		require.Equal(t, []string{"annotations", "gatewayHTTP", "http", "labels", "name", "replicas", "selector", "subsets", "template"}, sortedKeys(patch))
		require.Equal(t, []any{}, patch["http"])
		require.Equal(t, []any{}, patch["subsets"])
	})
}

// TestPlanTrafficFromLiveVirtualService: without the canary-traffic trait in
// the call, a live VirtualService still routes the component, with its port.
func TestPlanTrafficFromLiveVirtualService(t *testing.T) {
	f := newFixture(t, deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1"))
	p := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	p.Traffic = nil
	got := plan(t, f, p)
	// weights() checks the port of every destination.
	require.Equal(t, []string{"v1=90", "v2=10"}, weights(t, decodeVS(t, got.VirtualService).spec.Http[0].Route))
	require.Equal(t, []string{"v1=90", "v2=10"}, weights(t, decodeHTTP(t, got.Patch.HTTP)[0].Route))
}

// TestPlanKeepsUnmanagedFields: the planned VirtualService and
// DestinationRule start from the live ones, so what users or other traits set
// stays, and only what an apply must not carry goes.
func TestPlanKeepsUnmanagedFields(t *testing.T) {
	vs := virtualService(r("v1", 100))
	vs.Labels["team"] = "bookinfo"
	vs.Annotations = map[string]string{
		"owner":                  "reviews-team",
		contract.AnnotationPhase: contract.PhaseCompleted,
		"kubectl.kubernetes.io/last-applied-configuration": "{}",
	}
	vs.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "vela-core"}}
	vs.Spec.Gateways = []string{"mesh"}
	vs.Spec.Http[0].Name = "primary"
	vs.Spec.Http[0].Match = []*istioapi.HTTPMatchRequest{{Uri: prefixMatch("/reviews")}}
	vs.Spec.Http[0].Timeout = durationpb.New(5 * time.Second)
	vs.Spec.Http[0].Retries = &istioapi.HTTPRetry{Attempts: 3}
	vs.Spec.Http = append(vs.Spec.Http, &istioapi.HTTPRoute{
		Name:  "fallback",
		Route: []*istioapi.HTTPRouteDestination{{Destination: &istioapi.Destination{Host: "reviews-fallback"}}},
	})
	dr := destinationRule("v1")
	dr.Spec.TrafficPolicy = &istioapi.TrafficPolicy{Tls: &istioapi.ClientTLSSettings{Mode: istioapi.ClientTLSSettings_ISTIO_MUTUAL}}

	f := newFixture(t, deployment("v1", 2, 2), deployment("v2", 1, 1), vs, dr)
	got := plan(t, f, planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10)))

	planned := decodeVS(t, got.VirtualService)
	require.Equal(t, []string{"annotations", "labels", "name", "namespace"}, sortedKeys(planned.raw["metadata"].(map[string]any)),
		"no resourceVersion, uid or managedFields in an applied manifest")
	require.NotContains(t, planned.raw, "status")
	require.Equal(t, "bookinfo", planned.meta.Labels["team"])
	require.Equal(t, map[string]string{"owner": "reviews-team", contract.AnnotationPhase: contract.PhaseProgressing, contract.AnnotationStable: "v1", contract.AnnotationCanary: "v2"}, planned.meta.Annotations)
	require.Equal(t, []string{"mesh"}, planned.spec.Gateways)
	require.Len(t, planned.spec.Http, 2)
	first := planned.spec.Http[0]
	require.Equal(t, "primary", first.Name)
	require.Equal(t, "/reviews", first.Match[0].Uri.GetPrefix())
	require.Equal(t, int64(5), first.Timeout.GetSeconds())
	require.Equal(t, int32(3), first.Retries.GetAttempts())
	require.Equal(t, []string{"v1=90", "v2=10"}, weights(t, first.Route))
	require.Equal(t, "fallback", planned.spec.Http[1].Name)
	require.Equal(t, "reviews-fallback", planned.spec.Http[1].Route[0].Destination.Host)

	patch := decodeHTTP(t, got.Patch.HTTP)
	require.Len(t, patch, 2, "the patch replaces spec.http whole, so it carries the other routes")
	require.Equal(t, "/reviews", patch[0].Match[0].Uri.GetPrefix())
	require.Equal(t, "fallback", patch[1].Name)

	plannedDR := decodeDR(t, got.DestinationRule)
	require.Equal(t, istioapi.ClientTLSSettings_ISTIO_MUTUAL, plannedDR.spec.TrafficPolicy.GetTls().GetMode(), "trafficPolicy kept")
	require.Equal(t, []string{"v1", "v2"}, subsetNames(t, plannedDR.spec.Subsets))
}

// TestPlanPicksStable: the stable version is the one the VirtualService
// sends traffic to, else the one with the most ready instances.
func TestPlanPicksStable(t *testing.T) {
	v0 := func() *appsv1.Deployment { return deployment("v0", 3, 3) }
	// A third version with instances is phased out first (see
	// TestPlanPhasesOutAnOvertakenCanaryFirst): retire names it.
	tests := []struct {
		name           string
		live           []runtime.Object
		stable, retire string
	}{
		{"most traffic wins over most ready", []runtime.Object{v0(), deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1")}, "v1", "v0"},
		{"without routes, most ready", []runtime.Object{v0(), deployment("v1", 2, 2), deployment("v2", 1, 1)}, "v0", "v1"},
		{"the rendered version is never stable", []runtime.Object{deployment("v1", 1, 1), deployment("v2", 2, 2), virtualService(r("v2", 100)), destinationRule("v2")}, "v1", "v1"},
		{"equal traffic and readiness: the first name", []runtime.Object{deployment("v1", 1, 1), deployment("v0", 1, 1), deployment("v2", 1, 1)}, "v0", "v1"},
		{"a Deployment being deleted is not a version", []runtime.Object{deployment("v0", 2, 2, deleting), deployment("v1", 2, 2), deployment("v2", 1, 1)}, "v1", "v1"},
		{"a Deployment without a version label is not a version", []runtime.Object{deployment("v0", 5, 5, unversioned), deployment("v1", 2, 2), deployment("v2", 1, 1)}, "v1", "v1"},
		{"another component's Deployment is not a version", []runtime.Object{deployment("v0", 5, 5, deploymentOf(testApp, "ratings")), deployment("v1", 2, 2), deployment("v2", 1, 1)}, "v1", "v1"},
		{"a third version without instances is left alone", []runtime.Object{deployment("v0", 0, 0), deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1")}, "v1", "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plan(t, newFixture(t, tt.live...), planStep(t, ptr(0)))
			require.Equal(t, tt.stable, got.Stable)
			require.Equal(t, "reviews-"+tt.retire, got.Retire.Name)
		})
	}
}

// TestPlanPhasesOutAnOvertakenCanaryFirst: v3 is released while v2 waits
// at 90/10. Once v3's instance is ready the routes leave v2, and v2 is
// scaled to 0 at once; then the stable v1 keeps the instances the batch
// leaves it, as in any rollout.
func TestPlanPhasesOutAnOvertakenCanaryFirst(t *testing.T) {
	step := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v3", 10))
	step.Workload, step.Rollout.Version = rendered(t, renderedAs("v3")), "v3"
	routes := []runtime.Object{virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")}

	waiting := plan(t, newFixture(t, append(routes, deployment("v1", 1, 1), deployment("v2", 1, 1), deployment("v3", 1, 0))...), step)
	require.Equal(t, "v1", waiting.Stable)
	require.False(t, waiting.Route, "v3 is not ready: v2 keeps its 10%")
	require.Equal(t, &Retire{Name: "reviews-v2", Replicas: 0}, waiting.Retire)
	require.False(t, waiting.RetireNow, "not while v2 has traffic")

	ready := plan(t, newFixture(t, append(routes, deployment("v1", 1, 1), deployment("v2", 1, 1), deployment("v3", 1, 1))...), step)
	require.True(t, ready.Route)
	require.Equal(t, []string{"v1=90", "v3=10"}, weights(t, decodeVS(t, ready.VirtualService).spec.Http[0].Route))
	require.Equal(t, &Retire{Name: "reviews-v2", Replicas: 0}, ready.Retire)
	require.True(t, ready.RetireNow, "after the routes")
	require.False(t, ready.Done, "v2 still has its instance")

	routed := []runtime.Object{virtualService(r("v1", 90), r("v3", 10)), destinationRule("v1", "v3")}
	gone := plan(t, newFixture(t, append(routed, deployment("v1", 1, 1), deployment("v2", 0, 0), deployment("v3", 1, 1))...), step)
	require.Equal(t, &Retire{Name: "reviews-v1", Replicas: 1}, gone.Retire, "then the stable, as in any rollout")
	require.True(t, gone.Done, gone.Message)
}

// TestPlanIsIdempotent: the same state plans the same answer, and Plan does
// not change its input.
func TestPlanIsIdempotent(t *testing.T) {
	f := newFixture(t, deployment("v1", 2, 2), deployment("v2", 1, 1), virtualService(r("v1", 100)), destinationRule("v1"))
	in := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	before := throughJSON[map[string]any](t, in)
	_, ctx := ktesting.NewTestContext(t)
	first, err := f.plan(ctx, in, nil)
	require.NoError(t, err)
	second, err := f.plan(ctx, in, nil)
	require.NoError(t, err)
	require.Equal(t, throughJSON[map[string]any](t, first), throughJSON[map[string]any](t, second))
	require.Equal(t, before, throughJSON[map[string]any](t, in), "Plan changed its input")
	require.Equal(t, float64(2), getPath(in.Workload, "spec", "replicas"), "the rendered workload's replicas")
	f.requireReadOnly(t)
}

func prefixMatch(p string) *istioapi.StringMatch {
	return &istioapi.StringMatch{MatchType: &istioapi.StringMatch_Prefix{Prefix: p}}
}

// deleting: the Deployment has a deletion timestamp.
func deleting(d *appsv1.Deployment) {
	now := metav1.Now()
	d.DeletionTimestamp = &now
	d.Finalizers = []string{"example.com/hold"}
}

// unversioned: the Deployment's pods have no version label.
func unversioned(d *appsv1.Deployment) { delete(d.Spec.Template.Labels, contract.LabelVersion) }

// TestPlanRoutesWithoutPort: without canary-traffic's port and without a
// port on the live routes, destinations carry no port (Istio picks the
// Service's only one).
func TestPlanRoutesWithoutPort(t *testing.T) {
	vs := virtualService(r("v1", 100))
	vs.Spec.Http[0].Route[0].Destination.Port = nil
	f := newFixture(t, deployment("v1", 2, 2), deployment("v2", 1, 1), vs, destinationRule("v1"))
	p := planStep(t, ptr(0), wt("reviews-v1", 90), wt("reviews-v2", 10))
	p.Traffic = nil
	got := plan(t, f, p)
	planned := decodeVS(t, got.VirtualService)
	require.Len(t, planned.spec.Http[0].Route, 2)
	for _, rd := range planned.spec.Http[0].Route {
		require.Nil(t, rd.Destination.Port, "subset %s", rd.Destination.Subset)
		require.Equal(t, testComp, rd.Destination.Host)
	}
}
