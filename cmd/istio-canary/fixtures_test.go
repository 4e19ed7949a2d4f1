package main

import (
	"testing"

	"github.com/istio-canary/istio-canary/internal/status"
	"github.com/istio-canary/istio-canary/internal/status/statustest"
)

// fakes loads testdata/book-info.yaml into fake clients.
func fakes(t *testing.T) statustest.Fakes {
	t.Helper()
	return statustest.Load(t, status.ApplicationGVR, "testdata/book-info.yaml")
}

// fakeClients loads testdata/book-info.yaml into fake clients.
func fakeClients(t *testing.T) status.Clients {
	t.Helper()
	f := fakes(t)
	return status.Clients{Kube: f.Kube, Dynamic: f.Dynamic, Istio: f.Istio}
}
