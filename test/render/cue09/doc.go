// Package render, in this module, runs the render tests of test/render with
// CUE v0.9, the version vela-core and the vela CLI v1.10 evaluate definitions
// with (the main module, like vela v1.11, is on v0.14; a Go module holds one
// version of cuelang.org/go, hence a module of its own).
//
// The test files are the ones of test/render, linked (not copied), together
// with testdata/, so both versions render the same inputs with the same code
// and are compared with the same golden files. Left out are the files that
// need the provider's Go packages (they pull in the main module and its CUE)
// or the main module's dependencies; TestLinkedFiles keeps the two lists
// complete. TestTraitGolden is replaced by TestTraitGoldenCUE09, which allows
// for CUE's wording of errors; every other linked test runs as it is.
//
//	cd test/render/cue09 && go test ./...    # make test-cue09
package render
