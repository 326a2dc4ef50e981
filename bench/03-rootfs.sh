#!/usr/bin/env bash
# Start-to-exit of /bin/true from one busybox bundle (made by `runc spec`):
# `03-rootfs run` against `runc run` and `crun run`, alternating, in one run.
# Needs root, runc and crun (apt-get install runc crun busybox-static).
#   sudo bench/03-rootfs.sh            (RUNS=100 by default)
#
# All three run in one private mount namespace (unshare -m) in which, on a
# hybrid cgroup host, /sys/fs/cgroup/unified is unmounted: crun 1.8 refuses
# hybrid hosts otherwise. The umount stays in that namespace. Each runtime
# gets its own bundle (same root filesystem) whose cgroup lies under
# /minibox, the only cgroups this project touches.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bench/03-rootfs.sh: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
for t in runc crun busybox unshare; do
  command -v $t >/dev/null || { echo "bench/03-rootfs.sh: $t is missing (apt-get install runc crun busybox-static util-linux)" >&2; exit 2; }
done
tmp=$(mktemp -d)
# runc and crun leave the parent of their cgroup (/minibox) behind; remove
# the /minibox directories this run made, once empty (rmdir refuses others).
before=$(ls -d /sys/fs/cgroup/minibox /sys/fs/cgroup/*/minibox 2>/dev/null || true)
cleanup() {
  local d
  for d in /sys/fs/cgroup/minibox /sys/fs/cgroup/*/minibox; do
    [ -d "$d" ] || continue
    grep -qxF "$d" <<<"$before" && continue
    rmdir "$d"/bench-* "$d" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$tmp/03-rootfs" ./03-rootfs
go build -o "$tmp/compare" ./bench/compare

rootfs=$tmp/rootfs
mkdir -p "$rootfs"/{bin,dev,proc,sys,etc,tmp}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
ln -s busybox "$rootfs/bin/true"
ln -s busybox "$rootfs/bin/sh"
for rt in minibox runc crun; do
  b=$tmp/bundle-$rt
  mkdir -p "$b"
  (cd "$b" && runc spec)
  # No terminal, /bin/true, the shared root, and a cgroup under /minibox.
  sed -i -e 's/"terminal": true/"terminal": false/' \
    -e 's|"sh"|"/bin/true"|' \
    -e "s|\"path\": \"rootfs\"|\"path\": \"$rootfs\"|" \
    -e "s|\"linux\": {|\"linux\": {\n\t\t\"cgroupsPath\": \"/minibox/bench-$rt\",|" "$b/config.json"
  grep -q "bench-$rt" "$b/config.json" || { echo "bench/03-rootfs.sh: could not edit $b/config.json" >&2; exit 1; }
done

unshare -m sh -c '
  if grep -q " /sys/fs/cgroup/unified cgroup2 " /proc/self/mounts; then umount /sys/fs/cgroup/unified; fi
  exec "$@"' sh \
  "$tmp/compare" -runs "${RUNS:-100}" \
  -name-a "03-rootfs run" -a "$tmp/03-rootfs --root $tmp/state-minibox run --bundle $tmp/bundle-minibox bench" \
  -name-b "runc run" -b "runc --root $tmp/state-runc run --bundle $tmp/bundle-runc bench" \
  -name-c "crun run" -c "crun --root $tmp/state-crun run --bundle $tmp/bundle-crun bench"
