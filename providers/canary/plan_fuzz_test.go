package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	istioapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// fuzzState is one live state and step, built from the fuzzer's bytes. The
// stable candidate is reviews-v1, the rendered (canary) version reviews-v2;
// routes and subsets may also name v3, which has no Deployment, as a
// VirtualService left behind by an earlier rollout would.
type fuzzState struct {
	v1, v2            *fuzzDeployment // nil: no Deployment
	vs                bool            // a VirtualService exists
	routes            []route         // its destinations, any weights, maybe one subset twice
	recorded          uint8           // roles recorded on the VirtualService: none, v1→v2, v2→v1
	dr                bool            // a DestinationRule exists
	subsets           []string        // its subsets
	traffic           bool            // the component has canary-traffic
	rollback          bool
	batches           []int
	targetSize        int
	partition         *int
	targets           []WeightedTarget
	canaryStale       bool // the controller has not observed reviews-v2's spec
	canaryOtherPodTpl bool // reviews-v2 runs another pod template
	overtaken         bool // a reviews-v3 Deployment with one ready instance
}

type fuzzDeployment struct{ replicas, ready, updated int32 }

var fuzzVersions = [3]string{"v1", "v2", "v3"}

// fuzzRevisions are the names a weighted target may give: valid ones of
// every form, another component's, and an unknown version.
var fuzzRevisions = []string{"reviews-v1", "reviews-v2", "stable", "canary", "v1", "v2", "reviews-v3", "ratings-v1"}

// Flags of newFuzzState.
const (
	fuzzCanaryStale  = 1 << iota // reviews-v2's status is stale
	fuzzOtherPodTpl              // reviews-v2 runs another pod template
	fuzzTargetsTo100             // the last target's weight makes the sum 100
	fuzzRecordedV1V2             // the VirtualService records v1 stable, v2 canary
	fuzzRecordedV2V1             // ... or the other way round
	fuzzOvertakenV3              // reviews-v3 runs too: the canary of a release this one overtook
)

// newFuzzState decodes the fuzzer's arguments. v1 and v2 are a Deployment's
// replicas, ready and updated instances (empty: no Deployment; missing bytes
// are 0); routes are (version, weight) pairs; subsets one version a byte;
// targets (revision, weight) pairs; a partition of -1 is none.
func newFuzzState(v1, v2 []byte, vs bool, routes []byte, dr bool, subsets []byte, traffic, rollback bool,
	batches []byte, sizeDelta, partition int8, targets []byte, flags uint8) fuzzState {
	s := fuzzState{
		v1: fuzzDep(v1), v2: fuzzDep(v2),
		vs: vs, dr: dr, traffic: traffic, rollback: rollback,
		canaryStale:       flags&fuzzCanaryStale != 0,
		canaryOtherPodTpl: flags&fuzzOtherPodTpl != 0,
		overtaken:         flags&fuzzOvertakenV3 != 0,
	}
	switch {
	case flags&fuzzRecordedV1V2 != 0:
		s.recorded = 1
	case flags&fuzzRecordedV2V1 != 0:
		s.recorded = 2
	}
	for i := 0; i+1 < len(routes) && i < 8; i += 2 {
		s.routes = append(s.routes, r(fuzzVersions[routes[i]%3], int32(routes[i+1])))
	}
	seen := map[string]bool{}
	for _, b := range subsets {
		if v := fuzzVersions[b%3]; !seen[v] {
			seen[v] = true
			s.subsets = append(s.subsets, v)
		}
	}
	if len(batches) > 4 {
		batches = batches[:4]
	}
	for _, b := range batches {
		s.batches = append(s.batches, int(b%5)) // 0 is an input error
	}
	// Mostly a consistent targetSize: a wrong one is an input error, which
	// ends the run early.
	s.targetSize = int(sizeDelta)
	if sizeDelta >= -2 && sizeDelta <= 2 {
		s.targetSize = 0
		for _, b := range s.batches {
			s.targetSize += b
		}
		if len(s.batches) == 0 {
			s.targetSize = 2
		}
		if sizeDelta == 2 {
			s.targetSize++
		}
	}
	if partition != -1 {
		p := int(partition)
		if p >= 0 {
			p %= 5
		}
		s.partition = &p
	}
	sum := 0
	for i := 0; i+1 < len(targets) && i < 6; i += 2 {
		w := int(int8(targets[i+1]))
		s.targets = append(s.targets, wt(fuzzRevisions[int(targets[i])%len(fuzzRevisions)], w))
		sum += w
	}
	if n := len(s.targets); n > 0 && flags&fuzzTargetsTo100 != 0 {
		s.targets[n-1].Weight = 100 - (sum - s.targets[n-1].Weight)
	}
	return s
}

// fuzzDep is a Deployment's counts; small ones, because what matters is how
// they compare, and small values make equal ones likely.
func fuzzDep(b []byte) *fuzzDeployment {
	if len(b) == 0 {
		return nil
	}
	var c [3]byte // copied: the fuzzer's input must not change
	copy(c[:], b)
	return &fuzzDeployment{int32(c[0] % 6), int32(c[1] % 6), int32(c[2] % 6)}
}

func (s fuzzState) objects() []runtime.Object {
	var objs []runtime.Object
	for _, d := range []struct {
		ver string
		c   *fuzzDeployment
	}{{"v1", s.v1}, {"v2", s.v2}, {"v3", map[bool]*fuzzDeployment{true: {1, 1, 1}}[s.overtaken]}} {
		if d.c == nil {
			continue
		}
		var opts []func(*appsv1.Deployment)
		opts = append(opts, updated(d.c.updated))
		if d.ver == "v2" && s.canaryStale {
			opts = append(opts, stale)
		}
		if d.ver == "v2" && s.canaryOtherPodTpl {
			opts = append(opts, withHash(podHash["v3"]))
		}
		objs = append(objs, deployment(d.ver, d.c.replicas, d.c.ready, opts...))
	}
	if s.vs {
		vs := virtualService(s.routes...)
		switch s.recorded {
		case 1:
			vs.Annotations = map[string]string{contract.AnnotationStable: "v1", contract.AnnotationCanary: "v2"}
		case 2:
			vs.Annotations = map[string]string{contract.AnnotationStable: "v2", contract.AnnotationCanary: "v1"}
		}
		objs = append(objs, vs)
	}
	if s.dr {
		objs = append(objs, destinationRule(s.subsets...))
	}
	return objs
}

func (s fuzzState) params(workload map[string]any) *PlanParams {
	p := &PlanParams{
		Caller:          testCaller(),
		Action:          ActionRollout,
		Workload:        workload,
		Rollout:         RolloutSpec{TargetSize: s.targetSize, Version: "v2"},
		BatchPartition:  s.partition,
		WeightedTargets: s.targets,
		Components:      []string{testComp},
	}
	for _, b := range s.batches {
		p.Rollout.RolloutBatches = append(p.Rollout.RolloutBatches, Batch{Replicas: b})
	}
	if s.rollback {
		p.Action = ActionRollback
	}
	if s.traffic {
		p.Traffic = &TrafficSpec{Port: testPort}
	}
	return p
}

// lastBatch reports whether the step rolls the last batch.
func (s fuzzState) lastBatch() bool {
	return s.partition == nil || *s.partition == max(len(s.batches), 1)-1
}

// fuzzRounds bounds how many reconciles a step may take, with every pod
// becoming ready between them, before it must be done: instances, then
// routes, then an overtaken canary's instances, then the old version's, and
// one more to see it.
const fuzzRounds = 7

// FuzzPlan plans a step against random live states and checks what must
// hold whatever the state (docs/design.md, "Order of changes"). Then it plays
// the step: applies what the plan says as the step would, lets every pod
// become ready and plans again, until the plan is done; from there, applying
// and planning again must change nothing.
func FuzzPlan(f *testing.F) {
	// The seed's states: step 1 and step 3 of rollout-v2 (90/10, then all
	// to v2) and a rollback, from the start and from the middle. Routes are
	// (version index, weight) pairs, targets (revision index, weight).
	//    v1          v2          vs    routes                  dr    subsets          traffic rollback batches       size     partition targets            flags
	f.Add([]byte{2, 2, 2}, []byte{}, true, []byte{0, 100}, true, []byte{0}, true, false, []byte{1, 1}, int8(0), int8(0), []byte{0, 90, 1, 10}, uint8(0))
	f.Add([]byte{2, 2, 2}, []byte{1, 1, 1}, true, []byte{0, 90, 1, 10}, true, []byte{0, 1}, true, false, []byte{1, 1}, int8(0), int8(1), []byte{1, 100}, uint8(fuzzRecordedV1V2))
	f.Add([]byte{1, 1, 1}, []byte{1, 1, 1}, true, []byte{0, 90, 1, 10}, true, []byte{0, 1}, true, true, []byte{1, 1}, int8(0), int8(-1), []byte{}, uint8(fuzzRecordedV1V2))
	// No stable version, no routes yet, no canary-traffic.
	f.Add([]byte{}, []byte{}, false, []byte{}, false, []byte{}, false, false, []byte{3}, int8(0), int8(-1), []byte{}, uint8(0))
	// Weights that do not add up to 100, a stale subset, a stale canary
	// and targets by role.
	f.Add([]byte{3, 0, 3}, []byte{1}, true, []byte{0, 50, 1, 20, 2, 5}, true, []byte{0, 2}, true, false, []byte{1, 2}, int8(1), int8(0), []byte{2, 60, 3, 0}, uint8(fuzzCanaryStale|fuzzTargetsTo100|fuzzRecordedV2V1))

	// A release overtaking one that waits at 90/10 on v3.
	f.Add([]byte{1, 1, 1}, []byte{}, true, []byte{0, 90, 2, 10}, true, []byte{0, 2}, true, false, []byte{1, 1}, int8(0), int8(0), []byte{0, 90, 1, 10}, uint8(fuzzOvertakenV3))

	workload := rendered(f)
	f.Fuzz(func(t *testing.T, v1, v2 []byte, vs bool, routes []byte, dr bool, subsets []byte, traffic, rollback bool,
		batches []byte, sizeDelta, partition int8, targets []byte, flags uint8) {
		s := newFuzzState(v1, v2, vs, routes, dr, subsets, traffic, rollback, batches, sizeDelta, partition, targets, flags)
		s.play(t, workload)
	})
}

// play plans the step round after round, checking every plan, applying it
// and letting every pod become ready in between.
func (s fuzzState) play(t *testing.T, workload map[string]any) {
	f := newFixture(t, s.objects()...)
	_, ctx := ktesting.NewTestContext(t) // Scale logs what it writes: shown only when the input fails
	params := func() *PlanParams { return s.params(throughJSON[map[string]any](t, workload)) }
	for round := 0; round < fuzzRounds; round++ {
		before := f.snapshot(t)
		res := s.plan(ctx, t, f, params())
		if res == nil {
			require.Zero(t, round, "a step that planned once fails after applying its own plan")
			return
		}
		s.check(t, before, res)
		if res.Done {
			// Done: one more apply and plan change nothing.
			s.apply(ctx, t, f, res)
			f.allReady(t)
			after := f.snapshot(t)
			again := s.plan(ctx, t, f, params())
			require.NotNil(t, again)
			require.True(t, again.Done, "done, then not done after applying that plan: %s", again.Message)
			s.check(t, after, again)
			s.apply(ctx, t, f, again)
			f.allReady(t)
			require.Equal(t, after, f.snapshot(t), "applying a done plan changed the cluster")
			return
		}
		s.apply(ctx, t, f, res)
		f.allReady(t)
	}
	t.Fatalf("not done after %d rounds with every pod ready; cluster %v", fuzzRounds, f.snapshot(t))
}

// plan calls Plan, which must only read; nil for an input error.
func (s fuzzState) plan(ctx context.Context, t *testing.T, f fixture, p *PlanParams) *PlanResult {
	f.kube.ClearActions()
	f.istio.ClearActions()
	res, err := f.plan(ctx, p, nil)
	f.requireReadOnly(t)
	if err != nil {
		require.True(t, IsInputError(err), "the fakes never fail, so only input errors: %v", err)
		return nil
	}
	require.True(t, res.Planned)
	// The step reads the answer as JSON.
	got := throughJSON[PlanResult](t, res)
	return &got
}

// check asserts what must hold of a plan made against the cluster state before.
func (s fuzzState) check(t *testing.T, before fuzzSnapshot, res *PlanResult) {
	t.Helper()
	checkRoute := func(what string, http []*istioapi.HTTPRoute, subsets []string, held bool) {
		t.Helper()
		i := contract.OurRoute(http)
		require.GreaterOrEqual(t, i, 0, "%s has no route", what)
		for _, rd := range http[i].GetRoute() {
			require.GreaterOrEqual(t, rd.GetWeight(), int32(0), "%s: negative weight", what)
		}
		if held && len(before.routes) > 0 && weightSum(before.routes) != 100 {
			// Until the batch is ready the patch holds the live routes as
			// they are (docs/design.md, "How a canary step runs"), even ones
			// that do not add up to 100: it must not change them.
			require.Equal(t, before.routes, contract.Destinations(http[i]), "%s changes the routes it holds", what)
			return
		}
		sum := 0
		for _, d := range contract.Destinations(http[i]) {
			sum += d.Weight
			require.Contains(t, subsets, d.Version, "%s routes to a subset it does not define", what)
			// Weight never moves onto a version without a ready pod, unless
			// there is no route to hold and no pod ready anywhere: a route
			// must then name some version without one.
			unavoidable := held && len(before.routes) == 0 && !before.anyReady()
			require.False(t, !unavoidable && d.Weight > contract.WeightOf(before.routes, d.Version) && before.ready[d.Version] == 0,
				"%s moves traffic onto %s (%d%% -> %d%%), which has no ready pod", what, d.Version, contract.WeightOf(before.routes, d.Version), d.Weight)
		}
		require.Equal(t, 100, sum, "%s: weights must add up to 100", what)
	}
	if res.VirtualService != nil {
		require.True(t, res.Route)
		vs := decodeVS(t, res.VirtualService)
		checkRoute("the VirtualService", vs.spec.Http, subsetNames(t, decodeDR(t, res.DestinationRule).spec.Subsets), false)
	}
	if s.traffic {
		checkRoute("the patch", decodeHTTP(t, res.Patch.HTTP), patchSubsets(t, res.Patch.Subsets), !res.Route)
	}
	require.GreaterOrEqual(t, res.Patch.Replicas, 0)
	if n := decodeWorkload(t, res.Workload).Spec.Replicas; n != nil {
		require.GreaterOrEqual(t, *n, int32(0))
	}
	if res.Retire != nil {
		require.GreaterOrEqual(t, res.Retire.Replicas, 0)
		require.NotEqual(t, res.Patch.Name, res.Retire.Name, "retires the version it scales up")
	}
	if res.Done && !s.rollback && s.lastBatch() {
		require.Equal(t, s.targetSize, before.replicas[testComp+"-v2"], "done with the last batch, but the canary does not have targetSize replicas")
		require.Equal(t, s.targetSize, res.Patch.Replicas)
	}
}

// apply does what the step does with a plan: applies the component with the
// patch (the target Deployment, its instances and annotations; with
// canary-traffic, the held routes and
// subsets too), scales the target, applies the routes and subsets once the
// plan says route, and scales the version being retired when it may.
func (s fuzzState) apply(ctx context.Context, t *testing.T, f fixture, res *PlanResult) {
	t.Helper()
	f.applyDeployment(ctx, t, res)
	if s.traffic {
		f.applyIstio(ctx, t, map[string]any{"spec": map[string]any{"http": res.Patch.HTTP}}, map[string]any{"spec": map[string]any{"subsets": res.Patch.Subsets}})
	}
	if res.Route && res.VirtualService != nil {
		f.applyIstio(ctx, t, res.VirtualService, res.DestinationRule)
	}
	if res.Retire != nil && res.RetireNow {
		_, err := f.scale(ctx, testCaller(), res.Retire.Name, res.Retire.Replicas)
		require.NoError(t, err, "scale %s to %d after the plan said so", res.Retire.Name, res.Retire.Replicas)
	}
}

func (f fixture) applyDeployment(ctx context.Context, t *testing.T, res *PlanResult) {
	t.Helper()
	deployments := f.kube.AppsV1().Deployments(testNS)
	d, err := deployments.Get(ctx, res.Patch.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		d = decodeWorkload(t, res.Workload)
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
// subsets from these manifests (only their specs are read), creating the
// objects where they are missing, and keeps the VirtualService's annotations.
func (f fixture) applyIstio(ctx context.Context, t *testing.T, vsManifest, drManifest map[string]any) {
	t.Helper()
	var want networkingv1.VirtualService
	require.NoError(t, json.Unmarshal(mustJSON(t, vsManifest), &want))
	vss := f.istio.NetworkingV1().VirtualServices(testNS)
	vs, err := vss.Get(ctx, testComp, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		vs = virtualService()
		vs.Spec.Http = want.Spec.Http
		vs.Annotations = want.Annotations
		_, err = vss.Create(ctx, vs, metav1.CreateOptions{})
	} else {
		require.NoError(t, err)
		vs.Spec.Http = want.Spec.Http
		if want.Annotations != nil {
			vs.Annotations = want.Annotations
		}
		_, err = vss.Update(ctx, vs, metav1.UpdateOptions{})
	}
	require.NoError(t, err)

	var wantDR networkingv1.DestinationRule
	require.NoError(t, json.Unmarshal(mustJSON(t, drManifest), &wantDR))
	drs := f.istio.NetworkingV1().DestinationRules(testNS)
	dr, err := drs.Get(ctx, testComp, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		dr = destinationRule()
		dr.Spec.Subsets = wantDR.Spec.Subsets
		_, err = drs.Create(ctx, dr, metav1.CreateOptions{})
	} else {
		require.NoError(t, err)
		dr.Spec.Subsets = wantDR.Spec.Subsets
		_, err = drs.Update(ctx, dr, metav1.UpdateOptions{})
	}
	require.NoError(t, err)
}

func weightSum(dests []contract.Destination) int {
	sum := 0
	for _, d := range dests {
		sum += d.Weight
	}
	return sum
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

// allReady plays the Deployment controller and the kubelet: every
// Deployment's spec is observed and all its replicas run, updated and ready.
func (f fixture) allReady(t *testing.T) {
	t.Helper()
	deployments := f.kube.AppsV1().Deployments(testNS)
	list, err := deployments.List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	for i := range list.Items {
		d := &list.Items[i]
		n := int32(0)
		if d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, ReadyReplicas: n, UpdatedReplicas: n, AvailableReplicas: n}
		_, err := deployments.UpdateStatus(context.Background(), d, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
}

// fuzzSnapshot is what the checks compare: the routes, subsets, recorded
// annotations and the Deployments' replicas and ready instances.
type fuzzSnapshot struct {
	routes      []contract.Destination
	subsets     []string
	annotations map[string]string
	replicas    map[string]int   // by Deployment name
	ready       map[string]int32 // by version
}

func (f fixture) snapshot(t *testing.T) fuzzSnapshot {
	t.Helper()
	ctx := context.Background()
	out := fuzzSnapshot{replicas: map[string]int{}, ready: map[string]int32{}}
	list, err := f.kube.AppsV1().Deployments(testNS).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, d := range list.Items {
		if d.Spec.Replicas != nil {
			out.replicas[d.Name] = int(*d.Spec.Replicas)
		}
		out.ready[d.Spec.Template.Labels[contract.LabelVersion]] = d.Status.ReadyReplicas
	}
	if vs, err := f.istio.NetworkingV1().VirtualServices(testNS).Get(ctx, testComp, metav1.GetOptions{}); err == nil {
		out.routes = contract.ReadRoute(&vs.Spec)
		out.annotations = vs.Annotations
	} else {
		require.True(t, apierrors.IsNotFound(err), "%v", err)
	}
	if dr, err := f.istio.NetworkingV1().DestinationRules(testNS).Get(ctx, testComp, metav1.GetOptions{}); err == nil {
		out.subsets = contract.SubsetVersions(&dr.Spec)
	} else {
		require.True(t, apierrors.IsNotFound(err), "%v", err)
	}
	return out
}

func (s fuzzSnapshot) anyReady() bool {
	for _, n := range s.ready {
		if n > 0 {
			return true
		}
	}
	return false
}

func (s fuzzSnapshot) String() string {
	return fmt.Sprintf("routes %v, subsets %v, replicas %v, ready %v, annotations %v", s.routes, s.subsets, s.replicas, s.ready, s.annotations)
}
