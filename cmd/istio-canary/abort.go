package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/istio-canary/istio-canary/internal/status"
	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

func newAbortCmd(e *env, kf *kubeFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "abort <app>",
		Short: "Abort the canary of an Application: its workflow rolls the canary back",
		Long: `Abort the workflow run of a KubeVela Application that is canarying: the run's canary steps
(canary-rollout, canary-analysis) roll the canary back instead of going on, and then fail the
run, saying why. A workflow suspended at an approval, a timed pause or an inconclusive analysis
is resumed, so that its next canary step runs and rolls back.

The abort holds for the current run only: the next release runs as usual. Aborting a run
that is already aborted writes nothing new (it resumes the workflow if it waits again).`,
		Example: `  istio-canary abort book-info
  istio-canary abort book-info -n default --reason "error rate too high"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clients, ns, err := e.newClients(*kf)
			if err != nil {
				return err
			}
			if reason == "" {
				reason = defaultReason(e.user(*kf))
			}
			return abort(cmd.Context(), e.stdout, clients.Dynamic, ns, args[0], reason)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the canary is aborted, recorded on the Application (default: who aborted it)")
	return cmd
}

// defaultReason names the kubeconfig user, so that the status view says who
// aborted the canary.
func defaultReason(user string) string {
	if user == "" {
		user = "a user"
	}
	return "aborted by " + user + " with istio-canary abort"
}

// abort aborts the current run of an Application and says what it did;
// it refuses, writing nothing, when an abort would roll nothing back.
func abort(ctx context.Context, out io.Writer, dyn dynamic.Interface, ns, app, reason string) error {
	u, err := dyn.Resource(workflowrun.ApplicationGVR).Namespace(ns).Get(ctx, app, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("application %s not found in namespace %s (check the name and -n): %w", app, ns, err)
	}
	if err != nil {
		return fmt.Errorf("application %s/%s: %w", ns, app, err)
	}
	before, err := workflowrun.FromObject(u)
	if err != nil {
		return err
	}
	if !before.Active() {
		return notActive(before, ns, app)
	}
	if err := rollsBack(u, before); err != nil {
		return err
	}
	run, err := workflowrun.Client{Dynamic: dyn}.Abort(ctx, ns, app, reason)
	switch {
	case errors.Is(err, workflowrun.ErrNotActive): // it ended in the meantime
		return notActive(run, ns, app)
	case err != nil && run != nil && run.AbortRequested:
		return fmt.Errorf("the abort of run %s is recorded, but the workflow could not be resumed: %w; run %s so that its next canary step rolls back",
			run.ID, err, command("vela workflow resume", app, ns))
	case err != nil:
		return err
	}
	switch {
	case before.AbortRequested && before.Suspended:
		fmt.Fprintf(out, "Run %s of application %s/%s was already aborted (reason: %q).\n", run.ID, ns, app, before.AbortReason)
	case before.AbortRequested:
		fmt.Fprintf(out, "Run %s of application %s/%s was already aborted (reason: %q): nothing new written.\n", run.ID, ns, app, before.AbortReason)
	default:
		fmt.Fprintf(out, "Aborted run %s of application %s/%s (reason: %q).\n", run.ID, ns, app, reason)
	}
	switch step := before.SuspendedStep(); {
	case before.Suspended && step != "":
		fmt.Fprintf(out, "The workflow was suspended at step %s: resumed, so that its next canary step rolls back.\n", step)
	case before.Suspended:
		fmt.Fprintln(out, "The workflow was suspended: resumed, so that its next canary step rolls back.")
	default:
		fmt.Fprintln(out, "The workflow is running: its canary steps roll back instead of going on.")
	}
	fmt.Fprintf(out, "Watch the rollback with: %s\n", command("istio-canary status", app, ns, "--watch"))
	return nil
}

// rollsBack refuses an abort that would roll nothing back: with no canary
// step left in the workflow, resuming the aborted run would just finish it.
// A workflow whose steps the Application does not list (a referenced
// Workflow) is given the benefit of the doubt.
func rollsBack(u *unstructured.Unstructured, run *workflowrun.Run) error {
	planned, _, _ := unstructured.NestedSlice(u.Object, "spec", "workflow", "steps")
	if len(planned) == 0 {
		return nil
	}
	w, err := status.WorkflowOf(u)
	if err != nil {
		return err
	}
	if w.CanaryStepAhead() {
		return nil
	}
	return fmt.Errorf("application %s/%s: no canary step (canary-rollout, canary-analysis, canary-rollback) is left to run in the workflow of %s, "+
		"so an abort would roll nothing back, and resuming the workflow would finish the release; "+
		"apply a canary-rollback workflow instead (as examples/bookinfo/rollback.yaml does)", run.Namespace, run.App, run.Revision)
}

// notActive says why there is nothing to abort, and what to do instead.
func notActive(run *workflowrun.Run, ns, app string) error {
	rollback := command("vela workflow rollback", app, ns)
	switch {
	case run.ID == "":
		return fmt.Errorf("application %s/%s: its workflow has not started, so there is no canary to abort; "+
			"watch it with %s, and abort once it runs", ns, app, command("istio-canary status", app, ns, "--watch"))
	case run.AbortRequested:
		return fmt.Errorf("application %s/%s: run %s was aborted (%s) and has ended (%s): there is nothing left to abort; "+
			"%s shows where the canary stands", ns, app, run.ID, orNone(run.AbortReason), orNone(run.Phase), command("istio-canary status", app, ns))
	case run.Terminated || run.Phase == "failed" || run.Phase == "terminated":
		return fmt.Errorf("application %s/%s: the workflow of %s has stopped (%s), so nothing moves and there is nothing to abort; "+
			"to roll back, apply a canary-rollback workflow (as examples/bookinfo/rollback.yaml does), or run %s if each release carries an app.oam.dev/publishVersion annotation; "+
			"%s runs the workflow again", ns, app, run.Revision, orNone(run.Phase), rollback, command("vela workflow restart", app, ns))
	default:
		return fmt.Errorf("application %s/%s: the workflow of %s has finished, so the release is done and there is no canary to abort; "+
			"to go back to the previous version, deploy it again (apply its Application), or run %s if each release carries an app.oam.dev/publishVersion annotation",
			ns, app, run.Revision, rollback)
	}
}

// command is a command line for the Application, with -n unless it is
// in the default namespace, then the flags.
func command(verb, app, ns string, flags ...string) string {
	cmd := verb + " " + app
	if ns != "" && ns != "default" {
		cmd += " -n " + ns
	}
	for _, f := range flags {
		cmd += " " + f
	}
	return "`" + cmd + "`"
}

func orNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}
