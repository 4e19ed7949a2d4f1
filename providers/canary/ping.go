package canary

import "context"

// PingParams is a ping call: nothing.
type PingParams struct{}

// PingResult is its answer: nothing either; that it came is the point.
type PingResult struct{}

// Ping answers at once, reading nothing. The steps call it before anything
// else of the provider, so that a provider vela cannot reach fails the step
// with a short message naming its address (vela's message for a failed
// call carries the call's whole value, which for a plan is pages long).
func (Clients) Ping(context.Context, *PingParams) (*PingResult, error) {
	return &PingResult{}, nil
}
