package analysisrun

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/istio-canary/istio-canary/internal/contract"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// store reads and writes the state ConfigMaps. A write carries the
// resourceVersion it read, so that two replicas of the provider (or the
// loop and a step's call) never both record a measurement: the second
// write conflicts and its measurement is dropped.
type store struct {
	kube kubernetes.Interface
}

// loaded is a state and the ConfigMap it came from; cm is nil when there
// is none yet.
type loaded struct {
	state State
	cm    *corev1.ConfigMap
}

func (s store) load(ctx context.Context, namespace, app string) (loaded, error) {
	name := contract.AnalysisStateName(app)
	cm, err := s.kube.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return loaded{}, nil
	}
	if err != nil {
		return loaded{}, fmt.Errorf("configmap %s/%s: %w", namespace, name, err)
	}
	state, err := Decode(cm)
	if err != nil {
		return loaded{}, err
	}
	return loaded{state: state, cm: cm}, nil
}

// save writes the state back over what was loaded, or creates the
// ConfigMap, owned by the Application so that it goes with it.
func (s store) save(ctx context.Context, run *workflowrun.Run, l loaded, state State) error {
	cms := s.kube.CoreV1().ConfigMaps(run.Namespace)
	if l.cm == nil {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name:      contract.AnalysisStateName(run.App),
			Namespace: run.Namespace,
			Labels: map[string]string{
				contract.LabelAnalysisState: "true",
				contract.LabelAppName:       run.App,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: workflowrun.ApplicationGVR.GroupVersion().String(),
				Kind:       "Application",
				Name:       run.App,
				UID:        types.UID(run.UID),
			}},
		}}
		if err := encode(state, cm); err != nil {
			return err
		}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("configmap %s/%s: create: %w", cm.Namespace, cm.Name, err)
		}
		return nil
	}
	cm := l.cm.DeepCopy()
	if err := encode(state, cm); err != nil {
		return err
	}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("configmap %s/%s: update: %w", cm.Namespace, cm.Name, err)
	}
	return nil
}

// owned reports whether a ConfigMap of the state's name is this
// Application's: the provider never overwrites a ConfigMap a user made.
func owned(cm *corev1.ConfigMap, run *workflowrun.Run) bool {
	if cm.Labels[contract.LabelAnalysisState] != "true" {
		return false
	}
	for _, o := range cm.OwnerReferences {
		if o.Kind == "Application" && o.Name == run.App && string(o.UID) == run.UID {
			return true
		}
	}
	return false
}
