package canarytest

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// kubeClient serves apps/v1 Deployments. The embedded interface is nil:
// any other group panics.
type kubeClient struct {
	kubernetes.Interface
	c *Cluster
}

func (k kubeClient) AppsV1() appsv1client.AppsV1Interface { return appsV1{c: k.c} }

// appsV1 serves Deployments; any other resource of apps/v1 panics.
type appsV1 struct {
	appsv1client.AppsV1Interface
	c *Cluster
}

func (a appsV1) Deployments(namespace string) appsv1client.DeploymentInterface {
	return deployments{c: a.c, ns: namespace}
}

// deployments serves the calls on one namespace's Deployments that the
// provider and its tests make; any other panics.
type deployments struct {
	appsv1client.DeploymentInterface
	c  *Cluster
	ns string
}

func (d deployments) call(verb, name string) Call {
	return Call{Verb: verb, Resource: "deployments", Namespace: d.ns, Name: name}
}

func (d deployments) Get(_ context.Context, name string, _ metav1.GetOptions) (*appsv1.Deployment, error) {
	return orEmpty(serve(d.c, d.call("get", name), func() (*appsv1.Deployment, error) {
		return d.c.deployments.get(d.ns, name)
	}))
}

// List lists the namespace's Deployments that match the label selector;
// a field selector is not served.
func (d deployments) List(_ context.Context, opts metav1.ListOptions) (*appsv1.DeploymentList, error) {
	return serve(d.c, d.call("list", ""), func() (*appsv1.DeploymentList, error) {
		if opts.FieldSelector != "" {
			return &appsv1.DeploymentList{}, fmt.Errorf("canarytest: field selector %q: the cluster serves label selectors only", opts.FieldSelector)
		}
		sel, err := labels.Parse(opts.LabelSelector)
		if err != nil {
			return &appsv1.DeploymentList{}, apierrors.NewBadRequest(err.Error())
		}
		out := &appsv1.DeploymentList{}
		for _, o := range d.c.deployments.sorted(d.ns) {
			if sel.Matches(labels.Set(o.Labels)) {
				out.Items = append(out.Items, appsv1.Deployment{})
				o.DeepCopyInto(&out.Items[len(out.Items)-1])
			}
		}
		return out, nil
	})
}

func (d deployments) Create(_ context.Context, o *appsv1.Deployment, _ metav1.CreateOptions) (*appsv1.Deployment, error) {
	return orEmpty(serve(d.c, d.call("create", o.Name), func() (*appsv1.Deployment, error) {
		return d.c.deployments.create(d.ns, o)
	}))
}

// Update replaces the whole object, status included, as client-go's fake does.
func (d deployments) Update(_ context.Context, o *appsv1.Deployment, _ metav1.UpdateOptions) (*appsv1.Deployment, error) {
	return orEmpty(serve(d.c, d.call("update", o.Name), func() (*appsv1.Deployment, error) {
		return d.c.deployments.update(d.ns, o)
	}))
}

// UpdateStatus replaces the whole object too, as client-go's fake does.
func (d deployments) UpdateStatus(_ context.Context, o *appsv1.Deployment, _ metav1.UpdateOptions) (*appsv1.Deployment, error) {
	call := d.call("update", o.Name)
	call.Subresource = "status"
	return orEmpty(serve(d.c, call, func() (*appsv1.Deployment, error) {
		return d.c.deployments.update(d.ns, o)
	}))
}

// Patch applies a JSON merge patch (what Scale sends) to the object as
// JSON and stores what that decodes to, as client-go's fake does. Other
// patch types and subresources are not served.
func (d deployments) Patch(_ context.Context, name string, pt types.PatchType, data []byte, _ metav1.PatchOptions, subresources ...string) (*appsv1.Deployment, error) {
	return orEmpty(serve(d.c, d.call("patch", name), func() (*appsv1.Deployment, error) {
		if pt != types.MergePatchType || len(subresources) > 0 {
			return nil, fmt.Errorf("canarytest: a %s patch of %v: the cluster serves merge patches of the object only", pt, subresources)
		}
		old, err := d.c.deployments.get(d.ns, name)
		if err != nil {
			return nil, err
		}
		patched := &appsv1.Deployment{}
		if err := mergePatch(old, data, patched); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return d.c.deployments.update(d.ns, patched)
	}))
}
