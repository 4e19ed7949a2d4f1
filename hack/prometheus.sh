#!/usr/bin/env bash
# Puts a Prometheus server into the tools cache for the tests that query a
# real one (test/prometheus), and prints the binary's path.
#
#   hack/prometheus.sh       install when missing, print the binary's path
#
# It fetches the distribution's prometheus package with `apt-get download`
# and unpacks only the binary from it: nothing is installed into the system,
# so no service starts and no port is taken. A cold install takes a few
# seconds (a 19 MB download); once cached it needs no network at all.
#
# The tests look for the binary where this script puts it,
# $CACHE/prometheus/bin/prometheus, unless ISTIO_CANARY_PROMETHEUS names
# another one (then this script only checks that it runs).
# ISTIO_CANARY_CACHE overrides the cache root (as in hack/build-tools.sh).
set -euo pipefail

CACHE=${ISTIO_CANARY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/istio-canary}
LINK="$CACHE/prometheus/bin/prometheus"

if [[ -n "${ISTIO_CANARY_PROMETHEUS:-}" ]]; then
	if ! "$ISTIO_CANARY_PROMETHEUS" --version >/dev/null 2>&1; then
		echo "ISTIO_CANARY_PROMETHEUS=$ISTIO_CANARY_PROMETHEUS does not run (prometheus --version)" >&2
		exit 1
	fi
	echo "$ISTIO_CANARY_PROMETHEUS"
	exit 0
fi
if [[ -x "$LINK" ]]; then
	echo "$LINK"
	exit 0
fi

for program in apt-get dpkg-deb tar; do
	if ! command -v "$program" >/dev/null; then
		echo "hack/prometheus.sh needs $program (Debian or Ubuntu). Elsewhere, install Prometheus 2.x" \
			"and set ISTIO_CANARY_PROMETHEUS to its binary." >&2
		exit 1
	fi
done

as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

start=$SECONDS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt downloads as its unprivileged _apt user when that user may write here.
chmod 0777 "$work"
if ! (cd "$work" && apt-get download prometheus) >&2; then
	# A fresh CI image often has no package lists yet.
	echo "hack/prometheus.sh: apt-get download failed; updating the package lists and trying again" >&2
	as_root apt-get update >&2
	(cd "$work" && apt-get download prometheus) >&2
fi
deb=$(echo "$work"/prometheus_*.deb)
version=$(dpkg-deb --field "$deb" Version)
dest="$CACHE/prometheus/$version"

rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
# Only the server: the package's web assets, init script and config are of
# no use to a test that starts it with its own flags.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dest.tmp" ./usr/bin/prometheus
"$dest.tmp/usr/bin/prometheus" --version | head -1 >&2
rm -rf "$dest"
mv "$dest.tmp" "$dest"
mkdir -p "$(dirname "$LINK")"
ln -sfn "../$version/usr/bin/prometheus" "$LINK"
echo "installed prometheus $version into $dest in $((SECONDS - start))s" >&2
echo "$LINK"
