#!/usr/bin/env bash
# Runs the addon against the local control plane: the provider as a local
# process on 127.0.0.1 (the binary taken out of the image `make image`
# builds, run with the credentials of the addon's ServiceAccount only), and
# the addon enabled as users enable it, from a Helm addon registry (one
# served on 127.0.0.1 from the tree's package), with providerEndpoint
# pointing at the provider (kwok's pods could not run the image).
#
#   hack/addon.sh up           build and start the provider, package the addon,
#                              serve it as the registry istio-canary-local and
#                              enable it from there (ISTIO_CANARY_PROVIDER_FLAGS:
#                              more provider flags); nothing to do when the
#                              running provider and the enabled addon are
#                              already those of the tree
#   hack/addon.sh down         disable the addon, stop the provider and the
#                              registry, remove the registry from vela
#   hack/addon.sh stage DIR    copy the addon's files into DIR/istio-canary
#   hack/addon.sh package DIR  write DIR/istio-canary-<version>.tgz (vela addon
#                              package; VELA=/path/to/vela, else the tools'
#                              vela) and DIR/index.yaml: DIR is a Helm addon
#                              registry
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
PORTFILE="$STATE/provider.port"
PROVIDER_KUBECONFIG="$STATE/provider.kubeconfig"
KEYFILE="$STATE/addon.key"
REGISTRY=istio-canary-local
REGISTRY_DIR="$STATE/registry"
REGISTRY_PIDFILE="$STATE/registry.pid"
REGISTRY_ADDRFILE="$STATE/registry.addr"

# stop PIDFILE FILE...: stop the process PIDFILE names (wait up to 5 s for
# it to end), then remove PIDFILE and the FILEs that describe it.
stop() {
	if [[ -f "$1" ]]; then
		local pid
		pid=$(cat "$1")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid"
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
	fi
	rm -f "$@"
}

stop_provider() { stop "$PIDFILE" "$ADDRFILE"; }

# provider_sources names what the provider binary is built from: the Go
# files of the packages it imports from this module, and the module's
# dependencies.
provider_sources() {
	(cd "$ROOT" && {
		go version
		cat go.mod go.sum
		go list -deps -f '{{if .Module}}{{if .Module.Main}}{{range .GoFiles}}{{$.Dir}}/{{.}} {{end}}{{range .EmbedFiles}}{{$.Dir}}/{{.}} {{end}}{{end}}{{end}}' ./cmd/istio-canary-provider |
			xargs -n1 | sort | xargs sha256sum
	} | sha256sum | cut -d' ' -f1)
}

# provider_port is the port the provider listens on: chosen free once and
# kept, so that the endpoint the addon was enabled with stays right.
provider_port() {
	if [[ ! -s "$PORTFILE" ]]; then
		(cd "$ROOT" && go run ./hack/cluster freeport) >"$PORTFILE"
	fi
	tr -d '\n' <"$PORTFILE"
}

# provider_kubeconfig writes a kubeconfig with a token of the addon's
# ServiceAccount (the addon, enabled, created it), so that the provider
# can do what its ClusterRole allows and nothing else, as in the cluster.
provider_kubeconfig() {
	local token server ca
	for _ in $(seq 100); do
		kubectl -n vela-system get serviceaccount istio-canary-provider >/dev/null 2>&1 && break
		sleep 0.1
	done
	token=$(kubectl -n vela-system create token istio-canary-provider --duration=720h)
	server=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
	ca=$(kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
	rm -f "$PROVIDER_KUBECONFIG"
	(umask 077 && cat >"$PROVIDER_KUBECONFIG") <<-EOF
		apiVersion: v1
		kind: Config
		clusters: [{name: local, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
		users: [{name: istio-canary-provider, user: {token: "$token"}}]
		contexts: [{name: provider, context: {cluster: local, user: istio-canary-provider}}]
		current-context: provider
	EOF
}

start_provider() {
	stop_provider
	mkdir -p "$STATE/logs"
	rm -f "$ADDRFILE"
	provider_kubeconfig
	# The local control plane runs a Prometheus (PROMETHEUS_ADDRESS in its
	# env): it is the default of the canary-analysis steps, as the addon
	# parameter prometheusAddress is in a real cluster.
	setsid "$ROOT/bin/istio-canary-provider" --listen="127.0.0.1:$(provider_port)" --address-file="$ADDRFILE" \
		--kubeconfig="$PROVIDER_KUBECONFIG" --prometheus-address="${PROMETHEUS_ADDRESS:-}" -v=2 ${ISTIO_CANARY_PROVIDER_FLAGS:-} \
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

# The addon's files, as its package holds them; its README.md is
# docs/addon/README.md (what VelaUX shows), not the project's README.
ADDON_FILES=(metadata.yaml template.cue parameter.cue definitions resources)
ADDON_README=docs/addon/README.md

# The addon's name is its directory's name, so it is enabled from a copy in
# a directory named istio-canary, holding just the files an addon has.
stage_addon() { # dir
	rm -rf "$1"
	mkdir -p "$1"
	(cd "$ROOT" && cp -r "${ADDON_FILES[@]}" "$1"/)
	cp "$ROOT/$ADDON_README" "$1/README.md"
}

# hack/registry's program, built like the provider into bin/ (a no-op when
# it is up to date) rather than `go run`, whose server would be a child of
# the go command and outlive a kill of its PID.
build_registry() {
	(cd "$ROOT" && go build -o bin/addon-registry ./hack/registry)
}

# package_addon writes DIR/istio-canary-<version>.tgz with `vela addon
# package` (which adds Chart.yaml, made from metadata.yaml) from a staged
# copy, then DIR/index.yaml, which makes DIR a Helm addon registry.
package_addon() { # dir
	# The vela of the local cluster's tools (ISTIO_CANARY_BIN when its env
	# is sourced), built if missing, unless VELA names another.
	local vela=${VELA:-} stage
	if [[ -z "$vela" ]]; then
		vela="${ISTIO_CANARY_BIN:-$("$ROOT/hack/build-tools.sh")}/vela"
	fi
	mkdir -p "$1"
	stage=$(mktemp -d)
	stage_addon "$stage/istio-canary"
	# vela writes the package into its working directory.
	(cd "$1" && "$vela" addon package "$stage/istio-canary" >/dev/null) || { rm -rf "$stage"; return 1; }
	rm -rf "$stage"
	build_registry
	"$ROOT/bin/addon-registry" index "$1"
}

registry_alive() {
	[[ -f "$REGISTRY_PIDFILE" && -s "$REGISTRY_ADDRFILE" ]] || return 1
	kill -0 "$(cat "$REGISTRY_PIDFILE")" 2>/dev/null || return 1
	curl -fsS "http://$(tr -d '\n' <"$REGISTRY_ADDRFILE")/index.yaml" >/dev/null 2>&1
}

# start_registry serves REGISTRY_DIR on 127.0.0.1 unless it is served
# already: the server reads the directory on every request, so a new
# package written there is what the next `vela addon enable` gets. The
# server is recorded with the cluster, so that `make cluster-down` stops it.
start_registry() {
	if registry_alive; then
		return 0
	fi
	stop_registry
	rm -f "$REGISTRY_ADDRFILE"
	setsid "$ROOT/bin/addon-registry" serve --address-file="$REGISTRY_ADDRFILE" "$REGISTRY_DIR" \
		>"$STATE/logs/registry.log" 2>&1 </dev/null &
	echo $! >"$REGISTRY_PIDFILE"
	(cd "$ROOT" && go run ./hack/cluster adopt istio-canary-registry "$(cat "$REGISTRY_PIDFILE")")
	for _ in $(seq 100); do
		registry_alive && return 0
		kill -0 "$(cat "$REGISTRY_PIDFILE")" 2>/dev/null || break
		sleep 0.1
	done
	echo "the addon registry did not start; its log:" >&2
	cat "$STATE/logs/registry.log" >&2
	return 1
}

stop_registry() { stop "$REGISTRY_PIDFILE" "$REGISTRY_ADDRFILE"; }

# serve_registry makes sure the registry is served and vela knows it at its
# address.
serve_registry() {
	start_registry
	vela addon registry add "$REGISTRY" --type helm --endpoint "http://$(tr -d '\n' <"$REGISTRY_ADDRFILE")" >/dev/null
}

# enable_from_registry packages the tree's addon into the registry's
# directory and enables it from there, as a user enables an addon from a
# registry. `registry add` replaces a registry of the same name, so the
# endpoint follows the server's port. The name is given with its registry:
# a bare name makes vela try every registry, and a directory named
# istio-canary in the working directory would be enabled instead.
enable_from_registry() { # providerEndpoint
	mkdir -p "$REGISTRY_DIR" "$STATE/logs"
	rm -f "$REGISTRY_DIR"/*.tgz
	package_addon "$REGISTRY_DIR"
	serve_registry
	# --yes: vela asks nothing (it asks when its version does not meet the
	# addon's requirement), and it takes over definitions another addon owns
	# (README, "Name clashes") instead of stopping: on this development
	# cluster, the tree's addon is the one wanted.
	vela addon enable "$REGISTRY/istio-canary" providerEndpoint="$1" --yes
}

# key names what `up` runs: the provider binary, its flags and the addon's
# files. The end-to-end tests call `up` before each test; when the key is
# the one of the running provider and enabled addon, there is nothing to do.
key() {
	{
		sha256sum "$ROOT/bin/istio-canary-provider"
		echo "${PROMETHEUS_ADDRESS:-} ${ISTIO_CANARY_PROVIDER_FLAGS:-}"
		(cd "$ROOT" && find "${ADDON_FILES[@]}" "$ADDON_README" -type f -print0 |
			sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -d' ' -f1
}

addon_enabled() { # key: the tree's addon is enabled and runs
	[[ -f "$KEYFILE" && "$(cat "$KEYFILE")" == "$1" ]] || return 1
	[[ "$(kubectl -n vela-system get application addon-istio-canary -o jsonpath='{.status.status}' 2>/dev/null)" == running ]]
}

provider_ready() {
	[[ -f "$PIDFILE" && -s "$ADDRFILE" ]] || return 1
	kill -0 "$(cat "$PIDFILE")" 2>/dev/null || return 1
	# Ready: the API server still takes its token (disabling the addon
	# deletes the ServiceAccount, and so the token, with it).
	curl -fsS "http://$(tr -d '\n' <"$ADDRFILE")/readyz" >/dev/null 2>&1
}

case "${1:-}" in
up)
	use_cluster
	mkdir -p "$ROOT/bin"
	# The provider binary of the image, read back from its OCI layout; the
	# image is built again only when the provider's sources changed (the
	# end-to-end tests call `up` before every test, and two links a call
	# cost minutes).
	sources=$(provider_sources)
	if [[ ! -x "$ROOT/bin/istio-canary-provider" || "$(cat "$STATE/image.sources" 2>/dev/null)" != "$sources" ]]; then
		(cd "$ROOT" && go run ./hack/image -out "$STATE/image" -extract bin/istio-canary-provider >/dev/null)
		echo "$sources" >"$STATE/image.sources"
	fi
	want=$(key)
	if addon_enabled "$want"; then
		# The addon is the tree's; its registry may have stopped (vela lists
		# it, and the addon records it as its origin): serve it again.
		registry_alive || serve_registry
		if ! provider_ready; then
			# Only the provider is gone (killed, crashed): start it again
			# at the endpoint the addon was enabled with, as a Deployment
			# restarts its pod, without enabling the addon again.
			start_provider
		fi
		echo "istio-canary enabled from this tree; provider at http://$(tr -d '\n' <"$ADDRFILE")"
		exit 0
	fi
	rm -f "$KEYFILE"
	stop_provider
	# Enabled first: it creates the ServiceAccount the provider runs as.
	endpoint="http://127.0.0.1:$(provider_port)"
	enable_from_registry "$endpoint"
	start_provider
	echo "$want" >"$KEYFILE"
	echo "istio-canary enabled from the addon registry $REGISTRY at http://$(tr -d '\n' <"$REGISTRY_ADDRFILE"); provider at $endpoint (log: $STATE/logs/provider.log)"
	;;
down)
	use_cluster
	rm -f "$KEYFILE"
	vela addon disable istio-canary --force --yes 2>/dev/null || true
	stop_provider
	stop_registry
	vela addon registry delete "$REGISTRY" >/dev/null 2>&1 || true
	echo "istio-canary disabled; provider and addon registry stopped"
	;;
stage)
	[[ -n "${2:-}" ]] || { echo "usage: $0 stage DIR" >&2; exit 2; }
	stage_addon "$2/istio-canary"
	echo "$2/istio-canary"
	;;
package)
	[[ -n "${2:-}" ]] || { echo "usage: $0 package DIR" >&2; exit 2; }
	package_addon "$2"
	echo "$2/istio-canary-$(awk '$1 == "version:" {print $2}' "$ROOT/metadata.yaml").tgz"
	;;
*)
	echo "usage: $0 up|down|stage DIR|package DIR" >&2
	exit 2
	;;
esac
