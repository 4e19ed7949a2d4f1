package canary

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	istioapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/workflowrun/workflowruntest"
)

// The seed story: component reviews of Application book-info in default.
const (
	testNS   = "default"
	testApp  = "book-info"
	testComp = "reviews"
	testPort = 9080
	// testRevision is the revision whose run the seed Application holds.
	testRevision = workflowruntest.SeedRevision
)

// podHash is the canary.oam.dev/pod-template-hash of each version's pod template.
var podHash = map[string]string{"v1": "4d2e8b0a6c", "v2": "7f3a9c2e1b", "v3": "0c1d2e3f4a"}

func testCaller() Caller {
	return Caller{Namespace: testNS, App: testApp, Component: testComp}
}

func ptr[T any](v T) *T { return &v }

func wt(revision string, weight int) WeightedTarget {
	return WeightedTarget{Revision: revision, Weight: weight}
}

// deployment is a live version <component>-<ver> of reviews with the given
// wanted replicas and ready (also updated and available) instances, its
// status observed.
func deployment(ver string, replicas, ready int32, opts ...func(*appsv1.Deployment)) *appsv1.Deployment {
	podLabels := map[string]string{contract.LabelAppName: testApp, contract.LabelComponent: testComp, "app": testComp, contract.LabelVersion: ver}
	d := &appsv1.Deployment{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            testComp + "-" + ver,
			Namespace:       testNS,
			Generation:      2,
			ResourceVersion: "42",
			Labels: map[string]string{
				contract.LabelAppName: testApp, contract.LabelComponent: testComp, contract.LabelAppRevision: testApp + "-" + ver,
				"canary.oam.dev/version": ver,
			},
			Annotations: map[string]string{
				contract.AnnotationVersion: ver, contract.AnnotationPodSpecHash: podHash[ver],
				"deployment.kubernetes.io/revision":                "1",
				"kubectl.kubernetes.io/last-applied-configuration": `{"kind":"Deployment"}`,
			},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{contract.LabelComponent: testComp, "app": testComp, contract.LabelVersion: ver}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  testComp,
					Image: "docker.io/istio/examples-bookinfo-reviews-" + ver + ":1.16.2",
					Ports: []corev1.ContainerPort{{ContainerPort: testPort}},
				}}},
			},
		},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 2,
			Replicas:           replicas,
			ReadyReplicas:      ready,
			UpdatedReplicas:    ready,
			AvailableReplicas:  ready,
		},
	}
	for _, o := range opts {
		o(d)
	}
	return d
}

// stale: the Deployment controller has not seen the latest spec yet.
func stale(d *appsv1.Deployment) { d.Status.ObservedGeneration = d.Generation - 1 }

// updated sets how many instances run the latest pod template.
func updated(n int32) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = n }
}

// deploymentOf relabels a Deployment as another application's component.
func deploymentOf(app, component string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.Labels[contract.LabelAppName], d.Labels[contract.LabelComponent] = app, component
	}
}

// withHash sets the Deployment's pod-template-hash annotation.
func withHash(h string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Annotations[contract.AnnotationPodSpecHash] = h }
}

// liveV1 is testdata/live-reviews-v1.yaml, reviews-v1 as the API server
// returns it, with the given replicas and ready instances.
func liveV1(t testing.TB, replicas, ready int32) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	require.NoError(t, yaml.UnmarshalStrict(readTestdata(t, "live-reviews-v1.yaml"), d))
	d.Spec.Replicas = ptr(replicas)
	d.Status.Replicas, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas = replicas, ready, ready, ready
	return d
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return raw
}

// rendered is the workload the Application renders now, decoded from JSON as
// the provider receives it (numbers are float64): testdata's reviews-v2,
// changed by mods.
func rendered(t testing.TB, mods ...func(map[string]any)) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(readTestdata(t, "rendered-reviews-v2.yaml"), &m))
	for _, mod := range mods {
		mod(m)
	}
	return m
}

// renderedAs renames the rendered workload to version ver.
func renderedAs(ver string) func(map[string]any) {
	return func(m map[string]any) {
		setPath(m, testComp+"-"+ver, "metadata", "name")
		setPath(m, ver, "metadata", "labels", "canary.oam.dev/version")
		setPath(m, ver, "metadata", "annotations", contract.AnnotationVersion)
		setPath(m, podHash[ver], "metadata", "annotations", contract.AnnotationPodSpecHash)
		setPath(m, ver, "spec", "selector", "matchLabels", contract.LabelVersion)
		setPath(m, ver, "spec", "template", "metadata", "labels", contract.LabelVersion)
	}
}

func setPath(m map[string]any, v any, path ...string) {
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

func deletePath(m map[string]any, path ...string) {
	for _, k := range path[:len(path)-1] {
		m, _ = m[k].(map[string]any)
	}
	delete(m, path[len(path)-1])
}

func getPath(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// route is one weighted destination of the VirtualService: "v1=90".
type route struct {
	subset string
	weight int32
}

func r(subset string, weight int32) route { return route{subset, weight} }

// virtualService is the component's VirtualService as canary-traffic
// renders it, with the given routes on http[0].
func virtualService(routes ...route) *networkingv1.VirtualService {
	vs := &networkingv1.VirtualService{}
	vs.TypeMeta = metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "VirtualService"}
	vs.ObjectMeta = metav1.ObjectMeta{
		Name: testComp, Namespace: testNS, ResourceVersion: "7", UID: "vs-uid",
		Labels: map[string]string{contract.LabelAppName: testApp, contract.LabelComponent: testComp},
	}
	vs.Spec.Hosts = []string{testComp}
	http := &istioapi.HTTPRoute{}
	for _, rt := range routes {
		http.Route = append(http.Route, &istioapi.HTTPRouteDestination{
			Destination: &istioapi.Destination{Host: testComp, Subset: rt.subset, Port: &istioapi.PortSelector{Number: testPort}},
			Weight:      rt.weight,
		})
	}
	vs.Spec.Http = []*istioapi.HTTPRoute{http}
	return vs
}

// destinationRule is the component's DestinationRule with these subsets.
func destinationRule(subsets ...string) *networkingv1.DestinationRule {
	dr := &networkingv1.DestinationRule{}
	dr.TypeMeta = metav1.TypeMeta{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule"}
	dr.ObjectMeta = metav1.ObjectMeta{
		Name: testComp, Namespace: testNS, ResourceVersion: "8",
		Labels: map[string]string{contract.LabelAppName: testApp, contract.LabelComponent: testComp},
	}
	dr.Spec.Host = testComp
	for _, s := range subsets {
		dr.Spec.Subsets = append(dr.Spec.Subsets, &istioapi.Subset{Name: s, Labels: map[string]string{contract.LabelVersion: s}})
	}
	return dr
}

// virtualServiceV1beta1 is virtualService served as networking.istio.io/v1beta1.
func virtualServiceV1beta1(routes ...route) *networkingv1beta1.VirtualService {
	v1 := virtualService(routes...)
	vs := &networkingv1beta1.VirtualService{ObjectMeta: v1.ObjectMeta}
	vs.Spec.Hosts = v1.Spec.Hosts
	vs.Spec.Http = []*istioapi.HTTPRoute{v1.Spec.Http[0]}
	return vs
}

// destinationRuleV1beta1 is a DestinationRule served as networking.istio.io/v1beta1.
func destinationRuleV1beta1(v1 *networkingv1.DestinationRule) *networkingv1beta1.DestinationRule {
	dr := &networkingv1beta1.DestinationRule{ObjectMeta: v1.ObjectMeta}
	dr.Spec.Host, dr.Spec.Subsets = v1.Spec.Host, v1.Spec.Subsets
	return dr
}

// notServedIstio makes the fake API server answer these versions of
// networking.istio.io as one that does not serve them: a bare 404.
func notServedIstio(f fixture, versions ...string) {
	f.istio.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if !slices.Contains(versions, a.GetResource().Version) {
			return false, nil, nil
		}
		*f.log = append(*f.log, describe(a)) // this reactor runs before the recording one
		name := ""
		if g, ok := a.(k8stesting.GetAction); ok {
			name = g.GetName()
		}
		return true, nil, apierrors.NewGenericServerResponse(404, a.GetVerb(), a.GetResource().GroupResource(), name, "404 page not found", 0, true)
	})
}

// fixture is a pair of fake clientsets loaded with objects, recording the
// calls made through either in one log, in order.
type fixture struct {
	Clients
	kube  *k8sfake.Clientset
	istio *istiofake.Clientset
	log   *[]string
}

func newFixture(t testing.TB, objs ...runtime.Object) fixture {
	t.Helper()
	var kubeObjs, istioObjs []runtime.Object
	for _, o := range objs {
		switch o.(type) {
		case *networkingv1.VirtualService, *networkingv1.DestinationRule, *networkingv1beta1.VirtualService, *networkingv1beta1.DestinationRule:
			istioObjs = append(istioObjs, o)
		default:
			kubeObjs = append(kubeObjs, o)
		}
	}
	f := fixture{kube: k8sfake.NewSimpleClientset(kubeObjs...), istio: istiofake.NewSimpleClientset(istioObjs...), log: &[]string{}}
	f.Clients = Clients{Kube: f.kube, Istio: f.istio, Workflows: workflowruntest.Applications(t, workflowruntest.SeedApplication)}
	record := func(a k8stesting.Action) (bool, runtime.Object, error) {
		*f.log = append(*f.log, describe(a))
		return false, nil, nil
	}
	f.kube.PrependReactor("*", "*", record)
	f.istio.PrependReactor("*", "*", record)
	return f
}

// describe names a call, e.g. "get deployments default/reviews-v2" or
// "list deployments default app.oam.dev/component=reviews,...".
func describe(a k8stesting.Action) string {
	s := fmt.Sprintf("%s %s %s", a.GetVerb(), a.GetResource().Resource, a.GetNamespace())
	switch a := a.(type) {
	case k8stesting.GetAction: // a patch names its object this way too
		s += "/" + a.GetName()
	case k8stesting.CreateAction:
		if o, ok := a.GetObject().(interface{ GetName() string }); ok {
			s += "/" + o.GetName()
		}
	case k8stesting.ListAction:
		s += " " + a.GetListRestrictions().Labels.String()
	}
	return s
}

// actions lists the calls made through both clientsets, in order.
func (f fixture) actions() []string {
	if len(*f.log) == 0 {
		return nil
	}
	return append([]string{}, *f.log...)
}

// requireReadOnly fails unless every call was a get or a list.
func (f fixture) requireReadOnly(t testing.TB) {
	t.Helper()
	for _, a := range append(f.kube.Actions(), f.istio.Actions()...) {
		requireRead(t, a.GetVerb(), a.GetResource().Resource)
	}
}

// requireRead fails unless the call of verb on resource only reads.
func requireRead(t testing.TB, verb, resource string) {
	t.Helper()
	require.Contains(t, []string{"get", "list", "watch"}, verb, "a %s of %s", verb, resource)
}

// The reads Plan makes for reviews: the target's Deployment (takeover
// check), the component's Deployments, the VirtualService and DestinationRule.
func planReads(target string) []string {
	return []string{
		"get deployments default/" + target,
		"list deployments default app.oam.dev/component=reviews,app.oam.dev/name=book-info",
		"get virtualservices default/reviews",
		"get destinationrules default/reviews",
	}
}

// planStep is the plan call of a canary-rollout step for reviews, as the
// step CUE fills it from rollout-v2.yaml.
func planStep(t testing.TB, partition *int, targets ...WeightedTarget) *PlanParams {
	return &PlanParams{
		Caller:          testCaller(),
		Action:          ActionRollout,
		Step:            "canary-1",
		Revision:        testRevision,
		Workload:        rendered(t),
		Rollout:         RolloutSpec{TargetSize: 2, RolloutBatches: []Batch{{1}, {1}}, Version: "v2"},
		BatchPartition:  partition,
		WeightedTargets: targets,
		Components:      []string{testComp},
		Traffic:         &TrafficSpec{Port: testPort},
	}
}

// rollbackStep is the plan call of the canary-rollback step for reviews.
func rollbackStep(t testing.TB) *PlanParams {
	p := planStep(t, nil)
	p.Action = ActionRollback
	return p
}

// throughJSON passes a value through JSON as the server does.
func throughJSON[T any](t testing.TB, in any) T {
	t.Helper()
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	var out T
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

// decodedVS is a planned VirtualService manifest, its spec decoded strictly.
type decodedVS struct {
	meta metav1.ObjectMeta
	spec *istioapi.VirtualService
	raw  map[string]any
}

func decodeVS(t testing.TB, m map[string]any) decodedVS {
	t.Helper()
	require.NotNil(t, m, "no VirtualService")
	out := decodeVSJSON(t, mustJSON(t, m))
	out.raw = m
	return out
}

// decodeVSJSON decodes a planned VirtualService manifest from its JSON.
func decodeVSJSON(t testing.TB, raw []byte) decodedVS {
	t.Helper()
	out := decodedVS{spec: &istioapi.VirtualService{}}
	var spec []byte
	out.meta, spec = decodeIstioManifest(t, raw, "VirtualService")
	require.NoError(t, protojson.Unmarshal(spec, out.spec), "spec is not a valid Istio VirtualService: %s", spec)
	return out
}

type decodedDR struct {
	meta metav1.ObjectMeta
	spec *istioapi.DestinationRule
}

func decodeDR(t testing.TB, m map[string]any) decodedDR {
	t.Helper()
	require.NotNil(t, m, "no DestinationRule")
	return decodeDRJSON(t, mustJSON(t, m))
}

// decodeDRJSON decodes a planned DestinationRule manifest from its JSON.
func decodeDRJSON(t testing.TB, raw []byte) decodedDR {
	t.Helper()
	out := decodedDR{spec: &istioapi.DestinationRule{}}
	var spec []byte
	out.meta, spec = decodeIstioManifest(t, raw, "DestinationRule")
	require.NoError(t, protojson.Unmarshal(spec, out.spec), "spec is not a valid Istio DestinationRule: %s", spec)
	return out
}

// decodeIstioManifest checks that raw is a networking.istio.io/v1 object
// of kind and returns its metadata and the JSON of its spec.
func decodeIstioManifest(t testing.TB, raw []byte, kind string) (metav1.ObjectMeta, []byte) {
	t.Helper()
	require.NotEmpty(t, raw, "no %s", kind)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m), "%s: %s", kind, raw)
	require.Equal(t, "networking.istio.io/v1", jsonValue(t, m["apiVersion"]))
	require.Equal(t, kind, jsonValue(t, m["kind"]))
	var meta metav1.ObjectMeta
	require.NoError(t, json.Unmarshal(orNull(m["metadata"]), &meta))
	return meta, orNull(m["spec"])
}

// jsonValue decodes a JSON value loosely; nil for none.
func jsonValue(t testing.TB, raw json.RawMessage) any {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}

// orNull is raw, or null when there is none, as a missing member encodes.
func orNull(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	return raw
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return raw
}

// eachJSON encodes every element of a list.
func eachJSON(t testing.TB, list []any) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, v := range list {
		out = append(out, mustJSON(t, v))
	}
	return out
}

// decodeHTTP decodes the patch's http routes strictly.
func decodeHTTP(t testing.TB, http []any) []*istioapi.HTTPRoute {
	t.Helper()
	return decodeHTTPJSON(t, eachJSON(t, http))
}

func decodeHTTPJSON(t testing.TB, http []json.RawMessage) []*istioapi.HTTPRoute {
	t.Helper()
	var out []*istioapi.HTTPRoute
	for i, raw := range http {
		hr := &istioapi.HTTPRoute{}
		require.NoError(t, protojson.Unmarshal(raw, hr), "http[%d] is not a valid Istio HTTPRoute: %s", i, raw)
		out = append(out, hr)
	}
	return out
}

// weights renders a route list as "v1=90" strings, checking that every
// destination is the component's host on the canary-traffic port.
func weights(t testing.TB, routes []*istioapi.HTTPRouteDestination) []string {
	t.Helper()
	out := []string{}
	for _, rd := range routes {
		require.Equal(t, testComp, rd.Destination.GetHost())
		require.Equal(t, uint32(testPort), rd.Destination.GetPort().GetNumber(), "port of subset %s", rd.Destination.GetSubset())
		out = append(out, fmt.Sprintf("%s=%d", rd.Destination.GetSubset(), rd.Weight))
	}
	return out
}

// subsetNames lists subsets (from a patch or a DestinationRule), checking
// that each selects its version label.
func subsetNames(t testing.TB, subsets []*istioapi.Subset) []string {
	t.Helper()
	out := []string{}
	for _, s := range subsets {
		require.Equal(t, map[string]string{contract.LabelVersion: s.Name}, s.Labels, "labels of subset %s", s.Name)
		out = append(out, s.Name)
	}
	return out
}

func patchSubsets(t testing.TB, subsets []any) []string {
	t.Helper()
	return subsetNames(t, decodeSubsets(t, subsets))
}

// decodeSubsets decodes the patch's subsets strictly.
func decodeSubsets(t testing.TB, subsets []any) []*istioapi.Subset {
	t.Helper()
	return decodeSubsetsJSON(t, eachJSON(t, subsets))
}

func decodeSubsetsJSON(t testing.TB, subsets []json.RawMessage) []*istioapi.Subset {
	t.Helper()
	var decoded []*istioapi.Subset
	for i, raw := range subsets {
		sub := &istioapi.Subset{}
		require.NoError(t, protojson.Unmarshal(raw, sub), "subsets[%d]: %s", i, raw)
		decoded = append(decoded, sub)
	}
	return decoded
}

// decodeWorkload decodes a planned Deployment manifest strictly: a field
// that a Deployment does not have fails it.
func decodeWorkload(t testing.TB, m map[string]any) *appsv1.Deployment {
	t.Helper()
	require.NotNil(t, m, "no workload")
	return decodeWorkloadJSON(t, mustJSON(t, m))
}

// decodeWorkloadJSON decodes a planned Deployment manifest from its JSON.
// (encoding/json decodes it as strictly as a YAML decoder would, in a
// fraction of the time FuzzPlan has for it.)
func decodeWorkloadJSON(t testing.TB, raw []byte) *appsv1.Deployment {
	t.Helper()
	require.NotEmpty(t, raw, "no workload")
	d := &appsv1.Deployment{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(d), "workload is not a valid Deployment: %s", raw)
	return d
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func requireInputError(t testing.TB, err error, contains ...string) {
	t.Helper()
	require.Error(t, err)
	require.True(t, IsInputError(err), "want an InputError, got %T: %v", err, err)
	for _, c := range contains {
		require.Contains(t, err.Error(), c)
	}
}
