package canary

import (
	"errors"
	"fmt"

	"github.com/istio-canary/istio-canary/providers/router"
)

// InputError is a problem with what the step asked for: retrying cannot help,
// so the step fails with its message. Every other error is passing (the API
// server did not answer) and the step waits and tries again.
type InputError struct{ msg string }

func (e *InputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{msg: fmt.Sprintf(format, args...)}
}

// IsInputError reports whether err, or an error it wraps, is an InputError
// or a RefusedError: the step fails with either.
func IsInputError(err error) bool {
	var ie *InputError
	var refused *RefusedError
	return errors.As(err, &ie) || errors.As(err, &refused)
}

// routerError makes the router's refusal of an object that belongs to
// someone else an InputError: retrying cannot help. Other errors pass through.
func routerError(err error) error {
	var notOwned *router.NotOwnedError
	if errors.As(err, &notOwned) {
		return &InputError{msg: notOwned.Error()}
	}
	return err
}
