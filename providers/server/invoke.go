package server

import (
	"context"
	"encoding/json"
	"fmt"
)

// inputError marks a $params that does not decode: bad input, not a passing problem.
type inputError struct{ error }

// caller decodes a call's $params and runs its function.
type caller interface {
	call(ctx context.Context, body []byte) (any, error)
}

// typed adapts a typed function to caller.
type typed[In, Out any] func(context.Context, *In) (*Out, error)

func (f typed[In, Out]) call(ctx context.Context, body []byte) (any, error) {
	// vela hands back what an external provider answered as CUE floats,
	// which it writes as 1E+1 when they reach $params again: normalise the
	// numbers through Go's encoding before decoding into In's ints.
	var loose any
	if err := json.Unmarshal(body, &loose); err != nil {
		return nil, inputError{fmt.Errorf("decode $params: %w", err)}
	}
	normal, err := json.Marshal(loose)
	if err != nil {
		return nil, inputError{fmt.Errorf("decode $params: %w", err)}
	}
	in := new(In)
	if err := json.Unmarshal(normal, in); err != nil {
		return nil, inputError{fmt.Errorf("decode $params: %w", err)}
	}
	out, err := f(ctx, in)
	if err == nil && out == nil {
		// vela can only fill $returns from a JSON object.
		return struct{}{}, nil
	}
	return out, err
}
