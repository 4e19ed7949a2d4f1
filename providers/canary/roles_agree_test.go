package canary

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/internal/status"
	"github.com/istio-canary/istio-canary/internal/status/statustest"
)

// TestRolesAgreeWithTheStatusView feeds the same live states to the
// provider's plan and to the status view, and checks that both take the same
// version for stable and the same for canary from the contract's rule. The
// provider knows the version the Application renders; the view knows only
// the Application's latest revision, which vela stamps on the Deployments it
// applies (so the rendered version's, once applied).
func TestRolesAgreeWithTheStatusView(t *testing.T) {
	recorded := func(stable, canary, phase string) func(*metav1.ObjectMeta) {
		return func(m *metav1.ObjectMeta) {
			m.Annotations = map[string]string{contract.AnnotationCanary: canary, contract.AnnotationPhase: phase}
			if stable != "" {
				m.Annotations[contract.AnnotationStable] = stable
			}
		}
	}
	for _, tc := range []struct {
		name     string
		action   Action
		rendered string // the version the Application renders; its Deployment carries the latest revision
		live     []runtime.Object
		v1Absent bool // the cluster serves networking.istio.io v1beta1 only
		want     contract.Roles
	}{
		{
			name: "two old versions, no traffic", rendered: "v3",
			live: []runtime.Object{deployment("v1", 0, 0, createdOn(1)), deployment("v2", 2, 2, createdOn(2)), deployment("v3", 1, 0, createdOn(3))},
			want: contract.Roles{Stable: "v2", Canary: "v3"},
		},
		{
			name: "no VirtualService yet", rendered: "v2",
			live: []runtime.Object{deployment("v1", 2, 2, createdOn(1)), deployment("v2", 1, 0, createdOn(2))},
			want: contract.Roles{Stable: "v1", Canary: "v2"},
		},
		{
			name: "first version", rendered: "v1",
			live: []runtime.Object{deployment("v1", 2, 0, createdOn(1))},
			want: contract.Roles{Canary: "v1"},
		},
		{
			name: "v1beta1 only", rendered: "v2", v1Absent: true,
			live: []runtime.Object{deployment("v1", 1, 1, createdOn(1)), deployment("v2", 1, 1, createdOn(2)), virtualServiceV1beta1(r("v1", 90), r("v2", 10))},
			want: contract.Roles{Stable: "v1", Canary: "v2"},
		},
		{
			name: "mid-rollout", rendered: "v2",
			live: []runtime.Object{deployment("v1", 1, 1, createdOn(1)), deployment("v2", 1, 1, createdOn(2)),
				virtualService(r("v1", 90), r("v2", 10)), destinationRule("v1", "v2")},
			want: contract.Roles{Stable: "v1", Canary: "v2"},
		},
		{
			// The rollback step re-applies the stable version under the
			// latest revision, so the revision points at it, not at the canary.
			name: "mid-rollback", action: ActionRollback, rendered: "v2",
			live: []runtime.Object{deployment("v1", 2, 1, createdOn(1), revision("v3")), deployment("v2", 1, 1, createdOn(2), revision("v2")),
				withMeta(virtualService(r("v1", 100)), recorded("v1", "v2", contract.PhaseRolledBack)), destinationRule("v1", "v2")},
			want: contract.Roles{Stable: "v1", Canary: "v2"},
		},
		{
			name: "completed", rendered: "v2",
			live: []runtime.Object{deployment("v0", 0, 0, createdOn(1)), deployment("v1", 0, 0, createdOn(2)), deployment("v2", 2, 2, createdOn(3)),
				withMeta(virtualService(r("v2", 100)), recorded("v1", "v2", contract.PhaseCompleted)), destinationRule("v2")},
			want: contract.Roles{Stable: "v1", Canary: "v2"},
		},
		{
			name: "completed, the stable version garbage-collected", rendered: "v2",
			live: []runtime.Object{deployment("v2", 2, 2, createdOn(3)),
				withMeta(virtualService(r("v2", 100)), recorded("v1", "v2", contract.PhaseCompleted)), destinationRule("v2")},
			want: contract.Roles{Stable: "v1", Canary: "v2"},
		},
		{
			name: "a new rollout after a completed one", rendered: "v3",
			live: []runtime.Object{deployment("v2", 2, 2, createdOn(2)), deployment("v3", 1, 0, createdOn(3)),
				withMeta(virtualService(r("v2", 100)), recorded("v1", "v2", contract.PhaseCompleted)), destinationRule("v2")},
			want: contract.Roles{Stable: "v2", Canary: "v3"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.live...)
			if tc.v1Absent {
				notServedIstio(f, "v1")
			}
			_, ctx := ktesting.NewTestContext(t)

			in := planStep(t, ptr(0))
			in.Workload = rendered(t, renderedAs(tc.rendered))
			if tc.action != "" {
				in.Action = tc.action
			}
			o, _, err := f.observe(ctx, in)
			require.NoError(t, err)

			app := application(testApp + "-" + tc.rendered)
			view, err := status.Collect(ctx, status.Clients{Kube: f.kube, Dynamic: statustest.NewDynamic(status.ApplicationGVR, app), Istio: f.istio}, testNS, testApp)
			require.NoError(t, err)
			c := view.Component(testComp)
			require.NotNil(t, c)

			provider := contract.Roles{Stable: o.roles.Stable, Canary: o.roles.Canary}
			viewed := contract.Roles{Stable: c.Decision.Stable, Canary: c.Decision.Canary}
			require.Equal(t, tc.want, provider, "the provider's roles (by %s)", o.roles.Source)
			require.Equal(t, tc.want, viewed, "the status view's roles (by %s)", c.Decision.Source)
		})
	}
}

// createdOn sets the Deployment's creation to a day of January 2025.
func createdOn(day int) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) {
		d.CreationTimestamp = metav1.NewTime(time.Date(2025, 1, day, 0, 0, 0, 0, time.UTC))
	}
}

// revision sets the Application revision that last applied the Deployment.
func revision(v string) func(*appsv1.Deployment) {
	return func(d *appsv1.Deployment) { d.Labels[contract.LabelAppRevision] = testApp + "-" + v }
}

func withMeta[T interface{ GetObjectMeta() metav1.Object }](o T, set func(*metav1.ObjectMeta)) T {
	set(o.GetObjectMeta().(*metav1.ObjectMeta))
	return o
}

// application is book-info with reviews canaried, at the given latest revision.
func application(latestRevision string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "core.oam.dev/v1beta1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": testApp, "namespace": testNS},
		"spec": map[string]any{"components": []any{map[string]any{
			"name": testComp, "type": "webservice",
			"traits": []any{map[string]any{"type": "rollout", "properties": map[string]any{"targetSize": int64(2)}}},
		}}},
		"status": map[string]any{"latestRevision": map[string]any{"name": latestRevision}},
	}}
}
