package main

import (
	"testing"

	"github.com/istio-canary/istio-canary/internal/status"
	"github.com/istio-canary/istio-canary/internal/status/statustest"
)

// fakeClients loads testdata/book-info.yaml into fake clients.
func fakeClients(t *testing.T) status.Clients {
	t.Helper()
	f := statustest.Load(t, status.ApplicationGVR, "testdata/book-info.yaml")
	return status.Clients{Kube: f.Kube, Dynamic: f.Dynamic, Istio: f.Istio}
}
