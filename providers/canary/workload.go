package canary

import (
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/istio-canary/istio-canary/internal/contract"
)

const deploymentVersion = "apps/v1"

// version is one version of a component: a Deployment <component>-<version>.
type version struct {
	Name        string // the Deployment's name
	Version     string // the pod label version
	PodSpecHash string
	Labels      map[string]string
	Annotations map[string]string
	Selector    map[string]any
	Template    map[string]any
	Spec        map[string]any // the whole spec, for re-applying a live version
	Replicas    int            // spec.replicas (live) or the rendered one
	Ready       int            // status.readyReplicas of the live Deployment
	Updated     int
	Observed    bool // status.observedGeneration >= metadata.generation
	Live        bool
	Created     time.Time // creation of the live Deployment
}

// renderedVersion reads the Deployment the Application renders now, as the
// rollout trait shaped it.
func renderedVersion(component string, workload map[string]any) (*version, error) {
	raw, err := json.Marshal(workload)
	if err != nil {
		return nil, fmt.Errorf("encode the rendered workload of component %s: %w", component, err)
	}
	var d appsv1.Deployment
	if err := json.Unmarshal(raw, &d); err != nil || d.Kind != "Deployment" {
		return nil, inputErrorf("component %s: its workload is not a Deployment; the rollout trait applies to Deployments (webservice components)", component)
	}
	v := d.Spec.Template.Labels[contract.LabelVersion]
	if v == "" || d.Name != contract.DeploymentName(component, v) {
		return nil, inputErrorf("component %s: its workload has no version; add a rollout trait to it", component)
	}
	return newVersion(&d, asMap(workload["spec"])), nil
}

// liveVersion reads a version from its live Deployment.
func liveVersion(d *appsv1.Deployment) (*version, error) {
	raw, err := json.Marshal(d.Spec)
	if err != nil {
		return nil, fmt.Errorf("encode Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decode Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	// The API server's zero timestamp is not something the owner wrote.
	delete(asMap(asMap(spec["template"])["metadata"]), "creationTimestamp")
	v := newVersion(d, spec)
	v.Ready = int(d.Status.ReadyReplicas)
	v.Updated = int(d.Status.UpdatedReplicas)
	v.Observed = d.Status.ObservedGeneration >= d.Generation
	v.Live = true
	v.Created = d.CreationTimestamp.Time
	return v, nil
}

// newVersion holds what a Deployment says of its version, rendered or live;
// spec is its spec as plain JSON values.
func newVersion(d *appsv1.Deployment, spec map[string]any) *version {
	v := &version{
		Name:        d.Name,
		Version:     d.Spec.Template.Labels[contract.LabelVersion],
		PodSpecHash: d.Annotations[contract.AnnotationPodSpecHash],
		Labels:      d.Labels,
		Annotations: d.Annotations,
		Spec:        spec,
		Selector:    asMap(spec["selector"]),
		Template:    asMap(spec["template"]),
	}
	if d.Spec.Replicas != nil {
		v.Replicas = int(*d.Spec.Replicas)
	}
	return v
}

// readyAt reports whether the live version runs n up-to-date, ready instances.
func (v *version) readyAt(n int) bool {
	return v != nil && v.Live && v.Observed && v.Replicas == n && v.Ready >= n && v.Updated >= n
}

// manifest is the Deployment to apply for this version with n instances. It
// keeps only what the owner wrote: no status, no server-set metadata.
func (v *version) manifest(namespace string, n int) map[string]any {
	spec := make(map[string]any, len(v.Spec))
	for k, val := range v.Spec {
		spec[k] = val
	}
	spec["replicas"] = n
	return map[string]any{
		"apiVersion": deploymentVersion,
		"kind":       "Deployment",
		"metadata": map[string]any{
			"name":        v.Name,
			"namespace":   namespace,
			"labels":      v.Labels,
			"annotations": contract.OwnerAnnotations(v.Annotations),
		},
		"spec": spec,
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
