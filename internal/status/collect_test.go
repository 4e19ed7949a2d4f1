package status

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1beta1 "istio.io/client-go/pkg/apis/networking/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

// notServed makes list of VirtualServices of the given API versions fail with 404,
// as an API server does for a resource it does not serve.
func notServed(f fixtureClients, versions ...string) {
	f.istio.PrependReactor("list", "virtualservices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		for _, v := range versions {
			if a.GetResource().Version == v {
				return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "networking.istio.io", Resource: "virtualservices"}, "")
			}
		}
		return false, nil, nil
	})
}

func TestCollectApplicationNotFound(t *testing.T) {
	f := loadFixtures(t, "no-rollout")
	_, err := Collect(context.Background(), f.Clients, "default", "no-such-app")
	require.Error(t, err)
	assert.True(t, apierrors.IsNotFound(err), "%v", err)
	assert.Contains(t, err.Error(), "application default/no-such-app")
}

func TestCollectWithoutIstio(t *testing.T) {
	f := loadFixtures(t, "no-rollout")
	notServed(f, "v1", "v1beta1")
	v, err := Collect(context.Background(), f.Clients, "default", "book-info")
	require.NoError(t, err)
	c := v.Component("reviews")
	require.NotNil(t, c)
	assert.Empty(t, c.VirtualService)
	assert.Equal(t, "v1", c.Stable)
	assert.Contains(t, Render(v, Options{}), "traffic  no VirtualService reviews")
}

func TestCollectVirtualServiceV1beta1(t *testing.T) {
	f := loadFixtures(t, "first-batch-suspended")
	notServed(f, "v1")
	vs := &networkingv1beta1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "default"}}
	_, err := f.istio.NetworkingV1beta1().VirtualServices("default").Create(context.Background(), vs, metav1.CreateOptions{})
	require.NoError(t, err)
	v, err := Collect(context.Background(), f.Clients, "default", "book-info")
	require.NoError(t, err)
	c := v.Component("reviews")
	require.NotNil(t, c)
	assert.Equal(t, "reviews", c.VirtualService, "read through v1beta1")
	assert.Empty(t, c.Routes, "the v1beta1 object has no routes, unlike the v1 fixture")
	assert.Equal(t, "appRevision", c.RoleSource, "no annotations on the v1beta1 object")
	assert.Equal(t, "v2", c.Canary)
}

func TestCollectListErrorIsWrapped(t *testing.T) {
	f := loadFixtures(t, "no-rollout")
	f.kube.PrependReactor("list", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", nil)
	})
	_, err := Collect(context.Background(), f.Clients, "default", "book-info")
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "wrapped with %%w: %v", err)
	assert.Contains(t, err.Error(), "list deployments in default with app.oam.dev/name=book-info")
}
