package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/providers/server"
)

func getReadyz(t *testing.T, opts server.Options) (int, string) {
	t.Helper()
	opts.Logger = ktesting.NewLogger(t, ktesting.NewConfig())
	s, err := server.New(opts)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// answering makes a fake API server answer access reviews with allowed, or
// fail them with err.
func answering(allowed bool, err error) *kubefake.Clientset {
	kube := kubefake.NewClientset()
	kube.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if err != nil {
			return true, nil, err
		}
		review := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		if attrs := review.Spec.ResourceAttributes; attrs == nil || attrs.Resource != "deployments" || attrs.Verb != "patch" {
			return true, nil, fmt.Errorf("unexpected review %+v", review.Spec)
		}
		review.Status.Allowed = allowed
		if !allowed {
			review.Status.Reason = "no RBAC policy matched"
		}
		return true, review, nil
	})
	return kube
}

func TestReadyzAccessCheck(t *testing.T) {
	t.Run("the API answers that the provider may patch Deployments", func(t *testing.T) {
		code, body := getReadyz(t, server.Options{Ready: server.AccessCheck(answering(true, nil))})
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "ok", body)
	})

	t.Run("the role lost the permission", func(t *testing.T) {
		code, body := getReadyz(t, server.Options{Ready: server.AccessCheck(answering(false, nil))})
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Contains(t, body, "may not patch Deployments (no RBAC policy matched)")
	})

	for name, fail := range map[string]error{
		"the API is unreachable":          errors.New("dial tcp 10.96.0.1:443: connect: connection refused"),
		"the API refuses the credentials": apierrors.NewUnauthorized("token expired"),
	} {
		t.Run(name, func(t *testing.T) {
			code, body := getReadyz(t, server.Options{Ready: server.AccessCheck(answering(true, fail))})
			require.Equal(t, http.StatusServiceUnavailable, code)
			require.Contains(t, body, "not ready")
			require.Contains(t, body, fail.Error())
		})
	}
}

// A check that hangs is cut off by ReadyTimeout and answered as not ready,
// before the kubelet's probe gives up on the reply.
func TestReadyzTimeout(t *testing.T) {
	start := time.Now()
	code, body := getReadyz(t, server.Options{
		ReadyTimeout: 50 * time.Millisecond,
		Ready: func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		},
	})
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, context.DeadlineExceeded.Error())
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestReadyzWithoutCheck(t *testing.T) {
	code, body := getReadyz(t, server.Options{})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "ok", body)
}
