#!/usr/bin/env bash
# Runs the addon against the local control plane: the provider as a local
# process on 127.0.0.1, and the addon enabled from the working tree with
# providerEndpoint pointing at it (so no provider image is needed).
#
#   hack/addon.sh up         build and start the provider, enable the addon
#                            (ISTIO_CANARY_PROVIDER_FLAGS: more provider flags)
#   hack/addon.sh down       disable the addon, stop the provider
#   hack/addon.sh stage DIR  copy the addon's files into DIR/istio-canary
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE="$ROOT/.cluster"

use_cluster() {
	if [[ ! -f "$STATE/env" ]]; then
		echo "no local cluster: run 'make cluster-up' first" >&2
		exit 1
	fi
	# shellcheck source=/dev/null
	source "$STATE/env"
}
PIDFILE="$STATE/provider.pid"
ADDRFILE="$STATE/provider.addr"
ADDON_DIR="$STATE/addon/istio-canary"

stop_provider() {
	if [[ -f "$PIDFILE" ]]; then
		local pid
		pid=$(cat "$PIDFILE")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid"
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		rm -f "$PIDFILE" "$ADDRFILE"
	fi
}

start_provider() {
	stop_provider
	mkdir -p "$STATE/logs" "$ROOT/bin"
	(cd "$ROOT" && go build -o bin/istio-canary-provider ./cmd/istio-canary-provider)
	rm -f "$ADDRFILE"
	# The local control plane runs a Prometheus (PROMETHEUS_ADDRESS in its
	# env): it is the default of the canary-analysis steps, as the addon
	# parameter prometheusAddress is in a real cluster.
	setsid "$ROOT/bin/istio-canary-provider" --listen=127.0.0.1:0 --address-file="$ADDRFILE" \
		--kubeconfig="$KUBECONFIG" --prometheus-address="${PROMETHEUS_ADDRESS:-}" -v=2 ${ISTIO_CANARY_PROVIDER_FLAGS:-} \
		>"$STATE/logs/provider.log" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	# Record it with the cluster, so that `make cluster-down` stops it too.
	(cd "$ROOT" && go run ./hack/cluster adopt istio-canary-provider "$(cat "$PIDFILE")")
	for _ in $(seq 100); do
		if [[ -s "$ADDRFILE" ]] && curl -fsS "http://$(cat "$ADDRFILE")/healthz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
		sleep 0.1
	done
	echo "the provider did not start; its log:" >&2
	cat "$STATE/logs/provider.log" >&2
	return 1
}

# The addon's name is its directory's name, so it is enabled from a copy in
# a directory named istio-canary, holding just the files an addon has.
stage_addon() { # dir
	rm -rf "$1"
	mkdir -p "$1"
	cp -r "$ROOT"/{metadata.yaml,template.cue,parameter.cue,README.md,definitions,resources} "$1"/
}

case "${1:-}" in
up)
	use_cluster
	start_provider
	stage_addon "$ADDON_DIR"
	endpoint="http://$(tr -d '\n' <"$ADDRFILE")"
	vela addon enable "$ADDON_DIR" providerEndpoint="$endpoint" --yes
	echo "istio-canary enabled; provider at $endpoint (log: $STATE/logs/provider.log)"
	;;
down)
	use_cluster
	vela addon disable istio-canary --force --yes 2>/dev/null || true
	stop_provider
	echo "istio-canary disabled; provider stopped"
	;;
stage)
	[[ -n "${2:-}" ]] || { echo "usage: $0 stage DIR" >&2; exit 2; }
	stage_addon "$2/istio-canary"
	echo "$2/istio-canary"
	;;
*)
	echo "usage: $0 up|down|stage DIR" >&2
	exit 2
	;;
esac
