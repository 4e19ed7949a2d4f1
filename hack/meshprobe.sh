#!/usr/bin/env bash
# Runs the mesh probe (hack/tools/meshprobe): a component's traffic split
# measured through Istio's own discovery server and a proxyless gRPC client,
# printed as one JSON object on stdout.
#
#   hack/meshprobe.sh -component reviews [-app book-info] [-namespace default] [-requests 1000] [-header x-canary=true]
#   hack/meshprobe.sh -component reviews -f objects.yaml     (offline)
#   hack/meshprobe.sh -build                                  (build only; print the binary's path)
#
# The probe links Istio's control plane, whose module graph the main module
# cannot take, so it is its own module, built here into the cache keyed by
# the hash of its files and the Go version (as hack/build-tools.sh does for
# the control plane's programs; `make meshprobe` runs the build alone, as
# `make test-e2e` does first). Reads the cluster of $KUBECONFIG, else of
# .cluster/env.
#
# ISTIO_CANARY_CACHE overrides the cache root (default: $XDG_CACHE_HOME or
# ~/.cache, then istio-canary).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR="$ROOT/hack/tools/meshprobe"
CACHE=${ISTIO_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-canary}

key=$( (cd "$DIR" && { go env GOVERSION; find . -type f ! -name '*_test.go' ! -path './testdata/*' | LC_ALL=C sort | xargs sha256sum; }) | sha256sum | cut -c1-16)
dest="$CACHE/bin/meshprobe-$key"
if [[ ! -x "$dest/meshprobe" ]]; then
	mkdir -p "$dest"
	echo "building meshprobe (key $key); a cold build takes 10 to 20 minutes on 2 cores" >&2
	start=$SECONDS
	(cd "$DIR" && go build -trimpath -ldflags="-s -w" -o "$dest/.meshprobe.tmp" .) >&2 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		if (((SECONDS - start) % 30 < 5)); then
			echo "  ... building meshprobe: $((SECONDS - start))s" >&2
		fi
	done
	wait "$pid"
	mv "$dest/.meshprobe.tmp" "$dest/meshprobe"
	echo "built meshprobe in $((SECONDS - start))s" >&2
fi
if [[ "${1:-}" == "-build" ]]; then
	echo "$dest/meshprobe"
	exit 0
fi

if [[ -z "${KUBECONFIG:-}" && -f "$ROOT/.cluster/env" ]]; then
	# shellcheck disable=SC1091
	source "$ROOT/.cluster/env"
fi
exec "$dest/meshprobe" "$@"
