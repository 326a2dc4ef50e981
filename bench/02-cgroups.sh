#!/usr/bin/env bash
# The price of a cgroup: `02-cgroups run -m 64m --pids-limit 100 -- /bin/true`
# against lesson 01's `run -- /bin/true`, both in one run. Needs root.
#   sudo bench/02-cgroups.sh            (RUNS=100 by default)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bench/02-cgroups.sh: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/01-namespaces" ./01-namespaces
CGO_ENABLED=0 go build -o "$tmp/02-cgroups" ./02-cgroups
go build -o "$tmp/compare" ./bench/compare
"$tmp/compare" -runs "${RUNS:-100}" \
  -name-a "02-cgroups run -m 64m --pids-limit 100" -a "$tmp/02-cgroups run -m 64m --pids-limit 100 -- /bin/true" \
  -name-b "01-namespaces run" -b "$tmp/01-namespaces run -- /bin/true"
