package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/istio-canary/istio-canary/internal/status"
)

// env is what the commands take from the process, so tests can replace it.
type env struct {
	stdout, stderr io.Writer
	// terminal tells whether stdout is a terminal.
	terminal bool
	getenv   func(string) string
	// newClients builds the API clients and the namespace to use from the flags.
	newClients func(kubeFlags) (status.Clients, string, error)
	// user names the kubeconfig user of the flags' context ("" when unknown).
	user func(kubeFlags) string
}

// colour is on for a terminal unless NO_COLOR is set (https://no-color.org).
func (e *env) colour() bool {
	return e.terminal && e.getenv("NO_COLOR") == ""
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "istio-canary",
		Short:         "Progressive delivery of KubeVela Applications with Istio traffic splitting: status and abort",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	var kf kubeFlags
	kf.bind(root.PersistentFlags())
	root.AddCommand(newStatusCmd(e, &kf), newAbortCmd(e, &kf))
	return root
}
