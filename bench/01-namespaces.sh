#!/usr/bin/env bash
# Start-to-exit time of `01-namespaces run -- /bin/true` against util-linux's
# `unshare` making the same namespaces, both in one run. Needs root.
#   sudo bench/01-namespaces.sh            (RUNS=100 by default)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bench/01-namespaces.sh: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/01-namespaces" ./01-namespaces
go build -o "$tmp/compare" ./bench/compare
"$tmp/compare" -runs "${RUNS:-100}" \
  -name-a "01-namespaces run -- /bin/true" -a "$tmp/01-namespaces run -- /bin/true" \
  -name-b "unshare (pid,mount,uts,ipc,net) /bin/true" -b "unshare --pid --fork --mount --uts --ipc --net /bin/true"
