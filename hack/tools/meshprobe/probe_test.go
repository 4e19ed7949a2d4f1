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

func probeFiles(t *testing.T, headers map[string]string, routes string) *Result {
	t.Helper()
	objs, err := loadFiles([]string{"testdata/reviews.yaml", "testdata/" + routes})
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

// TestPortNamedPortN records how Istio treats the port name the addon's
// Service gives (port-<n>, no protocol prefix): it detects the protocol per
// connection, and an Envoy sidecar sends HTTP/1.1 and cleartext HTTP/2 (gRPC)
// through the HTTP routes, so through the weights, and any other connection
// through a plain TCP proxy to every pod of the Service.
func TestPortNamedPortN(t *testing.T) {
	res := probeFiles(t, nil, "route-90-10.yaml")
	want := Port{
		Name: "port-9080", Number: 9080, Protocol: "UnsupportedProtocol",
		Sidecar:          []string{"http for http/1.1,h2c", "tcp to outbound|9080||reviews.default.svc.cluster.local otherwise"},
		SidecarHTTPRoute: true,
	}
	if !reflect.DeepEqual(res.Port, want) {
		t.Errorf("port: got %+v, want %+v", res.Port, want)
	}
	if !slices.Contains(codes(res.Analyzers), "IST0118") {
		t.Errorf("analyzers said %v, want IST0118 (port name without protocol) among them", codes(res.Analyzers))
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
