package canary

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"reflect"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
	istioapi "istio.io/api/networking/v1alpha3"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
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
	for _, in := range fuzzPlanSeeds {
		f.Add(in.v1, in.v2, in.vs, in.routes, in.dr, in.subsets, in.traffic, in.rollback, in.batches, in.sizeDelta, in.partition, in.targets, in.flags)
	}
	// An execution allocates half a megabyte and keeps none of it: with the
	// default GOGC the collector ran every few executions, for a fifth of
	// the time.
	gcPercent := debug.SetGCPercent(400)
	f.Cleanup(func() { debug.SetGCPercent(gcPercent) })
	workload := rendered(f)
	// Plan and scale, called as play calls them, read no Application: one
	// client serves every input.
	workflows := workflowruntest.Applications(f, workflowruntest.SeedApplication)
	f.Fuzz(func(t *testing.T, v1, v2 []byte, vs bool, routes []byte, dr bool, subsets []byte, traffic, rollback bool,
		batches []byte, sizeDelta, partition int8, targets []byte, flags uint8) {
		s := newFuzzState(v1, v2, vs, routes, dr, subsets, traffic, rollback, batches, sizeDelta, partition, targets, flags)
		s.play(t, newFuzzFixture(t, workflows, s.objects()...), workload)
	})
}

// fuzzInput is FuzzPlan's arguments, as newFuzzState reads them.
type fuzzInput struct {
	v1, v2               []byte
	vs                   bool
	routes               []byte
	dr                   bool
	subsets              []byte
	traffic, rollback    bool
	batches              []byte
	sizeDelta, partition int8
	targets              []byte
	flags                uint8
}

func (in fuzzInput) state() fuzzState {
	return newFuzzState(in.v1, in.v2, in.vs, in.routes, in.dr, in.subsets, in.traffic, in.rollback, in.batches, in.sizeDelta, in.partition, in.targets, in.flags)
}

// fuzzPlanSeeds are FuzzPlan's seeds: step 1 and step 3 of rollout-v2
// (90/10, then all to v2) and a rollback, from the start and from the
// middle. Routes are (version index, weight) pairs, targets (revision
// index, weight).
var fuzzPlanSeeds = []fuzzInput{
	//  v1          v2          vs    routes                  dr    subsets          traffic rollback batches       size partition targets            flags
	{[]byte{2, 2, 2}, []byte{}, true, []byte{0, 100}, true, []byte{0}, true, false, []byte{1, 1}, 0, 0, []byte{0, 90, 1, 10}, 0},
	{[]byte{2, 2, 2}, []byte{1, 1, 1}, true, []byte{0, 90, 1, 10}, true, []byte{0, 1}, true, false, []byte{1, 1}, 0, 1, []byte{1, 100}, fuzzRecordedV1V2},
	{[]byte{1, 1, 1}, []byte{1, 1, 1}, true, []byte{0, 90, 1, 10}, true, []byte{0, 1}, true, true, []byte{1, 1}, 0, -1, []byte{}, fuzzRecordedV1V2},
	// No stable version, no routes yet, no canary-traffic.
	{[]byte{}, []byte{}, false, []byte{}, false, []byte{}, false, false, []byte{3}, 0, -1, []byte{}, 0},
	// Weights that do not add up to 100, a stale subset, a stale canary
	// and targets by role.
	{[]byte{3, 0, 3}, []byte{1}, true, []byte{0, 50, 1, 20, 2, 5}, true, []byte{0, 2}, true, false, []byte{1, 2}, 1, 0, []byte{2, 60, 3, 0}, fuzzCanaryStale | fuzzTargetsTo100 | fuzzRecordedV2V1},
	// A release overtaking one that waits at 90/10 on v3.
	{[]byte{1, 1, 1}, []byte{}, true, []byte{0, 90, 2, 10}, true, []byte{0, 2}, true, false, []byte{1, 1}, 0, 0, []byte{0, 90, 1, 10}, fuzzOvertakenV3},
}

// play plans the step round after round, checking every plan, applying it
// and letting every pod become ready in between; it returns the plans.
func (s fuzzState) play(tt *testing.T, f fuzzFixture, workload map[string]any) []*stepPlan {
	ctx := fuzzLogContext(tt) // Scale logs what it writes: shown only when the input fails
	t := withoutHelpers{tt}
	// A copy per call, as the server decodes one per call.
	params := func() *PlanParams { return s.params(runtime.DeepCopyJSON(workload)) }
	var plans []*stepPlan
	for round := 0; round < fuzzRounds; round++ {
		before := f.snapshot(t)
		res := s.plan(ctx, t, f, params())
		if res == nil {
			require.Zero(t, round, "a step that planned once fails after applying its own plan")
			return plans
		}
		plans = append(plans, res)
		m := s.check(t, before, res)
		if res.Done {
			// Done: one more apply and plan change nothing.
			s.apply(ctx, t, f, res, m)
			f.allReady(t)
			after := f.snapshot(t)
			again := s.plan(ctx, t, f, params())
			require.NotNil(t, again)
			plans = append(plans, again)
			require.True(t, again.Done, "done, then not done after applying that plan: %s", again.Message)
			m = s.check(t, after, again)
			s.apply(ctx, t, f, again, m)
			f.allReady(t)
			require.Equal(t, after, f.snapshot(t), "applying a done plan changed the cluster")
			return plans
		}
		s.apply(ctx, t, f, res, m)
		f.allReady(t)
	}
	t.Fatalf("not done after %d rounds with every pod ready; cluster %v", fuzzRounds, f.snapshot(t))
	return nil
}

// fuzzWorkerLogs leave out the plan that Plan logs at V(2): formatting it
// took a twentieth of an execution. A failing input replayed with go test
// -run logs it.
var fuzzWorkerLogs = ktesting.NewConfig(ktesting.Verbosity(1))

// fuzzLogContext is the context play calls the provider with, logging
// through t; in a fuzzing process, with fuzzWorkerLogs.
func fuzzLogContext(t *testing.T) context.Context {
	if w := flag.Lookup("test.fuzzworker"); w != nil && w.Value.String() == "true" {
		return klog.NewContext(context.Background(), ktesting.NewLogger(t, fuzzWorkerLogs))
	}
	_, ctx := ktesting.NewTestContext(t)
	return ctx
}

// stepPlan is a plan as the step reads it, from the JSON of the answer,
// with its manifests left as JSON for check to decode strictly into their
// types. (A field of type map[string]any or []any always encodes as an
// object or an array, or null, so decoding the answer into PlanResult's
// maps and lists could not fail: it checked nothing that this skips.)
type stepPlan struct {
	PlanResult
	// These take the members of PlanResult's fields of the same names.
	Patch           *stepPatch      `json:"patch,omitempty"`
	Workload        json.RawMessage `json:"workload,omitempty"`
	VirtualService  json.RawMessage `json:"virtualService,omitempty"`
	DestinationRule json.RawMessage `json:"destinationRule,omitempty"`
	GatewayRoutes   json.RawMessage `json:"gatewayRoutes,omitempty"`
}

type stepPatch struct {
	WorkloadPatch
	Selector    json.RawMessage   `json:"selector"`
	Template    json.RawMessage   `json:"template"`
	HTTP        []json.RawMessage `json:"http"`
	Subsets     []json.RawMessage `json:"subsets"`
	GatewayHTTP []json.RawMessage `json:"gatewayHTTP"`
}

// plan calls Plan, which must only read; nil for an input error.
func (s fuzzState) plan(ctx context.Context, t testing.TB, f fuzzFixture, p *PlanParams) *stepPlan {
	f.clearCalls()
	res, err := f.plan(ctx, p, nil)
	f.requireReadOnly(t)
	if err != nil {
		require.True(t, IsInputError(err), "the cluster never fails, so only input errors: %v", err)
		return nil
	}
	require.True(t, res.Planned)
	// The step reads the answer as JSON.
	got := &stepPlan{}
	require.NoError(t, json.Unmarshal(mustJSON(t, res), got))
	return got
}

// planManifests are a plan's manifests as check decoded them, which apply
// applies: decoding each once keeps the executions short.
type planManifests struct {
	vsAnnotations map[string]string
	vsHTTP        []*istioapi.HTTPRoute // the VirtualService's; nil without one
	drSubsets     []*istioapi.Subset
	patchHTTP     []*istioapi.HTTPRoute // nil without canary-traffic
	patchSubsets  []*istioapi.Subset
	workload      *appsv1.Deployment
}

// check asserts what must hold of a plan made against the cluster state
// before, and returns its manifests.
func (s fuzzState) check(t testing.TB, before fuzzSnapshot, res *stepPlan) planManifests {
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
	var m planManifests
	if len(res.VirtualService) > 0 {
		require.True(t, res.Route)
		vs, dr := decodeVSJSON(t, res.VirtualService), decodeDRJSON(t, res.DestinationRule)
		m.vsAnnotations, m.vsHTTP, m.drSubsets = vs.meta.Annotations, vs.spec.Http, dr.spec.Subsets
		checkRoute("the VirtualService", vs.spec.Http, subsetNames(t, dr.spec.Subsets), false)
	}
	if s.traffic {
		m.patchHTTP, m.patchSubsets = decodeHTTPJSON(t, res.Patch.HTTP), decodeSubsetsJSON(t, res.Patch.Subsets)
		checkRoute("the patch", m.patchHTTP, subsetNames(t, m.patchSubsets), !res.Route)
	}
	require.GreaterOrEqual(t, res.Patch.Replicas, 0)
	m.workload = decodeWorkloadJSON(t, res.Workload)
	if n := m.workload.Spec.Replicas; n != nil {
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
	return m
}

// apply does what the step does with a plan (m: its manifests): applies the
// component with the patch (the target Deployment, its instances and
// annotations; with canary-traffic, the held routes and subsets too),
// scales the target, applies the routes and subsets once the plan says
// route, and scales the version being retired when it may.
func (s fuzzState) apply(ctx context.Context, t testing.TB, f fuzzFixture, res *stepPlan, m planManifests) {
	t.Helper()
	f.applyDeployment(ctx, t, res, m.workload)
	if s.traffic {
		f.applyIstio(ctx, t, nil, m.patchHTTP, m.patchSubsets)
	}
	if res.Route && len(res.VirtualService) > 0 {
		f.applyIstio(ctx, t, m.vsAnnotations, m.vsHTTP, m.drSubsets)
	}
	if res.Retire != nil && res.RetireNow {
		_, err := f.scale(ctx, testCaller(), res.Retire.Name, res.Retire.Replicas)
		require.NoError(t, err, "scale %s to %d after the plan said so", res.Retire.Name, res.Retire.Replicas)
	}
}

func weightSum(dests []contract.Destination) int {
	sum := 0
	for _, d := range dests {
		sum += d.Weight
	}
	return sum
}

// allReady plays the Deployment controller and the kubelet: every
// Deployment's spec is observed and all its replicas run, updated and ready.
func (f fuzzFixture) allReady(t testing.TB) {
	t.Helper()
	deployments := f.Kube.AppsV1().Deployments(testNS)
	list, err := deployments.List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	for i := range list.Items {
		d := &list.Items[i]
		n := int32(0)
		if d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		status := appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, ReadyReplicas: n, UpdatedReplicas: n, AvailableReplicas: n}
		if reflect.DeepEqual(d.Status, status) {
			continue // as a controller, which writes no status that did not change
		}
		d.Status = status
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

func (f fuzzFixture) snapshot(t testing.TB) fuzzSnapshot {
	t.Helper()
	ctx := context.Background()
	out := fuzzSnapshot{replicas: map[string]int{}, ready: map[string]int32{}}
	list, err := f.Kube.AppsV1().Deployments(testNS).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	for _, d := range list.Items {
		if d.Spec.Replicas != nil {
			out.replicas[d.Name] = int(*d.Spec.Replicas)
		}
		out.ready[d.Spec.Template.Labels[contract.LabelVersion]] = d.Status.ReadyReplicas
	}
	if vs, err := f.Istio.NetworkingV1().VirtualServices(testNS).Get(ctx, testComp, metav1.GetOptions{}); err == nil {
		out.routes = contract.ReadRoute(&vs.Spec)
		out.annotations = vs.Annotations
	} else {
		require.True(t, apierrors.IsNotFound(err), "%v", err)
	}
	if dr, err := f.Istio.NetworkingV1().DestinationRules(testNS).Get(ctx, testComp, metav1.GetOptions{}); err == nil {
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
