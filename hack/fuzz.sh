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
status=0
while IFS=: read -r file target; do
	pkg=./$(dirname "$file")
	began=$(date +%s.%N)
	if ! out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg" 2>&1); then
		echo "$out"
		status=1
	fi
	# go test prints the running count as "fuzz: elapsed: 3s, execs: 12345 (4115/sec), ...";
	# none when the time went to running the corpus it has gathered so far
	# (the fuzz cache keeps what earlier runs found).
	execs=$(grep -o 'execs: [0-9]*' <<<"$out" | tail -1 | cut -d' ' -f2 || true)
	seconds=$(awk -v a="$began" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	printf '%-18s %-22s %10s execs in %6ss\n' "$target" "$pkg" "${execs:-0}" "$seconds"
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' providers internal cmd hack 2>/dev/null |
	sed 's/:func /:/' | sort)
exit "$status"
