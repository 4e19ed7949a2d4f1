#!/usr/bin/env bash
# make demo: plays the KubeVela "Progressive Rollout with Istio" story on the
# local control plane, with the status view at every stage:
#
#   round 1  first deploy (reviews v1, 2 instances, all traffic)
#            canary v2: the workflow stops at 1 of 2 instances and 10%
#            approval (vela workflow resume): 2 of 2 and 100% on v2
#   round 2  v1 again, canary v2 again, and this time roll it back
#   round 3  v1 again, canary v2 judged by Prometheus (fake Istio telemetry
#            for reviews): its error share rises, and the analysis rolls it
#            back by itself
#
# At every settled stage the mesh probe (hack/meshprobe.sh) sends 1,000
# requests to reviews through Istio's own routes and shows how many reached
# each version.
#
# Every stage waits (DEMO_TIMEOUT seconds, default 180) for its numbers and
# exits non-zero with what it saw when they do not come. DEMO_INTERACTIVE=1
# waits for Enter before each human decision (approve, roll back). The
# cluster is left running; `make cluster-down` stops it.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

readonly APP=book-info NS=default COMPONENT=reviews
readonly TIMEOUT=${DEMO_TIMEOUT:-180}
readonly INTERACTIVE=${DEMO_INTERACTIVE:-0}
readonly STATUS_BIN="$ROOT/bin/istio-canary"

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
	B=$'\e[1m' D=$'\e[2m' G=$'\e[32m' R=$'\e[31m' C=$'\e[36m' X=$'\e[0m'
else
	B="" D="" G="" R="" C="" X=""
fi

stage="setup"
on_error() {
	printf '\n%sdemo failed during "%s": command at line %s exited %s%s\n' "$R" "$stage" "$1" "$2" "$X" >&2
}
trap 'on_error $LINENO $?' ERR

chapter() { printf '\n%s%s%s\n' "$B$C" "$*" "$X"; }
say() { printf '%s\n' "$@"; }
run() {
	printf '%s$ %s%s\n' "$D" "$*" "$X"
	"$@"
}

# state prints what the stages compare, in a fixed format:
#   phase=<app status> reviews-v1=<ready>/<desired>|absent reviews-v2=... traffic=<subset>:<weight>,...
# The phase is "reconciling" until vela has seen the latest spec.
state() {
	local line gen observed phase
	line=$(kubectl get application "$APP" -n "$NS" \
		-o jsonpath='{.metadata.generation}|{.status.observedGeneration}|{.status.status}' 2>/dev/null || true)
	IFS='|' read -r gen observed phase <<<"$line"
	if [[ -z "${gen:-}" ]]; then
		phase="absent"
	elif [[ "$gen" != "${observed:-}" || -z "${phase:-}" ]]; then
		phase="reconciling"
	fi
	printf 'phase=%s' "$phase"
	local version
	for version in v1 v2; do
		printf ' %s-%s=%s' "$COMPONENT" "$version" "$(instances "$COMPONENT-$version")"
	done
	printf ' traffic=%s\n' "$(traffic "$COMPONENT")"
}

# instances prints <ready>/<desired> of a Deployment, or absent.
instances() {
	local out ready desired
	out=$(kubectl get deployment "$1" -n "$NS" -o jsonpath='{.status.readyReplicas} {.spec.replicas}' 2>/dev/null) || {
		echo absent
		return
	}
	read -r ready desired <<<"$out"
	if [[ -z "${desired:-}" ]]; then # readyReplicas is omitted when 0
		desired=$ready ready=0
	fi
	echo "${ready:-0}/${desired:-0}"
}

# traffic prints the VirtualService's first route as subset:weight pairs
# sorted by subset; a single destination without weight gets 100.
traffic() {
	local out
	out=$(kubectl get virtualservices.networking.istio.io "$1" -n "$NS" \
		-o jsonpath='{range .spec.http[0].route[*]}{.destination.subset}:{.weight}{"\n"}{end}' 2>/dev/null) || {
		echo none
		return
	}
	local lines
	lines=$(grep -c . <<<"$out" || true)
	if [[ "$lines" == 1 ]]; then
		out=$(sed -E 's/:$/:100/' <<<"$out")
	fi
	sort <<<"$out" | paste -sd, -
}

# expect waits until state prints exactly the wanted line; it shows every new
# state on the way, and fails with the last one after TIMEOUT seconds.
expect() {
	local want=$1 seen="" last="" deadline=$((SECONDS + TIMEOUT))
	say "${D}waiting for: $want$X"
	while ((SECONDS < deadline)); do
		seen=$(state)
		if [[ "$seen" == "$want" ]]; then
			say "${G}✔ reached:    $seen$X"
			return 0
		fi
		if [[ "$seen" != "$last" ]]; then
			say "${D}  now:        $seen$X"
			last=$seen
		fi
		sleep 1
	done
	printf '\n%sdemo failed: stage "%s" did not reach its state within %ss\n  expected: %s\n  last seen: %s%s\n' \
		"$R" "$stage" "$TIMEOUT" "$want" "$seen" "$X" >&2
	"$STATUS_BIN" status "$APP" -n "$NS" >&2 || true
	say "More: source .cluster/env && vela status $APP; logs in .cluster/logs/" >&2
	exit 1
}

view() {
	echo
	run "$STATUS_BIN" status "$APP" -n "$NS"
}

# measure sends requests to reviews through the routes Istio generates from
# the live objects (the mesh probe) and prints how many reached each version.
measure() {
	printf '%s$ make mesh-probe APP=%s COMPONENT=%s OUTPUT=text%s\n' "$D" "$APP" "$COMPONENT" "$X"
	hack/meshprobe.sh -app "$APP" -component "$COMPONENT" -namespace "$NS" -o text 2>/dev/null
}

decide() {
	if [[ "$INTERACTIVE" == 1 ]]; then
		printf '%sPress Enter to %s %s' "$B" "$1" "$X"
		read -r _ || true
		echo
	else
		say "(a human would decide here; the demo goes on by itself — DEMO_INTERACTIVE=1 waits for Enter)"
	fi
}

readonly FIRST="phase=running reviews-v1=2/2 reviews-v2=absent traffic=v1:100"
readonly CANARY="phase=workflowSuspending reviews-v1=1/1 reviews-v2=1/1 traffic=v1:90,v2:10"
readonly APPROVED="phase=running reviews-v1=absent reviews-v2=2/2 traffic=v2:100"
readonly ROLLED_BACK="phase=running reviews-v1=2/2 reviews-v2=absent traffic=v1:100"
readonly ANALYSING="phase=runningWorkflow reviews-v1=1/1 reviews-v2=1/1 traffic=v1:90,v2:10"
readonly AUTO_ROLLED_BACK="phase=workflowFailed reviews-v1=2/2 reviews-v2=0/0 traffic=v1:100"

# telemetry starts the fake Istio telemetry (hack/telemetry) and has the
# control plane's Prometheus scrape it; set_traffic sets a version's.
telemetry() {
	local addr_file=.cluster/telemetry.addr pid
	rm -f "$addr_file"
	go build -o bin/telemetry ./hack/telemetry
	setsid bin/telemetry --address-file="$addr_file" >.cluster/logs/telemetry.log 2>&1 </dev/null &
	pid=$!
	go run ./hack/cluster adopt telemetry "$pid" >/dev/null
	for _ in $(seq 50); do [[ -s "$addr_file" ]] && break; sleep 0.1; done
	TELEMETRY=$(tr -d '\n' <"$addr_file")
	printf '[{"targets":["%s"],"labels":{}}]\n' "$TELEMETRY" >.cluster/prometheus/.targets.tmp
	mv .cluster/prometheus/.targets.tmp .cluster/prometheus/targets.json
	say "fake Istio telemetry on $TELEMETRY, scraped by Prometheus at $PROMETHEUS_ADDRESS"
}
set_traffic() { # version errorShare
	curl -fsS -X POST "http://$TELEMETRY/set?namespace=$NS&app=reviews&version=$1&rps=20&latencyMs=30&errorShare=$2" >/dev/null
	say "${D}reviews $1: 20 requests/s, $(awk -v e="$2" 'BEGIN {print e * 100}')% answered 500$X"
}

chapter "istio-canary demo: progressive delivery of bookinfo's reviews with KubeVela and Istio"
say "A local Kubernetes control plane with vela-core (pods are simulated by kwok: there is no real" \
	"traffic, but every object and number below is what vela-core and the addon write)."

stage="start the control plane and enable the addon"
chapter "Setup: $stage"
run make --no-print-directory cluster-up
run hack/addon.sh up
# shellcheck source=/dev/null
source .cluster/env
run go build -o bin/istio-canary ./cmd/istio-canary
say "The mesh probe links Istio's control plane: its first build takes 10 to 20 minutes, later ones none."
run make --no-print-directory meshprobe

stage="clean start"
if kubectl get application "$APP" -n "$NS" >/dev/null 2>&1; then
	say "Deleting the $APP left by an earlier run."
	run kubectl delete application "$APP" -n "$NS" --wait=true
fi
expect "phase=absent reviews-v1=absent reviews-v2=absent traffic=none"

stage="round 1: first deploy"
chapter "Round 1 · 1/4 · first deploy: reviews runs v1 (black stars) on 2 instances with all the traffic"
run kubectl apply -f examples/bookinfo/first-deploy.yaml
expect "$FIRST"
view
measure

stage="round 1: canary v2"
chapter "Round 1 · 2/4 · canary: update reviews to v2 (red stars); the workflow moves 1 of 2 instances and 10% of the traffic, then waits for a human"
run kubectl apply -f examples/bookinfo/rollout-v2.yaml
expect "$CANARY"
view
measure
say "About 1 request in 10 reaches v2 (red stars)."

stage="round 1: approval"
chapter "Round 1 · 3/4 · approval: v2 looks good"
decide "approve (vela workflow resume $APP)"
run vela workflow resume "$APP" -n "$NS"

stage="round 1: v2 everywhere"
chapter "Round 1 · 4/4 · the rest of the rollout: 2 of 2 instances and 100% on v2; v1 is garbage-collected"
expect "$APPROVED"
view
measure

stage="round 2: back to v1"
chapter "Round 2 · 1/3 · start over from v1 (first-deploy.yaml has no workflow: vela replaces v2 at once)"
run kubectl apply -f examples/bookinfo/first-deploy.yaml
expect "$FIRST"

stage="round 2: canary v2"
chapter "Round 2 · 2/3 · canary v2 again: 1 of 2 instances and 10%"
run kubectl apply -f examples/bookinfo/rollout-v2.yaml
expect "$CANARY"
view
measure

stage="round 2: rollback"
chapter "Round 2 · 3/3 · this time the canary misbehaves: roll back (canary-rollback step)"
decide "roll back (kubectl apply -f examples/bookinfo/rollback.yaml)"
run kubectl apply -f examples/bookinfo/rollback.yaml
expect "$ROLLED_BACK"
view
measure

stage="round 3: back to v1"
chapter "Round 3 · 1/3 · start over from v1; Prometheus now sees reviews' requests (fake Istio telemetry)"
run kubectl apply -f examples/bookinfo/first-deploy.yaml
expect "$FIRST"
telemetry
set_traffic v1 0
set_traffic v2 0

stage="round 3: analysed canary"
chapter "Round 3 · 2/3 · canary v2 with automated analysis: 10%, then Istio's success rate and p99 latency judge it every 10s"
run kubectl apply -f examples/analysis/rollout-analysed.yaml
expect "$ANALYSING"
view

stage="round 3: automatic rollback"
chapter "Round 3 · 3/3 · v2 starts failing half of its requests; no human needed: the analysis rolls it back"
set_traffic v2 0.5
expect "$AUTO_ROLLED_BACK"
view
measure
run vela status "$APP" -n "$NS"

stage="done"
chapter "Every stage reached its expected state."
cat <<MSG
The cluster keeps running. Look around:
  source .cluster/env
  vela status $APP
  bin/istio-canary status $APP --watch      # redraws on every change; Ctrl-C to stop
  kubectl get deployments,virtualservices,destinationrules
Play it again with \`make demo\`; stop everything with \`make cluster-down\`.
MSG
