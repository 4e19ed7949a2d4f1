#!/usr/bin/env bash
# How fast a failing canary is rolled back: from the first failing sample
# Prometheus stores to the VirtualService sending 100% to the stable
# version, with stock vela-core settings. Each round runs the end-to-end
# test TestAnalysisRollsBackAFailingCanary (interval 10s) on the local
# control plane, which prints the figure; this script runs it ROUNDS times
# (default 3) with the provider as shipped, and as many times with the
# provider told not to wake the waiting step (--analysis-no-wake), so that
# the step learns the verdict only when vela's backoff runs it again.
# It prints each figure, the medians and their ratio.
#
#   hack/bench-analysis.sh            (make bench-analysis)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
cd "$ROOT"

run_rounds() { # label, provider flags
	local label=$1 flags=$2 out figures=()
	for i in $(seq "$ROUNDS"); do
		out=$(mktemp)
		ISTIO_CANARY_PROVIDER_FLAGS=$flags ISTIO_CANARY_BENCH_OUT=$out \
			go test -tags e2e ./test/e2e/ -run '^TestAnalysisRollsBackAFailingCanary$' -count=1 -timeout 15m >/dev/null
		figures+=("$(cat "$out")")
		rm -f "$out"
		echo "  $label round $i: ${figures[-1]} s" >&2
	done
	printf '%s\n' "${figures[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "analysis rollback: first failing sample stored -> VirtualService 100% stable (interval 10s; goal <= 15 s)" >&2
woken=$(run_rounds "woken by the provider" "")
backoff=$(run_rounds "step left to vela's backoff" "--analysis-no-wake")
# Leave the provider as shipped for whatever runs next.
hack/addon.sh up >/dev/null
printf 'median, woken by the provider:        %6.1f s\n' "$woken"
printf "median, left to vela's backoff:       %6.1f s\n" "$backoff"
awk -v a="$backoff" -v b="$woken" 'BEGIN {printf "ratio (backoff / woken):              %6.1f x\n", a / b}'
