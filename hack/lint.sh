#!/usr/bin/env bash
# `make lint`: gofmt and golangci-lint at the pinned version below, installed
# from the Go module proxy into the cache on first use; golangci-lint runs go
# vet's analyzers (its govet, with the e2e build tag: .golangci.yml), so go
# vet does not run a second time. Exits non-zero on the first tool that finds
# a problem.
#
# ISTIO_CANARY_CACHE overrides the cache root (as in hack/build-tools.sh).
set -euo pipefail

GOLANGCI_LINT_VERSION=v2.15.0

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ISTIO_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-canary}
BIN="$CACHE/golangci-lint-$GOLANGCI_LINT_VERSION/bin"
cd "$ROOT"

unformatted=$(gofmt -l $(git ls-files '*.go'))
if [[ -n "$unformatted" ]]; then
	echo "lint: not gofmt-formatted (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "lint: gofmt ok"

if [[ ! -x "$BIN/golangci-lint" ]]; then
	echo "lint: installing golangci-lint $GOLANGCI_LINT_VERSION into $BIN (a few minutes, once)" >&2
	mkdir -p "$BIN"
	GOBIN="$BIN" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi
"$BIN/golangci-lint" run ./...
echo "lint: golangci-lint ok"
