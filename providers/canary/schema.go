package canary

import _ "embed"

// Schema is the CUE schema of the provider's functions, as the addon's
// Package publishes it for users who write their own steps
// (import "ext/istiocanary").
//
//go:embed canary.cue
var Schema string
