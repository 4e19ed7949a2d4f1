package canary

import _ "embed"

// Schema is the CUE schema of the provider's functions (canary.cue): the one
// source from which `make generate` writes the addon's Package template
// (users' steps import it as "ext/istiocanary") and the calls the
// canary-rollout and canary-rollback steps write inline. A test checks it
// against the Go types of this package.
//
//go:embed canary.cue
var Schema string
