package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DefaultReadyTimeout bounds one readiness check: well under the probe's own
// timeout, so a hung API server answers "not ready" rather than nothing.
const DefaultReadyTimeout = 2 * time.Second

// SecretCheck is a readiness check that reads the provider's token Secret:
// a cheap GET that its least-privilege identity is allowed, so it fails when
// the API server is unreachable or no longer accepts the provider's
// credentials. A missing Secret still proves both, and making the pods
// unready would not bring it back, so NotFound counts as ready.
func SecretCheck(kube kubernetes.Interface, namespace, name string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("read secret %s/%s: %w", namespace, name, err)
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
