package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// endpoint is one ready pod of the component behind its Service, at the
// address Istio hands the client (the pod's IP and target port).
type endpoint struct {
	pod     string
	version string
	addrs   []string // pod IP:port, one per port of the EndpointSlice
}

// readyEndpoints are the ready endpoints of the component's Service whose
// targetRef names a pod of the objects: the pods Istio may route to.
func readyEndpoints(objs []object, namespace, service string) ([]endpoint, error) {
	pods := map[string]*corev1.Pod{}
	for _, o := range objs {
		if o.GetKind() == "Pod" && o.GetNamespace() == namespace {
			var p corev1.Pod
			if err := fromUnstructured(o, &p); err != nil {
				return nil, err
			}
			pods[p.Name] = &p
		}
	}
	byPod := map[string]*endpoint{}
	var out []*endpoint
	for _, o := range objs {
		if o.GetKind() != "EndpointSlice" || o.GetNamespace() != namespace || o.GetLabels()[discoveryv1.LabelServiceName] != service {
			continue
		}
		var s discoveryv1.EndpointSlice
		if err := fromUnstructured(o, &s); err != nil {
			return nil, err
		}
		for _, e := range s.Endpoints {
			if e.TargetRef == nil || e.TargetRef.Kind != "Pod" || (e.Conditions.Ready != nil && !*e.Conditions.Ready) {
				continue
			}
			pod := pods[e.TargetRef.Name]
			if pod == nil {
				continue
			}
			ep := byPod[pod.Name]
			if ep == nil {
				ep = &endpoint{pod: pod.Name, version: pod.Labels["version"]}
				byPod[pod.Name] = ep
				out = append(out, ep)
			}
			for _, addr := range e.Addresses {
				for _, p := range s.Ports {
					if p.Port != nil {
						ep.addrs = append(ep.addrs, net.JoinHostPort(addr, strconv.Itoa(int(*p.Port))))
					}
				}
			}
		}
	}
	eps := make([]endpoint, 0, len(out))
	for _, ep := range out {
		eps = append(eps, *ep)
	}
	return eps, nil
}

// backends are the real gRPC servers standing in for the pods, one per pod
// on a 127.0.0.1 port, answering with the pod's name and version.
type backends struct {
	servers []*grpc.Server
	local   map[string]string // pod IP:port -> 127.0.0.1:port
	wg      sync.WaitGroup
}

func startBackends(eps []endpoint) (*backends, error) {
	b := &backends{local: map[string]string{}}
	for _, ep := range eps {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.stop()
			return nil, fmt.Errorf("backend of pod %s: %w", ep.pod, err)
		}
		srv := grpc.NewServer()
		testgrpc.RegisterTestServiceServer(srv, &podServer{pod: ep.pod, version: ep.version})
		b.servers = append(b.servers, srv)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			_ = srv.Serve(lis) // returns when stopped
		}()
		for _, a := range ep.addrs {
			b.local[a] = lis.Addr().String()
		}
	}
	return b, nil
}

// dial is the client's dialer: a pod's address reaches its backend, and
// nothing but the backends is ever dialed.
func (b *backends) dial(ctx context.Context, addr string) (net.Conn, error) {
	local, ok := b.local[addr]
	if !ok {
		return nil, fmt.Errorf("%s is no ready pod of the component", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", local)
}

func (b *backends) stop() {
	for _, s := range b.servers {
		s.Stop()
	}
	b.wg.Wait()
}

type podServer struct {
	testgrpc.UnimplementedTestServiceServer
	pod, version string
}

func (s *podServer) UnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return &testgrpc.SimpleResponse{Hostname: s.pod, ServerId: s.version}, nil
}
