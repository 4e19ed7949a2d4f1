// Package workflowruntest has a fake of an Application's workflow run for
// the tests of what reads and aborts it (the analysis engine, the analyze
// function, the step seam).
package workflowruntest

import (
	"context"

	"github.com/istio-canary/istio-canary/providers/workflowrun"
)

// Runs answers one Application's run and records what is done to it.
type Runs struct {
	Run workflowrun.Run
	// Aborts and Notes are the reasons and notes written, in order.
	Aborts []string
	Notes  []string
	// AbortErr, when set, is what Abort answers (and it records nothing).
	AbortErr error
}

// Get returns a copy of the run.
func (f *Runs) Get(context.Context, string, string) (*workflowrun.Run, error) {
	r := f.Run
	return &r, nil
}

// Abort marks the run aborted with reason, as workflowrun.Client does.
func (f *Runs) Abort(_ context.Context, _, _, reason string) (*workflowrun.Run, error) {
	if f.AbortErr != nil {
		return nil, f.AbortErr
	}
	f.Aborts = append(f.Aborts, reason)
	f.Run.AbortRequested, f.Run.AbortReason = true, reason
	r := f.Run
	return &r, nil
}

// Notify records the note.
func (f *Runs) Notify(_ context.Context, _, _, note string) error {
	f.Notes = append(f.Notes, note)
	return nil
}
