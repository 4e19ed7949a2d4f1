package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	configureLogs(false)
	os.Exit(m.Run())
}

const requests = 1000

// probeFiles probes reviews over testdata/reviews.yaml and the named files
// of testdata, in that order.
func probeFiles(t *testing.T, headers map[string]string, files ...string) *Result {
	t.Helper()
	paths := []string{"testdata/reviews.yaml"}
	for _, f := range files {
		paths = append(paths, "testdata/"+f)
	}
	objs, err := loadFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Probe(ctx, Options{
		Component: "reviews", Namespace: "default", Requests: requests, Timeout: 2 * time.Second, Headers: headers,
	}, objs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("declared %v, istio %v, measured %v, failed %d, port %+v", res.Declared, res.Istio, res.Measured, res.Failed, res.Port)
	for _, m := range res.Analyzers {
		t.Logf("analyzer: %+v", m)
	}
	return res
}

// assertWithin4σ checks that n, of requests answered with probability p,
// is within four standard deviations of its mean (a false alarm once in
// about 16,000 runs).
func assertWithin4σ(t *testing.T, what string, n int, p float64) {
	t.Helper()
	mean := requests * p
	σ := math.Sqrt(requests * p * (1 - p))
	if math.Abs(float64(n)-mean) > 4*σ {
		t.Errorf("%s: %d of %d, want %.0f ± %.0f (4σ)", what, n, requests, mean, 4*σ)
	}
}

func assertWeights(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s weights: got %v, want %v", what, got, want)
	}
}

func assertOnly(t *testing.T, measured map[string]int, versions ...string) {
	t.Helper()
	for v := range measured {
		if !slices.Contains(versions, v) {
			t.Errorf("version %q answered; want only %v", v, versions)
		}
	}
}

func codes(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Code)
	}
	return out
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		routes  string
		canary  int
		weights map[string]int
	}{
		{"route-90-10.yaml", 10, map[string]int{"v1": 90, "v2": 10}},
		{"route-70-30.yaml", 30, map[string]int{"v1": 70, "v2": 30}},
	} {
		t.Run(c.routes, func(t *testing.T) {
			res := probeFiles(t, nil, c.routes)
			assertWeights(t, "declared", res.Declared, c.weights)
			assertWeights(t, "istio", res.Istio, c.weights)
			if res.Failed != 0 {
				t.Errorf("%d requests failed, want 0", res.Failed)
			}
			p := float64(c.canary) / 100
			assertWithin4σ(t, "v2", res.Measured["v2"], p)
			assertWithin4σ(t, "v1", res.Measured["v1"], 1-p)
			assertOnly(t, res.Measured, "v1", "v2")
		})
	}
}

func TestSubsetWithoutReadyPods(t *testing.T) {
	for _, c := range []struct {
		routes, code string
	}{
		{"route-unknown-subset.yaml", "IST0101"}, // the DestinationRule has no subset v3
		{"route-subset-no-pods.yaml", "IST0173"}, // subset v3 selects no pod
	} {
		t.Run(c.routes, func(t *testing.T) {
			res := probeFiles(t, nil, c.routes)
			want := map[string]int{"v1": 50, "v3": 50}
			assertWeights(t, "declared", res.Declared, want)
			assertWeights(t, "istio", res.Istio, want)
			assertWithin4σ(t, "failed", res.Failed, 0.5)
			assertWithin4σ(t, "v1", res.Measured["v1"], 0.5)
			assertOnly(t, res.Measured, "v1")
			if !slices.Contains(codes(res.Analyzers), c.code) {
				t.Errorf("analyzers said %v, want %s among them", codes(res.Analyzers), c.code)
			}
		})
	}
}

func TestHeaderRoute(t *testing.T) {
	res := probeFiles(t, map[string]string{"x-canary": "true"}, "route-header.yaml")
	// The canary-traffic route still says 90/10; the header route in front
	// of it takes every request that carries the header.
	assertWeights(t, "declared", res.Declared, map[string]int{"v1": 90, "v2": 10})
	assertWeights(t, "istio", res.Istio, map[string]int{"v1": 90, "v2": 10})
	if want := map[string]int{"v2": requests}; res.Failed != 0 || !maps.Equal(res.Measured, want) {
		t.Errorf("measured %v with %d failed, want %v", res.Measured, res.Failed, want)
	}
}

// TestPortProtocol records how Istio treats the addon's Service port
// (appProtocol http) and the one KubeVela's expose trait renders (port-<n>,
// no protocol). Declared, the port is HTTP: a sidecar's connections to the
// Service go through the HTTP routes, so through the weights (the listener
// on 0.0.0.0:<port> that every HTTP Service of the port shares passes other
// connections through to their original destination). Undeclared, Istio detects
// the protocol per connection: an Envoy sidecar sends HTTP/1.1 and cleartext
// HTTP/2 through the HTTP routes and any other connection through a plain TCP
// proxy to every pod of the Service, and the analyzers say IST0118.
func TestPortProtocol(t *testing.T) {
	for _, c := range []struct {
		name    string
		files   []string
		want    Port
		ist0118 bool
	}{
		{"declared", []string{"route-90-10.yaml"}, Port{
			Name: "port-9080", Number: 9080, Protocol: "HTTP",
			Sidecar:          []string{"http for http/1.1,h2c", "tcp to PassthroughCluster otherwise"},
			SidecarHTTPRoute: true,
		}, false},
		{"sniffed", []string{"service-sniffed.yaml", "route-90-10.yaml"}, Port{
			Name: "port-9080", Number: 9080, Protocol: "UnsupportedProtocol",
			Sidecar:          []string{"http for http/1.1,h2c", "tcp to outbound|9080||reviews.default.svc.cluster.local otherwise"},
			SidecarHTTPRoute: true,
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := probeFiles(t, nil, c.files...)
			if !reflect.DeepEqual(res.Port, c.want) {
				t.Errorf("port: got %+v, want %+v", res.Port, c.want)
			}
			if got := slices.Contains(codes(res.Analyzers), "IST0118"); got != c.ist0118 {
				t.Errorf("analyzers said %v; IST0118 (port without protocol) among them: %v, want %v", codes(res.Analyzers), got, c.ist0118)
			}
		})
	}
}

// TestGatewayRoutes checks a gateway's routes to the component on the config
// Istio generates for an ingress gateway: a route with two URI matches to
// the subsets, 80/20, and a named one to the Service without a subset.
func TestGatewayRoutes(t *testing.T) {
	res := probeFiles(t, nil, "route-90-10.yaml", "gateway.yaml")
	want := []GatewayRoute{
		{VirtualService: "default/reviews-gateway", Gateway: "default/reviews-gateway", Route: "#0",
			Declared: map[string]int{"v1": 80, "v2": 20}, Istio: map[string]int{"v1": 80, "v2": 20}, IstioRoutes: 2},
		{VirtualService: "default/reviews-gateway", Gateway: "default/reviews-gateway", Route: "rest",
			Declared: map[string]int{noSubset: 100}, Istio: map[string]int{noSubset: 100}, IstioRoutes: 1},
	}
	if !reflect.DeepEqual(res.Gateways, want) {
		t.Errorf("gateways:\n got %+v\nwant %+v", res.Gateways, want)
	}
	// The mesh route is the VirtualService named after the component, not
	// the gateway's.
	assertWeights(t, "istio", res.Istio, map[string]int{"v1": 90, "v2": 10})
}

// TestGatewayDelegate checks a gateway's routes when its VirtualService
// delegates them, as the istio-gateway and canary-traffic traits render them
// together: each of the delegate's routes is reported, with the routes Istio
// generates from it merged with the root's two URI matches.
func TestGatewayDelegate(t *testing.T) {
	delegated := func(route string, declared, istio map[string]int, routes int) GatewayRoute {
		return GatewayRoute{VirtualService: "default/reviews-gateway", Gateway: "default/reviews-gateway",
			Delegate: "default/reviews-gateway-routes", Route: route, Declared: declared, Istio: istio, IstioRoutes: routes}
	}
	v2 := map[string]int{"v2": 100}
	for _, c := range []struct {
		name  string
		files []string
		want  []GatewayRoute
	}{
		// The header match conflicts with neither URI match: a route for
		// each, as for the route without matches.
		{"delegate", []string{"gateway-delegate.yaml", "gateway-delegate-routes.yaml"}, []GatewayRoute{
			delegated("canary-match", v2, v2, 2),
			delegated("canary-traffic", map[string]int{"v1": 80, "v2": 20}, map[string]int{"v1": 80, "v2": 20}, 2),
		}},
		{"conflicts", []string{"gateway-delegate.yaml", "gateway-delegate-routes.yaml", "gateway-delegate-conflicts.yaml"}, []GatewayRoute{
			delegated("static-v2", v2, v2, 1),
			delegated("api", map[string]int{"v1": 100}, map[string]int{}, 0),
			delegated("user-or-page", map[string]int{"v1": 50, "v2": 50}, map[string]int{"v1": 50, "v2": 50}, 3),
			delegated("user-or-api", v2, map[string]int{}, 0),
			delegated("canary-traffic", map[string]int{"v1": 70, "v2": 30}, map[string]int{"v1": 70, "v2": 30}, 2),
		}},
		{"missing", []string{"route-90-10.yaml", "gateway-delegate.yaml"}, []GatewayRoute{
			{VirtualService: "default/reviews-gateway", Gateway: "default/reviews-gateway", Delegate: "default/reviews-gateway-routes",
				DelegateMissing: true, Route: "#0", Declared: map[string]int{}, Istio: map[string]int{}},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := probeFiles(t, nil, c.files...)
			if !reflect.DeepEqual(res.Gateways, c.want) {
				t.Errorf("gateways:\n got %+v\nwant %+v", res.Gateways, c.want)
			}
			if c.name != "delegate" {
				return
			}
			// The mesh route is the component's VirtualService, alike.
			assertWeights(t, "istio", res.Istio, map[string]int{"v1": 80, "v2": 20})
			// A delegate has no hosts and no gateways; the analyzers take it
			// as such.
			for _, m := range res.Analyzers {
				if m.Level == "Warning" || m.Level == "Error" {
					t.Errorf("analyzer: %+v", m)
				}
			}
		})
	}
}

// TestText: the lines `-o text` prints for people.
func TestText(t *testing.T) {
	r := &Result{
		Declared: map[string]int{"v1": 90, "v2": 10}, Istio: map[string]int{"v1": 90, "v2": 10},
		Measured: map[string]int{"v1": 903, "v2": 96}, Failed: 1,
		DeclaredMirror: &Mirror{Version: "v2", Percent: 20}, IstioMirror: &Mirror{Version: "v2", Percent: 20},
		Analyzers: []Message{{Code: "IST0118", Level: "Info"}, {Code: "IST0101", Level: "Error", Resource: "VirtualService reviews.default", Message: "no subset v3"}},
	}
	want := "measured: 903 of 1,000 requests reached v1, 96 reached v2; 1 failed\n" +
		"Istio's route: v1 90%, v2 10% (declared: v1 90%, v2 10%)\n" +
		"Istio's mirror: 20% to v2 (declared: 20% to v2); mirrored requests' answers are discarded, not measured\n" +
		"Istio's analyzers:\n  Error IST0101 VirtualService reviews.default: no subset v3\n"
	if got := r.Text(); got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
}

// TestGatewayText: a gateway route's line, its own, a delegate's, one whose
// delegate is missing.
func TestGatewayText(t *testing.T) {
	gw := GatewayRoute{VirtualService: "default/reviews-gateway", Gateway: "default/reviews-gateway", Route: "#0",
		Declared: map[string]int{"v1": 80, "v2": 20}, Istio: map[string]int{"v1": 80, "v2": 20}, IstioRoutes: 2}
	delegated := gw
	delegated.Delegate, delegated.Route = "default/reviews-gateway-routes", "canary-traffic"
	missing := GatewayRoute{VirtualService: "default/reviews-gateway", Gateway: "default/reviews-gateway", Route: "#0",
		Delegate: "default/reviews-gateway-routes", DelegateMissing: true, Declared: map[string]int{}, Istio: map[string]int{}}
	for _, c := range []struct {
		route GatewayRoute
		want  string
	}{
		{gw, "gateway default/reviews-gateway, default/reviews-gateway route #0: v1 80%, v2 20% (declared: v1 80%, v2 20%)\n"},
		{delegated, "gateway default/reviews-gateway, default/reviews-gateway delegate default/reviews-gateway-routes route canary-traffic: v1 80%, v2 20% (declared: v1 80%, v2 20%)\n"},
		{missing, "gateway default/reviews-gateway, default/reviews-gateway route #0: delegate default/reviews-gateway-routes not found, Istio drops the route\n"},
	} {
		if got := gatewayText(c.route); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

// TestCommandOutput runs the command as `make mesh-probe` does, offline: its
// stdout is one JSON object, and nothing else writes to the process' stdout.
func TestCommandOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	realStdout := os.Stdout
	os.Stdout = w
	var out bytes.Buffer
	runErr := run([]string{"-component", "reviews", "-requests", "100", "-header", "x-canary=true",
		"-f", "testdata/reviews.yaml", "-f", "testdata/route-header.yaml"}, &out)
	os.Stdout = realStdout
	w.Close()
	stray, _ := io.ReadAll(r)
	if runErr != nil {
		t.Fatal(runErr)
	}
	if len(stray) > 0 {
		t.Errorf("written to stdout besides the answer:\n%s", stray)
	}
	dec := json.NewDecoder(&out)
	var res map[string]any
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, out.String())
	}
	if dec.More() {
		t.Errorf("more than one JSON value on stdout")
	}
	for _, k := range []string{"component", "declared", "istio", "measured", "failed", "analyzers"} {
		if _, ok := res[k]; !ok {
			t.Errorf("answer has no %q: %v", k, res)
		}
	}
}

// TestMatchAndMirror: the A/B route takes every request with the header, the
// others take the weights, and the mirror is in the route Istio generates.
func TestMatchAndMirror(t *testing.T) {
	want := &Mirror{Version: "v2", Percent: 20}
	for _, c := range []struct {
		name    string
		headers map[string]string
		answer  string
	}{
		{"with the header", map[string]string{"x-canary": "true"}, "v2"},
		{"without", nil, "v1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := probeFiles(t, c.headers, "route-match-mirror.yaml")
			assertWeights(t, "declared", res.Declared, map[string]int{"v1": 100})
			if got := map[string]int{c.answer: requests}; res.Failed != 0 || !maps.Equal(res.Measured, got) {
				t.Errorf("measured %v with %d failed, want %v", res.Measured, res.Failed, got)
			}
			if !reflect.DeepEqual(res.DeclaredMirror, want) || !reflect.DeepEqual(res.IstioMirror, want) {
				t.Errorf("mirror: declared %+v, istio %+v, want %+v", res.DeclaredMirror, res.IstioMirror, want)
			}
		})
	}
}
