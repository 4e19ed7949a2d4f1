// Command istio-canary shows, and aborts, the progressive delivery of a KubeVela
// Application whose workflow canaries components with Istio traffic splitting.
//
//	istio-canary status <app> [-n namespace] [--watch]
//	istio-canary abort <app> [-n namespace] [--reason text]
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &env{
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		terminal:   term.IsTerminal(int(os.Stdout.Fd())),
		getenv:     os.Getenv,
		newClients: newClients,
		user:       kubeUser,
	}
	err := newRootCmd(env).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "istio-canary:", err)
		os.Exit(1)
	}
}
