package workflowrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/istio-canary/istio-canary/internal/contract"
)

// Client reads and acts on Applications' workflow runs.
type Client struct {
	Dynamic dynamic.Interface
}

// ErrNotActive: the Application's workflow has not started, has finished or
// was terminated, so there is no canary in flight to abort.
var ErrNotActive = errors.New("no workflow run in progress")

// Get reads the current run of an Application.
func (c Client) Get(ctx context.Context, namespace, app string) (*Run, error) {
	u, err := c.Dynamic.Resource(ApplicationGVR).Namespace(namespace).Get(ctx, app, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("application %s/%s: %w", namespace, app, err)
	}
	return FromObject(u)
}

// Revisions lists the ApplicationRevisions of an Application.
func (c Client) Revisions(ctx context.Context, namespace, app string) ([]Revision, error) {
	list, err := c.Dynamic.Resource(ApplicationRevisionGVR).Namespace(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.Set{contract.LabelAppName: app}.String(),
	})
	if err != nil {
		return nil, fmt.Errorf("application %s/%s: list its revisions: %w", namespace, app, err)
	}
	out := make([]Revision, 0, len(list.Items))
	for _, u := range list.Items {
		out = append(out, Revision{Name: u.GetName(), PublishVersion: u.GetAnnotations()[contract.AnnotationPublishVersion]})
	}
	return out, nil
}

// Abort asks the current run of an Application to roll its canaries back:
// it names the run in the abort annotation, with the reason, and resumes
// the workflow if it is suspended (a manual approval, a timed pause, an
// inconclusive analysis), so that its next canary step runs and rolls back.
// It returns the run it aborted; ErrNotActive (wrapped) when there is none.
// Aborting a run that is already aborted changes nothing. A run with no
// step left that would roll back is marked but not resumed. When the resume
// fails, the run comes back with the error: the abort is recorded, and the
// caller can say that only the resume is left to do.
func (c Client) Abort(ctx context.Context, namespace, app, reason string) (*Run, error) {
	run, err := c.Get(ctx, namespace, app)
	if err != nil {
		return nil, err
	}
	if !run.Active() {
		return run, fmt.Errorf("application %s/%s: %w", namespace, app, ErrNotActive)
	}
	if !run.AbortRequested {
		patch := map[string]any{"metadata": map[string]any{
			// The UID precondition keeps a patch from landing on a
			// recreated Application of the same name.
			"uid": run.UID,
			"annotations": map[string]string{
				contract.AnnotationAbort:       run.ID,
				contract.AnnotationAbortReason: reason,
			},
		}}
		if err := c.mergePatch(ctx, namespace, app, patch); err != nil {
			return nil, err
		}
		run.AbortRequested, run.AbortReason = true, reason
	}
	if !run.CanaryStepAhead() {
		// Resuming would finish the release with the canary in it: the
		// run stays as it is, marked aborted, for a human to decide.
		return run, nil
	}
	if err := c.resume(ctx, namespace, app, run.ID); err != nil {
		return run, err
	}
	return run, nil
}

// Notify writes note in the analysis annotation: vela-core runs the
// Application's workflow on the change at once, so a step waiting on an
// analysis sees its verdict without waiting for its backoff.
func (c Client) Notify(ctx context.Context, namespace, app, note string) error {
	return c.mergePatch(ctx, namespace, app, map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{contract.AnnotationAnalysis: note},
	}})
}

func (c Client) mergePatch(ctx context.Context, namespace, app string, patch map[string]any) error {
	raw, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("application %s/%s: encode patch: %w", namespace, app, err)
	}
	if _, err := c.Dynamic.Resource(ApplicationGVR).Namespace(namespace).Patch(ctx, app, types.MergePatchType, raw, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("application %s/%s: annotate: %w", namespace, app, err)
	}
	return nil
}

// resume resumes run id of the Application if it is suspended, as `vela
// workflow resume` does, retrying on write conflicts with vela-core.
func (c Client) resume(ctx context.Context, namespace, app, id string) error {
	apps := c.Dynamic.Resource(ApplicationGVR).Namespace(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		u, err := apps.Get(ctx, app, metav1.GetOptions{})
		if err != nil {
			return err
		}
		run, err := FromObject(u)
		if err != nil {
			return err
		}
		if run.ID != id || !run.Suspended {
			return nil // another run now, or not suspended: nothing to resume
		}
		resumeSteps(run.Steps)
		steps, err := toUnstructured(run.Steps)
		if err != nil {
			return err
		}
		if err := unstructured.SetNestedField(u.Object, false, "status", "workflow", "suspend"); err != nil {
			return err
		}
		if err := unstructured.SetNestedSlice(u.Object, steps, "status", "workflow", "steps"); err != nil {
			return err
		}
		_, err = apps.UpdateStatus(ctx, u, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("application %s/%s: resume the workflow: %w", namespace, app, err)
	}
	return nil
}

func toUnstructured(v any) ([]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out []any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return runtime.DeepCopyJSONValue(out).([]any), nil
}
