// Command cluster starts and stops the local control plane of this
// repository (see test/cluster): `make cluster-up`, `make cluster-down`.
//
//	go run ./hack/cluster up       start it, or reuse a healthy one
//	go run ./hack/cluster down     stop exactly what up started, remove .cluster
//	go run ./hack/cluster status   exit 0 when it is healthy
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/istio-canary/istio-canary/test/cluster"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: cluster up|down|status")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, command string) error {
	switch command {
	case "up":
		_, err := cluster.Up(ctx, cluster.Options{})
		return err
	case "down":
		return cluster.Down(cluster.Options{})
	case "status":
		c, err := cluster.Status(ctx, cluster.Options{})
		if err != nil {
			return fmt.Errorf("not healthy: %w", err)
		}
		fmt.Printf("healthy: kube-apiserver https://127.0.0.1:%d, vela-core %s; source %s\n", c.Ports.APIServer, c.KubeVelaVersion, c.EnvFile)
		return nil
	default:
		return fmt.Errorf("unknown command %q (want up, down or status)", command)
	}
}
