package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"

	"github.com/istio-canary/istio-canary/providers/server"
)

func getReadyz(t *testing.T, opts server.Options) (int, string) {
	t.Helper()
	opts.Token = token
	opts.Logger = ktesting.NewLogger(t, ktesting.NewConfig())
	s, err := server.New(opts)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestReadyzSecretCheck(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "vela-system", Name: "istio-canary-provider"}}

	t.Run("the API answers with the Secret", func(t *testing.T) {
		kube := kubefake.NewClientset(secret)
		code, body := getReadyz(t, server.Options{Ready: server.SecretCheck(kube, "vela-system", "istio-canary-provider")})
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "ok", body)
	})

	// NotFound still proves the connection and the credentials.
	t.Run("the API answers that the Secret is gone", func(t *testing.T) {
		kube := kubefake.NewClientset()
		code, body := getReadyz(t, server.Options{Ready: server.SecretCheck(kube, "vela-system", "istio-canary-provider")})
		require.Equal(t, http.StatusOK, code, body)
	})

	for name, fail := range map[string]error{
		"the API is unreachable":          errors.New("dial tcp 10.96.0.1:443: connect: connection refused"),
		"the API refuses the credentials": apierrors.NewUnauthorized("token expired"),
		"the API forbids the read": apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"},
			"istio-canary-provider", errors.New("RBAC: access denied")),
	} {
		t.Run(name, func(t *testing.T) {
			kube := kubefake.NewClientset(secret)
			kube.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, fail
			})
			code, body := getReadyz(t, server.Options{Ready: server.SecretCheck(kube, "vela-system", "istio-canary-provider")})
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
