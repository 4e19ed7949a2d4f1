// Package auth keeps the shared secret that the workflow steps pass to the
// provider. Any pod can reach the provider's Service, so calls must prove they
// come from a step: the steps read the token from a Secret in vela-system,
// which vela-core can read and application users cannot.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TokenKey is the Secret's data key that holds the token.
const TokenKey = "token"

// EnsureToken returns the token of Secret namespace/name, creating the Secret
// with a random token when it does not exist. The token is returned as the
// steps see it: the base64 text of the Secret's data, as kube.#Read gives it.
func EnsureToken(ctx context.Context, kube kubernetes.Interface, namespace, name string) (string, error) {
	secrets := kube.CoreV1().Secrets(namespace)
	s, err := secrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		s, err = create(ctx, kube, namespace, name)
	}
	if err != nil {
		return "", fmt.Errorf("read token Secret %s/%s: %w", namespace, name, err)
	}
	raw := s.Data[TokenKey]
	if len(raw) == 0 {
		return "", fmt.Errorf("token Secret %s/%s has no %q key; delete it and restart the provider to get a new one", namespace, name, TokenKey)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

func create(ctx context.Context, kube kubernetes.Interface, namespace, name string) (*corev1.Secret, error) {
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("generate token: %w", err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/part-of": "istio-canary"}},
		Data:       map[string][]byte{TokenKey: []byte(hex.EncodeToString(buf))},
	}
	created, err := kube.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Another replica won the race; use its token.
		return kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	}
	return created, err
}
