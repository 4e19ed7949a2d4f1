package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/istio-canary/istio-canary/internal/status"
)

// clearScreen moves the cursor home and clears the terminal.
const clearScreen = "\x1b[H\x1b[2J"

func newStatusCmd(e *env, kf *kubeFlags) *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "status <app>",
		Short: "Show the canary state of an Application: versions, instances, traffic, workflow step, next action",
		Long: `Show, per canaried component (a component with a rollout trait) of a KubeVela Application,
the stable and canary versions, their ready/desired instances, the traffic split of the
component's VirtualService, the workflow step running now and what to do next; and for the
current workflow run its analyses (with their last measurements), a timed pause counting
down, and an abort with its reason.

With --watch, the view is redrawn whenever the Application, its Deployments, the
namespace's VirtualServices or the Application's analyses change, and every second while
it counts down (a timed pause, the next measurement), until Ctrl-C.`,
		Example: `  istio-canary status book-info
  istio-canary status book-info -n default --watch`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clients, ns, err := e.newClients(*kf)
			if err != nil {
				return err
			}
			opts := status.Options{Color: e.colour()}
			if watch {
				return watchStatus(cmd.Context(), e, clients, ns, args[0], opts)
			}
			v, err := status.Collect(cmd.Context(), clients, ns, args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(e.stdout, status.Render(v, opts))
			return err
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "redraw on every change until Ctrl-C")
	return cmd
}

// watchStatus redraws the view on change: in place on a terminal, else one frame
// after another, separated by an empty line.
func watchStatus(ctx context.Context, e *env, c status.Clients, ns, app string, opts status.Options) error {
	first := true
	return status.Watch(ctx, c, ns, app, status.DefaultWatchInterval, func(v status.View, err error) {
		if err != nil {
			fmt.Fprintln(e.stderr, "istio-canary:", err)
			return
		}
		frame := status.Render(v, opts)
		switch {
		case e.terminal:
			frame = clearScreen + frame + "\n(watching; Ctrl-C to stop)\n"
		case !first:
			frame = "\n" + frame
		}
		first = false
		fmt.Fprint(e.stdout, frame)
	})
}
