package status

import (
	"fmt"
	"sort"
	"strings"
	"time"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// Snapshot is the raw state the view is built from.
type Snapshot struct {
	Namespace string
	Name      string
	// App is the Application, nil when it does not exist.
	App *unstructured.Unstructured
	// Deployments labelled app.oam.dev/name=<Name> in Namespace.
	Deployments []*appsv1.Deployment
	// VirtualServices in Namespace (any API version).
	VirtualServices []VirtualService
	// AnalysisState is the ConfigMap where the provider keeps the
	// Application's analyses (contract.AnalysisStateName), nil when there
	// is none; AnalysisStateErr says why it could not be read.
	AnalysisState    *corev1.ConfigMap
	AnalysisStateErr error
	// Now is when the snapshot was read: countdowns count from it, and
	// times are shown in its location.
	Now time.Time
}

// VirtualService is the part of an Istio VirtualService the view needs.
type VirtualService struct {
	Name        string
	Annotations map[string]string
	Routes      []Route
	Matches     *Matches
	Mirror      *Mirror
}

// NewVirtualService extracts name, annotations, the destinations of the
// route the steps own (contract.ReadRoute), the steps' match route and the
// mirror of a VirtualService.
func NewVirtualService(name string, annotations map[string]string, spec *networkingv1alpha3.VirtualService) VirtualService {
	vs := VirtualService{Name: name, Annotations: annotations, Matches: newMatches(spec), Mirror: newMirror(spec)}
	for _, d := range contract.ReadRoute(spec) {
		vs.Routes = append(vs.Routes, Route{Subset: d.Version, Weight: int32(d.Weight)})
	}
	return vs
}

// Build turns a snapshot into a view.
func Build(s Snapshot) (View, error) {
	v := View{App: s.Name, Namespace: s.Namespace, Workflow: Workflow{Current: -1}}
	if s.App == nil {
		v.Next = Action{Kind: ActionNone, Text: fmt.Sprintf("application %s not found in namespace %s", s.Name, s.Namespace)}
		return v, nil
	}
	app, err := decodeApplication(s.App)
	if err != nil {
		return v, err
	}
	run, err := workflowrun.FromObject(s.App)
	if err != nil {
		return v, err
	}
	v.Found = true
	v.Phase = app.Status.Phase
	v.LatestRevision = app.latestRevision()
	v.PublishVersion = app.Metadata.Annotations[contract.AnnotationPublishVersion]
	v.Workflow = app.workflow()
	v.Workflow.RunID = run.ID

	byComponent := map[string][]*appsv1.Deployment{}
	for _, d := range s.Deployments {
		if d.Labels[contract.LabelAppName] != s.Name {
			continue
		}
		c := d.Labels[contract.LabelComponent]
		byComponent[c] = append(byComponent[c], d)
	}
	vsByName := map[string]*VirtualService{}
	for i := range s.VirtualServices {
		vsByName[s.VirtualServices[i].Name] = &s.VirtualServices[i]
	}
	for _, comp := range app.Spec.Components {
		deps := byComponent[comp.Name]
		sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
		canaried := false
		for _, t := range comp.Traits {
			canaried = canaried || t.Type == RolloutTrait
		}
		if canaried {
			v.Canaried = append(v.Canaried, buildComponent(comp.Name, deps, vsByName[comp.Name], v.LatestRevision))
			continue
		}
		p := Plain{Name: comp.Name}
		for _, d := range deps {
			p.Deployments = append(p.Deployments, d.Name)
			p.Ready += d.Status.ReadyReplicas
			p.Desired += desired(d)
		}
		v.Others = append(v.Others, p)
	}
	v.Abort = buildAbort(run, &v.Workflow, v.Canaried)
	v.Pause = buildPause(&v.Workflow, s.Now)
	if s.AnalysisStateErr != nil {
		v.AnalysisProblem = s.AnalysisStateErr.Error()
	} else {
		v.Analyses, v.AnalysisProblem = buildAnalyses(analysisState(s), run.ID, s.Now)
	}
	v.Next = NextAction(&v)
	return v, nil
}

func buildComponent(name string, deps []*appsv1.Deployment, vs *VirtualService, latestRevision string) Component {
	c := Component{Name: name}
	weights := map[string]int32{}
	var annotations map[string]string
	if vs != nil {
		c.VirtualService, c.Routes, annotations = vs.Name, vs.Routes, vs.Annotations
		c.Matches, c.Mirror = vs.Matches, vs.Mirror
		c.Phase = annotations[contract.AnnotationPhase]
		if t, ok := contract.CompletedAt(annotations); ok && c.Phase == contract.PhaseCompleted {
			c.CompletedAt = t
		}
		for _, r := range vs.Routes {
			weights[r.Subset] += r.Weight
		}
	}
	byVersion := map[string]*Version{}
	byCandidate := map[string]*Candidate{}
	var order []string
	for _, d := range deps {
		ver := versionOf(name, d)
		if v, ok := byVersion[ver]; ok { // two Deployments of one version: add them up
			v.Ready += d.Status.ReadyReplicas
			v.Desired += desired(d)
			byCandidate[ver].Ready = v.Ready
			continue
		}
		byVersion[ver] = &Version{Name: ver, Deployment: d.Name, Ready: d.Status.ReadyReplicas, Desired: desired(d), Weight: weights[ver]}
		byCandidate[ver] = &Candidate{Version: ver, AppRevision: d.Labels[contract.LabelAppRevision], Created: d.CreationTimestamp.Time, Weight: weights[ver], Ready: d.Status.ReadyReplicas,
			RunStable: d.Annotations[contract.AnnotationRunStable], RunRevision: d.Annotations[contract.AnnotationRunRevision]}
		order = append(order, ver)
	}
	cands := make([]Candidate, 0, len(order))
	for _, ver := range order {
		cands = append(cands, *byCandidate[ver])
	}
	c.Decision = contract.DecideRoles(rolesInput(annotations, cands, latestRevision))
	roles := shown(c.Decision)
	c.Stable, c.Canary, c.RoleSource = roles.Stable, roles.Canary, roles.Source
	for _, ver := range []string{roles.Stable, roles.Canary} {
		if _, ok := byVersion[ver]; !ok && ver != "" {
			byVersion[ver] = &Version{Name: ver, Weight: weights[ver]}
		}
	}
	for _, r := range c.Routes {
		if _, ok := byVersion[r.Subset]; !ok && r.Subset != "" {
			byVersion[r.Subset] = &Version{Name: r.Subset, Weight: weights[r.Subset]}
		}
	}
	for _, v := range byVersion {
		switch v.Name {
		case roles.Stable:
			v.Role = RoleStable
		case roles.Canary:
			v.Role = RoleCanary
		default:
			v.Role = RoleOther
		}
		c.Versions = append(c.Versions, *v)
	}
	rank := map[Role]int{RoleStable: 0, RoleCanary: 1, RoleOther: 2}
	sort.Slice(c.Versions, func(i, j int) bool {
		a, b := c.Versions[i], c.Versions[j]
		if rank[a.Role] != rank[b.Role] {
			return rank[a.Role] < rank[b.Role]
		}
		return a.Name < b.Name
	})
	return c
}

// versionOf is the pod template label version, else the rollout trait's annotation,
// else the Deployment name without the "<component>-" prefix.
func versionOf(component string, d *appsv1.Deployment) string {
	if v := d.Spec.Template.Labels[contract.LabelVersion]; v != "" {
		return v
	}
	if v := d.Annotations[contract.AnnotationVersion]; v != "" {
		return v
	}
	return strings.TrimPrefix(d.Name, component+"-")
}

func desired(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}
