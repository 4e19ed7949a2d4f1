package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DefaultReadyTimeout bounds one readiness check: well under the probe's own
// timeout, so a hung API server answers "not ready" rather than nothing.
const DefaultReadyTimeout = 2 * time.Second

// AccessCheck is a readiness check that asks the API server whether the
// provider may patch Deployments, the one write its steps need: it fails
// when the API server is unreachable, no longer accepts the provider's
// credentials, or its role lost that permission. Every authenticated
// identity may ask this about itself.
func AccessCheck(kube kubernetes.Interface) func(context.Context) error {
	return func(ctx context.Context) error {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "patch"},
		}}
		got, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("ask the API server what the provider may do: %w", err)
		}
		if !got.Status.Allowed {
			return fmt.Errorf("the provider may not patch Deployments (%s); check its ClusterRole", got.Status.Reason)
		}
		return nil
	}
}

// readyz answers 200 when check passes within timeout, else 503 with the
// reason, for a readiness probe (liveness stays on /healthz: an API outage
// should take instances out of the Service, not restart them).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready == nil {
		_, _ = io.WriteString(w, "ok")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.ReadyTimeout)
	defer cancel()
	if err := s.opts.Ready(ctx); err != nil {
		s.opts.Logger.V(1).Info("not ready", "reason", err.Error())
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: "+err.Error())
		return
	}
	_, _ = io.WriteString(w, "ok")
}
