//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stretchr/testify/require"
)

// meshRequests is how many requests a probe sends: at 10%, four standard
// deviations are ±38 requests.
const meshRequests = 1000

// meshResult is the mesh probe's answer (hack/tools/meshprobe's Result).
type meshResult struct {
	Component string         `json:"component"`
	Declared  map[string]int `json:"declared"`
	Istio     map[string]int `json:"istio"`
	// The canary-traffic route's mirror, declared and in Istio's route.
	DeclaredMirror *meshMirror    `json:"declaredMirror"`
	IstioMirror    *meshMirror    `json:"istioMirror"`
	Measured       map[string]int `json:"measured"`
	Failed         int            `json:"failed"`
	Port           struct {
		Protocol         string   `json:"protocol"`
		Sidecar          []string `json:"sidecar"`
		SidecarHTTPRoute bool     `json:"sidecarHTTPRoute"`
	} `json:"port"`
	Analyzers []meshMessage      `json:"analyzers"`
	Gateways  []meshGatewayRoute `json:"gateways"`
}

// meshGatewayRoute is a route of a gateway's VirtualService to the
// component, or of the VirtualService it delegates to.
type meshGatewayRoute struct {
	VirtualService  string         `json:"virtualService"`
	Gateway         string         `json:"gateway"`
	Delegate        string         `json:"delegate"`
	DelegateMissing bool           `json:"delegateMissing"`
	Route           string         `json:"route"`
	Declared        map[string]int `json:"declared"`
	Istio           map[string]int `json:"istio"`
	IstioRoutes     int            `json:"istioRoutes"`
}

type meshMirror struct {
	Version string  `json:"version"`
	Percent float64 `json:"percent"`
}

type meshMessage struct {
	Code     string `json:"code"`
	Level    string `json:"level"`
	Resource string `json:"resource"`
	Message  string `json:"message"`
}

// buildMeshProbe builds the probe once per test process (a cold build takes
// minutes; `make test-e2e` has built it before the tests start).
var meshProbeBuild struct {
	once sync.Once
	out  []byte
	err  error
}

func (e *env) buildMeshProbe() {
	e.t.Helper()
	meshProbeBuild.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(e.root, "hack/meshprobe.sh"), "-build")
		cmd.Dir = e.root
		meshProbeBuild.out, meshProbeBuild.err = cmd.CombinedOutput()
	})
	require.NoError(e.t, meshProbeBuild.err, "build the mesh probe:\n%s", meshProbeBuild.out)
}

// probeMesh measures the component's split on Istio's data path: the mesh
// probe reads the namespace's live objects and sends meshRequests requests
// (with the given name=value headers) through Istio's own routes.
func (e *env) probeMesh(component string, headers ...string) meshResult {
	e.t.Helper()
	e.buildMeshProbe()
	args := []string{"-namespace", e.ns, "-component", component, "-requests", fmt.Sprint(meshRequests)}
	for _, h := range headers {
		args = append(args, "-header", h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The cluster's environment (its kubeconfig), the repository's script.
	cmd := e.c.Command(ctx, "meshprobe.sh", args...)
	cmd.Path = filepath.Join(e.root, "hack/meshprobe.sh")
	cmd.Args[0] = cmd.Path
	cmd.Dir = e.root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(e.t, cmd.Run(), "mesh probe %s:\n%s", strings.Join(args, " "), stderr.String())
	var r meshResult
	require.NoError(e.t, json.Unmarshal(stdout.Bytes(), &r), "mesh probe's answer:\n%s", stdout.String())
	return r
}

// checkMesh probes the component and asserts that Istio carries the split
// the VirtualService declares: the declared weights are want, the weights
// in the route Istio generates are the same, every request was answered,
// each version's share of the answers is within four standard deviations of
// its weight (none for a version of weight 0), every answering version has
// a ready instance, and Istio's analyzers find nothing of warning or error
// level. Gateways that route to the component must get the same weights in
// Istio's routes as in their VirtualService.
func (e *env) checkMesh(component string, want map[string]int) meshResult {
	e.t.Helper()
	r := e.probeMesh(component)
	what := fmt.Sprintf("%s in %s: declared %v, istio %v, measured %v, failed %d", component, e.ns, r.Declared, r.Istio, r.Measured, r.Failed)
	require.Equal(e.t, want, r.Declared, "declared weights; %s", what)
	require.Equal(e.t, want, r.Istio, "weights in Istio's generated route; %s", what)
	require.Equal(e.t, r.DeclaredMirror, r.IstioMirror, "the mirror in Istio's generated route; %s", what)
	require.Zero(e.t, r.Failed, "failed requests; %s", what)
	for v, n := range r.Measured {
		if want[v] == 0 {
			e.t.Fatalf("%d requests reached %s, which has weight 0; %s", n, v, what)
		}
		_, ready, _ := e.deployment(e.ns, component+"-"+v)
		require.NotZero(e.t, ready, "requests reached %s-%s, which has no ready instance; %s", component, v, what)
	}
	for v, w := range want {
		p := float64(w) / 100
		mean, σ := meshRequests*p, math.Sqrt(meshRequests*p*(1-p))
		require.LessOrEqual(e.t, math.Abs(float64(r.Measured[v])-mean), 4*σ,
			"%s's share: want %.0f ± %.0f of %d; %s", v, mean, 4*σ, meshRequests, what)
	}
	require.Empty(e.t, meshProblems(r.Analyzers), "Istio's analyzers; %s", what)
	for _, g := range r.Gateways {
		require.Equal(e.t, g.Declared, g.Istio, "weights of %s route %s in Istio's routes for gateway %s", g.VirtualService, g.Route, g.Gateway)
	}
	e.t.Logf("mesh probe: %s, port %s", what, r.Port.Protocol)
	return r
}

// meshProblems are the analyzer messages of warning or error level.
func meshProblems(msgs []meshMessage) []string {
	var out []string
	for _, m := range msgs {
		if m.Level == "Warning" || m.Level == "Error" {
			out = append(out, fmt.Sprintf("%s %s %s: %s", m.Level, m.Code, m.Resource, m.Message))
		}
	}
	sort.Strings(out)
	return out
}

// checkGateway probes a component behind istio-gateway: every route to it of
// a VirtualService bound to a Gateway has, in the routes Istio generates for
// the ingress gateway, the weights it declares; requests through the mesh
// are all answered; the analyzers find nothing of warning or error level.
func (e *env) checkGateway(component string) meshResult {
	e.t.Helper()
	r := e.probeMesh(component)
	require.NotEmpty(e.t, r.Gateways, "%s in %s: no gateway VirtualService routes to it", component, e.ns)
	for _, g := range r.Gateways {
		require.False(e.t, g.DelegateMissing, "%s route %s delegates to %s, which does not exist", g.VirtualService, g.Route, g.Delegate)
		require.NotEmpty(e.t, g.Istio, "Istio generates no route for gateway %s from %s route %s", g.Gateway, g.VirtualService, g.Route)
		require.Equal(e.t, g.Declared, g.Istio, "weights of %s route %s in Istio's routes for gateway %s", g.VirtualService, g.Route, g.Gateway)
	}
	require.Zero(e.t, r.Failed, "failed requests to %s", component)
	require.Empty(e.t, meshProblems(r.Analyzers), "Istio's analyzers")
	e.t.Logf("mesh probe: %s in %s: gateways %+v", component, e.ns, r.Gateways)
	return r
}
