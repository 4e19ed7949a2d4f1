#!/usr/bin/env bash
# Checks every X-Definition in definitions/:
#   1. `cue fmt` leaves it unchanged (cue built from cuelang.org/go/cmd/cue at
#      the version go.mod requires, installed into the cache when missing);
#   2. `vela def vet` accepts it (the vela CLI hack/build-tools.sh builds).
# Prints each problem with its file and exits non-zero if there is any.
#
#   hack/def-check.sh [definition.cue...]     default: definitions/*.cue
#
# ISTIO_CANARY_CACHE overrides the cache root (as in hack/build-tools.sh);
# VELA=/path/to/vela uses that vela instead of building the tools.
#
# `vela def vet` needs no cluster, but it needs a kubeconfig: without one it
# exits 1 without a word (it lists CueX Packages through the kubeconfig at
# start-up, and only logs when that fails). So it runs here with a throwaway
# kubeconfig that points at an address nothing listens on; the one error line
# that produces ("Failed to load external packages ... connection refused")
# is expected and filtered out.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ISTIO_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-canary}

if (($# > 0)); then
	files=("$@")
else
	shopt -s nullglob
	files=("$ROOT"/definitions/*.cue)
	shopt -u nullglob
fi
if ((${#files[@]} == 0)); then
	echo "def-check: no definitions to check" >&2
	exit 1
fi

# cue, at the version of cuelang.org/go in go.mod.
CUE_VERSION=$(cd "$ROOT" && go list -m -f '{{.Version}}' cuelang.org/go)
CUE_BIN="$CACHE/cue-$CUE_VERSION/bin"
if [[ ! -x "$CUE_BIN/cue" ]]; then
	echo "def-check: installing cue $CUE_VERSION into $CUE_BIN" >&2
	mkdir -p "$CUE_BIN"
	GOBIN="$CUE_BIN" go install "cuelang.org/go/cmd/cue@$CUE_VERSION"
fi
CUE="$CUE_BIN/cue"

# vela, from the tools cache (built there if missing: ~25 min cold).
if [[ -z "${VELA:-}" ]]; then
	echo "def-check: locating vela with hack/build-tools.sh" >&2
	VELA="$("$ROOT/hack/build-tools.sh")/vela"
fi
if [[ ! -x "$VELA" ]]; then
	echo "def-check: no vela CLI at $VELA" >&2
	exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/kubeconfig" <<'EOF'
apiVersion: v1
kind: Config
clusters:
- name: none
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: none
  context:
    cluster: none
    user: none
current-context: none
users:
- name: none
  user: {}
EOF

failed=0
for f in "${files[@]}"; do
	rel=${f#"$ROOT"/}

	# cue fmt on a copy: the check never rewrites the tree.
	cp "$f" "$TMP/def.cue"
	if ! out=$(cd "$TMP" && "$CUE" fmt def.cue 2>&1); then
		echo "FAIL $rel: cue fmt: ${out//def.cue/$rel}"
		failed=1
	elif ! diff -u --label "$rel" --label "$rel (cue fmt)" "$f" "$TMP/def.cue" >"$TMP/fmt.diff"; then
		echo "FAIL $rel: not formatted as cue fmt $CUE_VERSION formats it (run: $CUE fmt $rel):"
		sed 's/^/    /' "$TMP/fmt.diff"
		failed=1
	else
		echo "ok   $rel: cue fmt"
	fi

	if ! out=$(KUBECONFIG="$TMP/kubeconfig" "$VELA" def vet "$f" 2>&1); then
		echo "FAIL $rel: vela def vet:"
		grep -v 'Failed to load external packages' <<<"$out" | sed 's/^/    /'
		failed=1
	elif ! grep -q 'succeed' <<<"$out"; then
		echo "FAIL $rel: vela def vet did not report success:"
		sed 's/^/    /' <<<"$out"
		failed=1
	else
		echo "ok   $rel: vela def vet"
	fi
done
exit "$failed"
