package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	xdsgrpc "google.golang.org/grpc/xds"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/istio-agent/grpcxds"
)

// istioVersion is the version of the istio.io/istio module in go.mod (its
// VERSION file).
const istioVersion = "1.31.0"

// clientNode is how the client introduces itself to Istio: a sidecar of the
// namespace that wants the proxyless gRPC generator's xDS. Without
// GENERATOR=grpc Istio sends Envoy's listeners, which grpc-go cannot use,
// and every RPC waits until its deadline.
func clientNode(namespace string) *model.Node {
	return &model.Node{
		ID: "sidecar~127.0.0.1~meshprobe." + namespace + "~" + namespace + ".svc.cluster.local",
		Metadata: &model.BootstrapNodeMetadata{NodeMetadata: model.NodeMetadata{
			// The version of the linked control plane, so that Istio takes
			// none of its paths for older proxies.
			IstioVersion: istioVersion,
			Namespace:    namespace,
			Generator:    "grpc",
			ClusterID:    "Kubernetes",
		}},
	}
}

// dialMesh connects a proxyless gRPC client to target (xds:///host:port)
// with its routes, clusters and endpoints from the discovery server at
// xdsAddr, in plaintext, dialing pods through dial.
func dialMesh(xdsAddr, namespace, target string, dial func(context.Context, string) (net.Conn, error)) (*grpc.ClientConn, error) {
	bootstrap, err := grpcxds.GenerateBootstrap(grpcxds.GenerateBootstrapOptions{
		Node:             clientNode(namespace),
		DiscoveryAddress: xdsAddr,
	})
	if err != nil {
		return nil, fmt.Errorf("xDS bootstrap: %w", err)
	}
	data, err := json.Marshal(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("xDS bootstrap: %w", err)
	}
	// A resolver of its own, not the process-wide xds:// one, so that the
	// bootstrap is this function's and not read from the environment.
	resolver, err := xdsgrpc.NewXDSResolverWithConfigForTesting(data)
	if err != nil {
		return nil, fmt.Errorf("xDS resolver: %w", err)
	}
	conn, err := grpc.NewClient(target,
		grpc.WithResolvers(resolver),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(dial))
	if err != nil {
		return nil, fmt.Errorf("client of %s: %w", target, err)
	}
	return conn, nil
}

// configWait bounds the wait for the client's first config. A route to a
// cluster Istio does not have (a subset no DestinationRule defines) holds
// the whole channel until grpc-go's xDS client gives up on that resource,
// 15 seconds after asking for it; the wait outlasts that, so that requests
// measure the config in place and not the time it took to arrive.
const configWait = 20 * time.Second

// awaitConfig waits until the client has its config and a first connection
// (or knows it cannot have one), or limit has passed.
func awaitConfig(ctx context.Context, conn *grpc.ClientConn, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready || s == connectivity.TransientFailure || !conn.WaitForStateChange(ctx, s) {
			return
		}
	}
}

// tally counts the answers per version and the failures per cause.
type tally struct {
	mu       sync.Mutex
	measured map[string]int
	failed   int
	causes   map[string]int
}

// send makes n unary calls from concurrent callers, each with its own
// deadline and the given headers, and counts who answered. Concurrency only
// shortens the run: Istio's routes retry a call that finds no endpoint
// twice, with backoff, so each failure takes a few hundred milliseconds.
func send(ctx context.Context, conn *grpc.ClientConn, n int, timeout time.Duration, headers map[string]string) *tally {
	t := &tally{measured: map[string]int{}, causes: map[string]int{}}
	client := testgrpc.NewTestServiceClient(conn)
	var pairs []string
	for k, v := range headers {
		pairs = append(pairs, k, v)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, pairs...)
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				rctx, cancel := context.WithTimeout(ctx, timeout)
				resp, err := client.UnaryCall(rctx, &testgrpc.SimpleRequest{})
				cancel()
				t.mu.Lock()
				if err != nil {
					t.failed++
					t.causes[status.Code(err).String()+": "+status.Convert(err).Message()]++
				} else {
					t.measured[resp.GetServerId()]++
				}
				t.mu.Unlock()
			}
		}()
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return t
}

// causeLines are the failures' causes, most frequent first.
func (t *tally) causeLines() []string {
	var lines []string
	for c, n := range t.causes {
		lines = append(lines, fmt.Sprintf("%5d %s", n, c))
	}
	sort.Sort(sort.Reverse(sort.StringSlice(lines)))
	return lines
}
