#!/usr/bin/env bash
# Lesson 04's costs, each pair (or trio) alternating in one run. Needs root.
#   sudo bench/04-storage.sh            (RUNS=30 by default)
#
#  1. `04-storage run --rm IMG /bin/true` against `docker run --rm` and
#     `podman run --rm` of the same busybox image (`docker import` and
#     `podman import` of the tar we import). Debian's docker.io and podman;
#     a tool that is missing is skipped with a message (apt-get install
#     docker.io podman), and the rest still runs.
#  2. `create` with a 10 MiB and a 500 MiB image, overlay and vfs: an
#     overlay container's root is a mount of the image's layers (the same
#     work at any size), a vfs one is a copy (work that grows with the image).
#  3. dd of 64 MiB (conv=fsync) into the container's read-write layer and
#     into a volume; and a write into a 200 MiB file of the image, the first
#     (overlayfs copies the whole file up) against a later one.
#
# The docker side is a dockerd of its own, started here and stopped by PID:
# its data, exec root, socket and pidfile are in a temporary directory, it
# touches no firewall (--iptables=false, --ip6tables=false, no masquerade,
# no ip_forward) and makes no bridge (--bridge=none); the script checks the
# ruleset and ip_forward are as before. Its containers' cgroups, and
# podman's, go under /minibox (--cgroup-parent), the only cgroups this
# project touches; the script removes the ones this run made, and the few
# fixed paths (/run/docker, /run/containerd, /run/runc,
# /var/lib/containers/cache) the two tools make that were not there before.
set -euo pipefail
me=bench/04-storage.sh
[ "$(id -u)" = 0 ] || { echo "$me: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
source bench/lib.sh
for t in busybox tar; do
  command -v $t >/dev/null || { echo "$me: $t is missing (apt-get install busybox-static tar)" >&2; exit 2; }
done
runs=${RUNS:-30}

# Unix socket paths are short (unix(7)): dockerd's containerd socket lies
# under the exec root, so the temporary directory's name is short too.
tmp=$(mktemp -d /tmp/mbb.XXXXXX)
bench_before
mb="$tmp/04-storage --data-root $tmp/mb --exec-root $tmp/mx"

cleanup() {
  local rc=$?
  set +e
  # Our containers, then dockerd and podman's, then what is left mounted.
  if [ -x "$tmp/04-storage" ] && [ -d "$tmp/mb" ]; then
    $mb ps -aq --no-trunc 2>/dev/null | xargs -r $mb rm -f >/dev/null
  fi
  bench_cleanup_tools
  bench_release
  rm -rf --one-file-system "$tmp"
  exit $rc
}
trap cleanup EXIT
trap "exit 130" INT TERM # so that cleanup runs on these too

CGO_ENABLED=0 go build -o "$tmp/04-storage" ./04-storage
CGO_ENABLED=0 go build -o "$tmp/03-rootfs" ./03-rootfs
bench_build_compare

# The images: lesson 03's busybox root filesystem as a tar (what `docker
# import` takes), and the same with random (incompressible) files added
# to make 10 MiB and 500 MiB in all; the big one's /big is the 200 MiB file
# of the copy-up test.
"$tmp/03-rootfs" mkrootfs "$tmp/rootfs" >/dev/null
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
bb=$(du -sm "$tmp/rootfs" | cut -f1)
head -c $(((10 - bb) * 1024 * 1024)) /dev/urandom >"$tmp/rootfs/filler"
tar -C "$tmp/rootfs" -cf "$tmp/img10.tar" .
head -c $((200 * 1024 * 1024)) /dev/urandom >"$tmp/rootfs/big"
head -c $(((300 - bb) * 1024 * 1024)) /dev/urandom >"$tmp/rootfs/filler"
tar -C "$tmp/rootfs" -cf "$tmp/img500.tar" .
rm -rf "$tmp/rootfs"
for i in busybox img10 img500; do $mb import "$tmp/$i.tar" "bench-$i" >/dev/null; done
rm -f "$tmp/img10.tar" "$tmp/img500.tar"

# --- 1. run --rm /bin/true: ours, docker, podman -------------------------
ruleset() { { cat /proc/sys/net/ipv4/ip_forward; if command -v nft >/dev/null; then nft list ruleset; elif command -v iptables-save >/dev/null; then iptables-save | grep -v '^#'; fi; } 2>&1; }
refs=()
if have dockerd && have docker; then
  fw_before=$(ruleset)
  bench_start_dockerd -- --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false --bridge=none
  bench_ref "docker run --rm --network none" "$docker run --rm --network none bench-busybox /bin/true"
else
  echo "$me: dockerd or docker is missing (apt-get install docker.io): docker is left out of the comparison" >&2
fi
if have podman; then
  bench_podman
  bench_ref "podman run --rm --network none" \
    "$podman_cmd run --rm --network none --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --cgroup-parent /minibox/bench-podman bench-busybox /bin/true"
else
  echo "$me: podman is missing (apt-get install podman): podman is left out of the comparison" >&2
fi
echo "== 1. start to exit of /bin/true in a busybox image"
[ -n "$dockerd_pid" ] && echo "docker: client $($docker version -f '{{.Client.Version}}'), dockerd $($docker version -f '{{.Server.Version}}') (storage $($docker info -f '{{.Driver}}'), runc)"
[ -n "$podman_cmd" ] && echo "podman: $($podman_cmd version -f '{{.Client.Version}}') (storage overlay, runc)"
compare -name-a "04-storage run --rm" -a "$mb run --rm bench-busybox /bin/true" "${refs[@]}"
if [ -n "$dockerd_pid" ]; then
  bench_stop_dockerd
  if [ "$(ruleset)" != "$fw_before" ]; then
    echo "$me: the firewall or ip_forward changed while dockerd ran:" >&2
    diff <(echo "$fw_before") <(ruleset) >&2
    exit 1
  fi
fi

# --- 2. create: 10 MiB against 500 MiB, overlay and vfs ------------------
echo "== 2. create (the container removed after each, untimed)"
for drv in overlay vfs; do
  compare -quiet \
    -name-a "$drv: create, 500 MiB image" -a "$mb --storage-driver $drv create --name bench-c bench-img500 /bin/true" -after-a "$mb rm -f bench-c" \
    -name-b "$drv: create, 10 MiB image" -b "$mb --storage-driver $drv create --name bench-c bench-img10 /bin/true" -after-b "$mb rm -f bench-c"
done

# --- 3. writes: RW layer against a volume; copy-up against a second write
echo "== 3. dd 64 MiB conv=fsync (each in a new container: run --rm)"
dd64() { echo "dd if=/dev/zero of=$1 bs=1M count=64 conv=fsync status=none"; }
compare \
  -name-a "64 MiB into the read-write layer" -a "$mb run --rm bench-busybox $(dd64 /root/f)" \
  -name-b "64 MiB into a volume" -b "$mb run --rm -v bench-vol:/data bench-busybox $(dd64 /data/f)"
echo "== 3. 1 MiB written into the image's 200 MiB /big (exec in a running container, conv=notrunc,fsync)"
wr="dd if=/dev/zero of=/big bs=1M count=1 conv=notrunc,fsync status=none"
$mb run -d --name bench-second bench-img500 sleep 3600 >/dev/null
$mb exec bench-second $wr # its copy-up, once
compare \
  -name-a "first write (copy-up of 200 MiB)" -a "$mb exec bench-first $wr" \
  -before-a "$mb run -d --name bench-first bench-img500 sleep 3600" -after-a "$mb rm -f bench-first" \
  -name-b "a later write" -b "$mb exec bench-second $wr"
