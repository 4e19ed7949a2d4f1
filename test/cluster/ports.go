package cluster

import (
	"fmt"
	"net"
)

// Ports are the loopback ports of one cluster, chosen free at start so that
// two clusters (two checkouts) can run side by side.
type Ports struct {
	EtcdClient int `json:"etcdClient"`
	EtcdPeer   int `json:"etcdPeer"`
	APIServer  int `json:"apiServer"`
	Kwok       int `json:"kwok"`
	VelaHealth int `json:"velaHealth"`
	Prometheus int `json:"prometheus"`
	// VelaWebhook is vela-core's webhook server, in authentication mode only.
	VelaWebhook int `json:"velaWebhook,omitempty"`
}

// FreePorts asks the kernel for n distinct free ports on 127.0.0.1. All
// listeners are held until every port is known, so no port is handed out
// twice; a program of someone else may still take one before we bind it,
// which a later health check would report.
func FreePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func allocatePorts() (Ports, error) {
	p, err := FreePorts(6)
	if err != nil {
		return Ports{}, err
	}
	return Ports{EtcdClient: p[0], EtcdPeer: p[1], APIServer: p[2], Kwok: p[3], VelaHealth: p[4], Prometheus: p[5]}, nil
}
