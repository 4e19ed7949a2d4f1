package main

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// complete adds what a cluster would have made of the objects: a cluster IP
// for each Service of type ClusterIP without one, Pods of the Deployments
// when the objects hold no Pod at all (YAML files of what the addon
// renders), and an EndpointSlice for each Service that has none. Istio's
// fake Kubernetes client runs no controllers, and Istio takes endpoints only
// from EndpointSlices, subset labels from the Pod each endpoint's targetRef
// names.
func complete(objs []object) ([]object, error) {
	if err := allocateClusterIPs(objs); err != nil {
		return nil, err
	}
	if !hasKind(objs, "Pod") {
		pods, err := podsOfDeployments(objs)
		if err != nil {
			return nil, err
		}
		objs = append(objs, pods...)
	}
	sliced := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "EndpointSlice" {
			sliced[o.GetLabels()[discoveryv1.LabelServiceName]] = true
		}
	}
	var pods []*corev1.Pod
	for _, o := range objs {
		if o.GetKind() == "Pod" {
			var p corev1.Pod
			if err := fromUnstructured(o, &p); err != nil {
				return nil, err
			}
			pods = append(pods, &p)
		}
	}
	var slices []object
	for _, o := range objs {
		if o.GetKind() != "Service" || sliced[o.GetName()] {
			continue
		}
		var svc corev1.Service
		if err := fromUnstructured(o, &svc); err != nil {
			return nil, err
		}
		if s := endpointSlice(&svc, pods); s != nil {
			u, err := toUnstructured(s)
			if err != nil {
				return nil, fmt.Errorf("endpoint slice of %s: %w", identity(o), err)
			}
			slices = append(slices, u)
		}
	}
	return append(objs, slices...), nil
}

// allocateClusterIPs gives a virtual IP (10.0.0.0/24, the local cluster's
// service range) to each Service that a cluster would have given one:
// without it Istio builds the Service's outbound listener on 0.0.0.0, not
// the per-Service one a sidecar gets in a cluster.
func allocateClusterIPs(objs []object) error {
	next := 100
	for _, o := range objs {
		if o.GetKind() != "Service" {
			continue
		}
		typ, _, _ := unstructured.NestedString(o.Object, "spec", "type")
		ip, _, _ := unstructured.NestedString(o.Object, "spec", "clusterIP")
		if ip != "" || (typ != "" && typ != string(corev1.ServiceTypeClusterIP)) {
			continue
		}
		ip = fmt.Sprintf("10.0.0.%d", next)
		next++
		if err := unstructured.SetNestedField(o.Object, ip, "spec", "clusterIP"); err != nil {
			return fmt.Errorf("%s: %w", identity(o), err)
		}
		if err := unstructured.SetNestedStringSlice(o.Object, []string{ip}, "spec", "clusterIPs"); err != nil {
			return fmt.Errorf("%s: %w", identity(o), err)
		}
	}
	return nil
}

func hasKind(objs []object, kind string) bool {
	for _, o := range objs {
		if o.GetKind() == kind {
			return true
		}
	}
	return false
}

// podsOfDeployments makes the pods a Deployment's status counts: its ready
// replicas Running and Ready, the rest Running but not Ready. A Deployment
// without status (as rendered, never applied) counts its spec's replicas as
// ready. Pod IPs are 10.244.0.0/16 as in the local cluster.
func podsOfDeployments(objs []object) ([]object, error) {
	var out []object
	ip := 0
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := fromUnstructured(o, &d); err != nil {
			return nil, err
		}
		replicas := ptr.Deref(d.Spec.Replicas, 1)
		ready := d.Status.ReadyReplicas
		if _, applied := o.Object["status"]; !applied {
			ready = replicas
		}
		for i := int32(0); i < replicas; i++ {
			ip++
			podIP := fmt.Sprintf("10.244.%d.%d", ip/250, ip%250+1)
			readiness := corev1.ConditionFalse
			if i < ready {
				readiness = corev1.ConditionTrue
			}
			p := &corev1.Pod{
				TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{
					Name:      fmt.Sprintf("%s-%d", d.Name, i),
					Namespace: d.Namespace,
					Labels:    d.Spec.Template.Labels,
				},
				Spec: d.Spec.Template.Spec,
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					PodIP:      podIP,
					PodIPs:     []corev1.PodIP{{IP: podIP}},
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: readiness}},
				},
			}
			u, err := toUnstructured(p)
			if err != nil {
				return nil, fmt.Errorf("pod of %s: %w", identity(o), err)
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// endpointSlice is what the EndpointSlice controller makes of a Service with
// a selector: every Running pod it selects, with its readiness, on each
// Service port's target port.
func endpointSlice(svc *corev1.Service, pods []*corev1.Pod) *discoveryv1.EndpointSlice {
	if len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	s := &discoveryv1.EndpointSlice{
		TypeMeta: metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      svc.Name + "-meshprobe",
			Namespace: svc.Namespace,
			Labels:    map[string]string{discoveryv1.LabelServiceName: svc.Name},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	var selected []*corev1.Pod
	for _, p := range pods {
		if p.Namespace == svc.Namespace && sel.Matches(labels.Set(p.Labels)) && p.Status.PodIP != "" && p.Status.Phase == corev1.PodRunning {
			selected = append(selected, p)
		}
	}
	for _, sp := range svc.Spec.Ports {
		port, ok := targetPort(sp, selected)
		if !ok {
			continue
		}
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{
			Name:        ptr.To(sp.Name),
			Port:        ptr.To(port),
			Protocol:    ptr.To(corev1.ProtocolTCP),
			AppProtocol: sp.AppProtocol,
		})
	}
	for _, p := range selected {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(podReady(p))},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name},
			NodeName:   ptr.To(p.Spec.NodeName),
		})
	}
	return s
}

// targetPort resolves a Service port's target, by number or by the name of a
// container port of the selected pods (the first pod that names it).
func targetPort(sp corev1.ServicePort, pods []*corev1.Pod) (int32, bool) {
	switch {
	case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal, true
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, p := range pods {
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == sp.TargetPort.StrVal {
						return cp.ContainerPort, true
					}
				}
			}
		}
		return 0, false
	default:
		return sp.Port, true
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func fromUnstructured(o object, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into); err != nil {
		return fmt.Errorf("%s: %w", identity(o), err)
	}
	return nil
}

func toUnstructured(v any) (object, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(v)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}
