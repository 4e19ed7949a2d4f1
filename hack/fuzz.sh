#!/usr/bin/env bash
# Runs every fuzz target of the module (func FuzzXxx in a _test.go file), one
# after the other, and prints what each did.
#
#   hack/fuzz.sh              5 seconds of each (what `make test` runs)
#   FUZZTIME=1000000x hack/fuzz.sh
#                             a million executions of each (`make fuzz`)
#
# FUZZTIME is go test's -fuzztime: a duration or a count ending in x;
# FUZZMINIMIZETIME its -fuzzminimizetime (10s).
# Inputs that fail are written under the package's testdata/fuzz/<target>/
# by go test itself: commit them, they become test cases of `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-5s}
# How long a worker may shrink an input it found: go test's default is a
# minute, spent on every new interesting input, which stalls a long run's
# executions for minutes; a crasher is shrunk as far as this allows.
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-10s}

# fuzz PKG TARGET: one run of go test -fuzz; its output in $out, its status
# returned.
fuzz() {
	out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$1" 2>&1)
}

# stopped_at_deadline: whether the failure in $out is go1.26's fuzzing
# coordinator tripping over its own -fuzztime deadline rather than a finding.
# When a duration runs out while a worker is busy, the coordinator can report
# the worker's cancelled context as the target's failure: "--- FAIL" followed
# by nothing but "context deadline exceeded" (Go 1.27 fixes it). A finding
# always names its input ("Failing input written to testdata/fuzz/..."), and
# a test's own failure prints its message, so neither is mistaken for this.
stopped_at_deadline() {
	grep -q 'Failing input written to' <<<"$out" && return 1
	grep -A1 -e '^--- FAIL: ' <<<"$out" | grep -v -e '^--- FAIL: ' -e '^--$' |
		grep -qvx '[[:space:]]*context deadline exceeded' && return 1
	grep -qx '[[:space:]]*context deadline exceeded' <<<"$out"
}

# The rule above, on the outputs it must tell apart; checked on every run, so
# that a change to it (or to grep) cannot turn findings into retries.
classify() { out=$(printf -- "$1"); if stopped_at_deadline; then echo race; else echo finding; fi; }
for sample in \
	'race|--- FAIL: FuzzX (6.02s)\n    context deadline exceeded\nFAIL\nexit status 1\n' \
	'finding|--- FAIL: FuzzX (1.0s)\n    --- FAIL: FuzzX (0.00s)\n        x_test.go:10: weights sum to 90\n    Failing input written to testdata/fuzz/FuzzX/0a\nFAIL\n' \
	'finding|--- FAIL: FuzzX (3.0s)\n    x_test.go:3: context deadline exceeded\nFAIL\n' \
	'finding|--- FAIL: FuzzX (3.0s)\n    context deadline exceeded\n    Failing input written to testdata/fuzz/FuzzX/0a\nFAIL\n' \
	'finding|./x.go:1:1: syntax error\nFAIL\tx [build failed]\n' \
	'finding|panic: boom\nFAIL\n'; do
	if [[ $(classify "${sample#*|}") != "${sample%%|*}" ]]; then
		echo "hack/fuzz.sh: stopped_at_deadline misjudges this output as not a ${sample%%|*}:" >&2
		printf -- "${sample#*|}" >&2
		exit 1
	fi
done

status=0
while IFS=: read -r file target; do
	pkg=./$(dirname "$file")
	began=$(date +%s.%N)
	if ! fuzz "$pkg" "$target"; then
		if stopped_at_deadline; then
			echo "$target: go test stopped at its deadline with no failing input (the fuzzing coordinator's race, not a finding); running it once more"
			fuzz "$pkg" "$target" || { echo "$out"; status=1; }
		else
			echo "$out"
			status=1
		fi
	fi
	# go test prints the running count as "fuzz: elapsed: 3s, execs: 12345 (4115/sec), ...";
	# none when the time went to running the corpus it has gathered so far
	# (the fuzz cache keeps what earlier runs found).
	execs=$(grep -o 'execs: [0-9]*' <<<"$out" | tail -1 | cut -d' ' -f2 || true)
	seconds=$(awk -v a="$began" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	baseline=""
	if [ -z "$execs" ]; then
		corpus=$(grep -o 'baseline coverage: [0-9]*/[0-9]*' <<<"$out" | tail -1 | cut -d' ' -f3 | sed 's|/| of |' || true)
		baseline=" (the time went to the seeds and the cached corpus: ${corpus:-?} run; plain go test runs the committed seeds)"
	fi
	printf '%-18s %-22s %10s execs in %6ss%s\n' "$target" "$pkg" "${execs:-0}" "$seconds" "$baseline"
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' providers internal cmd hack 2>/dev/null |
	sed 's/:func /:/' | sort)
exit "$status"
