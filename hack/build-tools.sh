#!/usr/bin/env bash
# Builds the local control plane's programs from the Go module proxy (no prebuilt
# downloads) into a cache outside the repo, keyed by the hash of each tool
# module and the Go version, so a second run builds nothing.
#
#   hack/build-tools.sh            build what is missing, print the bin dir
#
# ISTIO_CANARY_CACHE overrides the cache root (default: $XDG_CACHE_HOME or
# ~/.cache, then istio-canary). ISTIO_CANARY_VELA_TOOLS names the tool module
# under hack/tools that vela-core and vela come from (default vela, KubeVela
# v1.11; vela-1.10 for `make test-compat`); etcd and Kubernetes are shared.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="$ROOT/hack/tools"
CACHE=${ISTIO_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-canary}
GOVERSION=$(go env GOVERSION)

# The versions stamped into the Kubernetes binaries; the module pins them.
K8S_VERSION=$(awk '$1=="k8s.io/kubernetes"{print $2}' "$TOOLS/k8s/go.mod")
K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
VELA_TOOLS=${ISTIO_CANARY_VELA_TOOLS:-vela}
if [[ ! -f "$TOOLS/$VELA_TOOLS/go.mod" ]]; then
	echo "ISTIO_CANARY_VELA_TOOLS=$VELA_TOOLS: no tool module hack/tools/$VELA_TOOLS" >&2
	exit 1
fi

tool_key() { # tool dir -> content hash of its sources and the Go version
	(cd "$TOOLS/$1" && { echo "$GOVERSION"; find . -type f | LC_ALL=C sort | xargs sha256sum; }) | sha256sum | cut -c1-16
}

progress() { # name pid: print elapsed time every 30 s while pid runs
	local name=$1 pid=$2 start=$SECONDS
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		if (((SECONDS - start) % 30 < 5)); then
			echo "  ... building $name: $((SECONDS - start))s" >&2
		fi
	done
}

build() { # tool-dir output-name package ldflags
	local dir=$1 out=$2 pkg=$3 ldflags=$4
	local key dest
	key=$(tool_key "$dir")
	dest="$CACHE/bin/$dir-$key"
	if [[ -x "$dest/$out" ]]; then
		echo "$dest"
		return
	fi
	mkdir -p "$dest"
	echo "building $out ($dir, key $key); a cold build takes minutes" >&2
	local start=$SECONDS log="$dest/$out.build.log"
	(cd "$TOOLS/$dir" && go build -trimpath -ldflags="$ldflags" -o "$dest/.$out.tmp" "$pkg") >"$log" 2>&1 &
	local pid=$!
	progress "$out" "$pid" &
	local ticker=$!
	if ! wait "$pid"; then
		kill "$ticker" 2>/dev/null || true
		cat "$log" >&2
		echo "build of $out failed (log: $log)" >&2
		return 1
	fi
	kill "$ticker" 2>/dev/null || true
	mv "$dest/.$out.tmp" "$dest/$out"
	echo "built $out in $((SECONDS - start))s" >&2
	echo "$dest"
}

BIN="$CACHE/bin/current-$(echo "$(tool_key etcd)$(tool_key k8s)$(tool_key "$VELA_TOOLS")" | sha256sum | cut -c1-16)"
if [[ -x "$BIN/vela" && -x "$BIN/etcd" && -x "$BIN/kube-apiserver" ]]; then
	echo "$BIN"
	exit 0
fi

etcd_dir=$(build etcd etcd . "-s -w")
k8s_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean"
k8s_dir=$(build k8s k8s . "$k8s_ldflags")
vela_dir=$(build "$VELA_TOOLS" vela-core ./vela-core "-s -w")
vela_cli_dir=$(build "$VELA_TOOLS" vela ./vela "-s -w")

mkdir -p "$BIN"
ln -sf "$etcd_dir/etcd" "$BIN/etcd"
for p in kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
	ln -sf "$k8s_dir/k8s" "$BIN/$p"
done
ln -sf "$vela_dir/vela-core" "$BIN/vela-core"
ln -sf "$vela_cli_dir/vela" "$BIN/vela"
echo "$BIN"
