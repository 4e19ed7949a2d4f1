// Command cluster starts and stops the local control plane of this
// repository (see test/cluster): `make cluster-up`, `make cluster-down`.
//
//	go run ./hack/cluster up       start it, or reuse a healthy one
//	go run ./hack/cluster down     stop exactly what up started, remove .cluster
//	go run ./hack/cluster status   exit 0 when it is healthy
//	go run ./hack/cluster adopt NAME PID
//	                               make `down` stop a process someone else
//	                               started for the cluster (the addon's provider)
//	go run ./hack/cluster freeport print a free port on 127.0.0.1 (the addon's
//	                               provider gets its address before it starts)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/istio-canary/istio-canary/test/cluster"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cluster up|down|status|adopt NAME PID|freeport")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, command string, args []string) error {
	if command == "freeport" {
		ports, err := cluster.FreePorts(1)
		if err != nil {
			return err
		}
		fmt.Println(ports[0])
		return nil
	}
	if command != "adopt" && len(args) > 0 {
		return fmt.Errorf("%s takes no arguments", command)
	}
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
	case "adopt":
		if len(args) != 2 {
			return errors.New("usage: cluster adopt NAME PID")
		}
		pid, err := strconv.Atoi(args[1])
		if err != nil {
			return fmt.Errorf("adopt: PID %q: %w", args[1], err)
		}
		return cluster.Adopt(cluster.Options{}, args[0], pid)
	default:
		return fmt.Errorf("unknown command %q (want up, down, status or adopt)", command)
	}
}
