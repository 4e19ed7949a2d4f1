package auth

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2/ktesting"
)

const (
	ns   = "vela-system"
	name = "istio-canary-provider"
)

func secret(data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
}

func verbs(kube *k8sfake.Clientset) []string {
	var out []string
	for _, a := range kube.Actions() {
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
	}
	return out
}

func TestEnsureTokenCreatesTheSecret(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	kube := k8sfake.NewSimpleClientset()

	token, err := EnsureToken(ctx, kube, ns, name)
	require.NoError(t, err)
	require.Equal(t, []string{"get secrets", "create secrets"}, verbs(kube))

	created, err := kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "istio-canary", created.Labels["app.kubernetes.io/part-of"])
	raw := created.Data[TokenKey]
	require.Len(t, raw, 64, "32 random bytes, hex")
	_, err = hex.DecodeString(string(raw))
	require.NoError(t, err)
	require.Equal(t, base64.StdEncoding.EncodeToString(raw), token, "the token as kube.#Read shows the Secret's data")

	// A second start reuses it, without writing.
	kube.ClearActions()
	again, err := EnsureToken(ctx, kube, ns, name)
	require.NoError(t, err)
	require.Equal(t, token, again)
	require.Equal(t, []string{"get secrets"}, verbs(kube))
}

func TestEnsureTokenIsRandom(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	a, err := EnsureToken(ctx, k8sfake.NewSimpleClientset(), ns, name)
	require.NoError(t, err)
	b, err := EnsureToken(ctx, k8sfake.NewSimpleClientset(), ns, name)
	require.NoError(t, err)
	require.NotEqual(t, a, b)
}

func TestEnsureTokenReusesAnExistingSecret(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	kube := k8sfake.NewSimpleClientset(secret(map[string][]byte{TokenKey: []byte("s3cret"), "other": []byte("x")}))

	token, err := EnsureToken(ctx, kube, ns, name)
	require.NoError(t, err)
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("s3cret")), token)
	require.Equal(t, "czNjcmV0", token)
	require.Equal(t, []string{"get secrets"}, verbs(kube), "no create, no update")
}

func TestEnsureTokenRefusesASecretWithoutTheKey(t *testing.T) {
	for _, tt := range []struct {
		name string
		data map[string][]byte
	}{
		{"no data", nil},
		{"another key", map[string][]byte{"password": []byte("x")}},
		{"empty token", map[string][]byte{TokenKey: {}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			kube := k8sfake.NewSimpleClientset(secret(tt.data))
			token, err := EnsureToken(ctx, kube, ns, name)
			require.Empty(t, token)
			require.ErrorContains(t, err, `token Secret vela-system/istio-canary-provider has no "token" key`)
			require.Equal(t, []string{"get secrets"}, verbs(kube), "the Secret is not overwritten")
		})
	}
}

// TestEnsureTokenLosesTheRace: another provider replica creates the Secret
// between this one's get and create; both must end up with the same token.
func TestEnsureTokenLosesTheRace(t *testing.T) {
	_, ctx := ktesting.NewTestContext(t)
	kube := k8sfake.NewSimpleClientset()
	winner := secret(map[string][]byte{TokenKey: []byte("winner")})
	kube.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		require.NoError(t, kube.Tracker().Add(winner))
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, name)
	})

	token, err := EnsureToken(ctx, kube, ns, name)
	require.NoError(t, err)
	require.Equal(t, base64.StdEncoding.EncodeToString([]byte("winner")), token)
	require.Equal(t, []string{"get secrets", "create secrets", "get secrets"}, verbs(kube))
}

func TestEnsureTokenAPIErrors(t *testing.T) {
	for _, tt := range []struct {
		verb string
		err  error
		want []string
	}{
		{"get", apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, name, errors.New("RBAC")), []string{"get secrets"}},
		{"create", apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, name, errors.New("RBAC")), []string{"get secrets", "create secrets"}},
	} {
		t.Run(tt.verb, func(t *testing.T) {
			_, ctx := ktesting.NewTestContext(t)
			kube := k8sfake.NewSimpleClientset()
			kube.PrependReactor(tt.verb, "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, tt.err
			})
			token, err := EnsureToken(ctx, kube, ns, name)
			require.Empty(t, token)
			require.ErrorContains(t, err, "vela-system/istio-canary-provider")
			require.True(t, apierrors.IsForbidden(err), "wraps the API error: %v", err)
			require.Equal(t, tt.want, verbs(kube))
		})
	}
}
