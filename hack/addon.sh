#!/usr/bin/env bash
# Runs the addon against the local control plane: the provider as a local
# process on 127.0.0.1, and the addon enabled from the working tree with
# providerEndpoint pointing at it (so no provider image is needed).
#
#   hack/addon.sh up         build and start the provider, enable the addon
#                            (ISTIO_CANARY_PROVIDER_FLAGS: more provider flags);
#                            nothing to do when the running provider and the
#                            enabled addon are already those of the tree
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
KEYFILE="$STATE/addon.key"
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
	mkdir -p "$STATE/logs"
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

# key names what `up` runs: the provider binary, its flags and the addon's
# files. The end-to-end tests call `up` before each test; when the key is
# the one of the running provider and enabled addon, there is nothing to do.
key() {
	{
		sha256sum "$ROOT/bin/istio-canary-provider"
		echo "${PROMETHEUS_ADDRESS:-} ${ISTIO_CANARY_PROVIDER_FLAGS:-}"
		(cd "$ROOT" && find metadata.yaml template.cue parameter.cue README.md definitions resources -type f -print0 |
			sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -d' ' -f1
}

up_to_date() { # key
	[[ -f "$KEYFILE" && "$(cat "$KEYFILE")" == "$1" && -f "$PIDFILE" && -s "$ADDRFILE" ]] || return 1
	kill -0 "$(cat "$PIDFILE")" 2>/dev/null || return 1
	curl -fsS "http://$(tr -d '\n' <"$ADDRFILE")/healthz" >/dev/null 2>&1 || return 1
	[[ "$(kubectl -n vela-system get application addon-istio-canary -o jsonpath='{.status.status}' 2>/dev/null)" == running ]]
}

case "${1:-}" in
up)
	use_cluster
	mkdir -p "$ROOT/bin"
	# Built as the provider image builds it (static, -trimpath), so that the
	# packages `make image` and its test compiled are reused.
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o bin/istio-canary-provider ./cmd/istio-canary-provider)
	want=$(key)
	if up_to_date "$want"; then
		echo "istio-canary already enabled from this tree; provider at http://$(tr -d '\n' <"$ADDRFILE")"
		exit 0
	fi
	rm -f "$KEYFILE"
	start_provider
	stage_addon "$ADDON_DIR"
	endpoint="http://$(tr -d '\n' <"$ADDRFILE")"
	vela addon enable "$ADDON_DIR" providerEndpoint="$endpoint" --yes
	echo "$want" >"$KEYFILE"
	echo "istio-canary enabled; provider at $endpoint (log: $STATE/logs/provider.log)"
	;;
down)
	use_cluster
	rm -f "$KEYFILE"
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
