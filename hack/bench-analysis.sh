#!/usr/bin/env bash
# How fast a failing canary is rolled back: from the first failing sample
# Prometheus stores to the VirtualService sending 100% to the stable
# version, with stock vela-core settings. Each round runs the end-to-end
# test TestAnalysisRollsBackAFailingCanary on the local control plane,
# which writes the figure. Three cases: interval 10s and the canary failing
# at once; interval 10s and failing after HEALTHY (default 6) healthy
# measurements; interval 1m and failing at once (vela's backoff of a
# waiting step grows to about a minute between two changes of its
# message). Each with the provider as shipped, and with the provider told
# not to wake the waiting step (--analysis-no-wake), so that the step learns
# the verdict only when vela's backoff runs it again. ROUNDS (default 2)
# rounds of each 10s case, one of the 1m case; it prints every figure, the
# medians and their ratios.
#
#   hack/bench-analysis.sh            (make bench-analysis; about 25 min)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-2}
HEALTHY=${HEALTHY:-6}
cd "$ROOT"

# median of the rounds of one configuration: rounds, interval, healthy
# measurements, provider flags.
median_of() {
	local rounds=$1 interval=$2 healthy=$3 flags=$4 out figures=()
	for i in $(seq "$rounds"); do
		out=$(mktemp)
		ISTIO_CANARY_PROVIDER_FLAGS=$flags ISTIO_CANARY_BENCH_OUT=$out ISTIO_CANARY_BENCH_HEALTHY_MEASUREMENTS=$healthy \
			ISTIO_CANARY_BENCH_INTERVAL=$interval \
			go test -tags e2e ./test/e2e/ -run '^TestAnalysisRollsBackAFailingCanary$' -count=1 -timeout 20m >/dev/null
		figures+=("$(cat "$out")")
		rm -f "$out"
		echo "  interval $interval, after $healthy healthy measurements, ${flags:-woken}, round $i: ${figures[-1]} s" >&2
	done
	printf '%s\n' "${figures[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "first failing sample stored -> VirtualService 100% stable (goal: one interval + 5 s)" >&2
woken_early=$(median_of "$ROUNDS" 10s 0 "")
backoff_early=$(median_of "$ROUNDS" 10s 0 "--analysis-no-wake")
woken_late=$(median_of "$ROUNDS" 10s "$HEALTHY" "")
backoff_late=$(median_of "$ROUNDS" 10s "$HEALTHY" "--analysis-no-wake")
woken_minute=$(median_of 1 1m 0 "")
backoff_minute=$(median_of 1 1m 0 "--analysis-no-wake")
# Leave the provider as shipped for whatever runs next.
hack/addon.sh up >/dev/null

printf '\n%-36s %18s %22s %7s\n' "canary fails" "woken (shipped)" "left to vela backoff" "ratio"
for row in "interval 10s, at once:$woken_early:$backoff_early" \
	"interval 10s, after $HEALTHY measurements:$woken_late:$backoff_late" \
	"interval 1m, at once:$woken_minute:$backoff_minute"; do
	IFS=: read -r label woken backoff <<<"$row"
	awk -v l="$label" -v w="$woken" -v b="$backoff" 'BEGIN {printf "%-36s %16.1f s %20.1f s %6.1fx\n", l, w, b, b / w}'
done
