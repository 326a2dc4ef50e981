#!/usr/bin/env bash
# Lesson 05's costs, side by side in one run. Needs root.
#   sudo bench/05-network.sh            (RUNS=30 by default)
#
#  1. `minibox run --rm IMG /bin/true` on the default bridge against
#     `docker run --rm` (Debian's docker.io: a dockerd of its own, with its
#     default bridge docker0 and its iptables rules) and `podman run --rm`
#     (its default network, CNI's bridge), all of the same busybox image.
#     A tool that is missing is skipped with a message (apt-get install
#     docker.io podman), and the rest still runs. Then minibox on the
#     bridge against minibox with --network none: what the network costs.
#  2. Throughput with iperf3, container to container over a minibox bridge
#     network and over macvlan (the parent a veth), against loopback in one
#     namespace. iperf3 runs on this machine inside the containers' network
#     namespaces (nsenter --net=/proc/PID/ns/net, PID from `inspect -f
#     {{.State.Pid}}`): the image needs no iperf3.
#  3. Name resolution through the network's resolver: 200 `nslookup NAME` in
#     one container against 200 `cat /etc/hosts` (the loop and the exec
#     without the lookup); and the resolver package's Go benchmark (one UDP
#     round trip on loopback).
#
# Everything runs inside a scratch network namespace (held by a `sleep`
# started here): minibox's engine, dockerd, podman and iperf3 run under
# `nsenter --net=`, so the bridges, veths, NAT rules, FORWARD policy DROP and
# ip_forward=1 they make are all in that namespace and go with it. The host's
# `nft list ruleset`, links, addresses, routes and ip_forward are taken before
# and compared at the end: the script fails if any changed. dockerd's data,
# exec root, socket and pidfile, podman's storage and configuration are in a
# temporary directory; their containers' cgroups go under /minibox
# (--cgroup-parent) and are removed, with the few fixed paths the two tools
# make (/run/docker, /run/containerd, /run/runc, /var/lib/containers/cache,
# /var/lib/cni) that were not there before.
set -euo pipefail
me=bench/05-network.sh
[ "$(id -u)" = 0 ] || { echo "$me: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
source bench/lib.sh
for t in busybox tar nsenter unshare ip iperf3; do
  command -v $t >/dev/null || { echo "$me: $t is missing (apt-get install busybox-static tar util-linux iproute2 iperf3)" >&2; exit 2; }
done
runs=${RUNS:-30}
# iperf3: seconds per measurement and measurements per path (the median is
# printed); fewer and shorter for a smoke run.
if [ "$runs" -ge 20 ]; then iperf_time=3 iperf_reps=5; else iperf_time=1 iperf_reps=1; fi

tmp=$(mktemp -d /tmp/mbn.XXXXXX)
bench_before
cni_before=$([ -e /var/lib/cni ] && echo yes || true)
netns_before=$(ls /run/netns 2>/dev/null || true)
sb_pid=

# host: what this script must leave as it found it, in the host's netns.
host() {
  echo "ip_forward $(cat /proc/sys/net/ipv4/ip_forward)"
  ip -o link show | awk '{print "link", $2}'
  ip -o addr show | awk '{print "addr", $2, $3, $4}'
  ip route show table all | sed 's/^/route /'
  if command -v nft >/dev/null; then nft list ruleset; elif command -v iptables-save >/dev/null; then iptables-save | grep -v '^#'; fi
}
host_before=$(host 2>&1)

cleanup() {
  local rc=$? p
  set +e
  if [ -x "$tmp/05-network" ] && [ -n "$sb_pid" ] && [ -d "$tmp/mb" ]; then
    $mb ps -aq --no-trunc 2>/dev/null | xargs -r $mb rm -f >/dev/null
    $mb network ls -q -f type=custom 2>/dev/null | xargs -r $mb network rm >/dev/null
  fi
  bench_cleanup_tools
  for p in $(cat "$tmp"/iperf.pid 2>/dev/null); do kill "$p" 2>/dev/null; done
  # The scratch namespace goes when its last holder does: the sleep, and
  # the bind mounts of container namespaces under $tmp (unmounted below).
  [ -n "$sb_pid" ] && kill "$sb_pid" 2>/dev/null
  bench_release
  # CNI's host-local IPAM keeps its leases in /var/lib/cni (podman's
  # default network): gone with the containers, but not the directories.
  [ -z "$cni_before" ] && [ -d /var/lib/cni ] && rm -rf --one-file-system /var/lib/cni
  # A network namespace file podman left (it removes its own on rm).
  for p in $(ls /run/netns 2>/dev/null); do
    case $p in cni-*) grep -qxF "$p" <<<"$netns_before" || { umount "/run/netns/$p" 2>/dev/null; rm -f "/run/netns/$p"; } ;; esac
  done
  rm -rf --one-file-system "$tmp"
  exit $rc
}
trap cleanup EXIT
trap "exit 130" INT TERM

CGO_ENABLED=0 go build -o "$tmp/05-network" ./05-network
CGO_ENABLED=0 go build -o "$tmp/03-rootfs" ./03-rootfs
bench_build_compare
go test -c -o "$tmp/resolver.test" ./05-network/resolver

# The scratch namespace: a sleep in a new network namespace holds it; lo up.
unshare --net sleep 1000000 &
sb_pid=$!
sb=/proc/$sb_pid/ns/net
for i in $(seq 50); do [ "$(readlink "$sb")" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02; done
in_sb() { nsenter --net="$sb" -- "$@"; }
in_sb ip link set lo up
mb="nsenter --net=$sb -- $tmp/05-network --data-root $tmp/mb --exec-root $tmp/mx"

"$tmp/03-rootfs" mkrootfs "$tmp/rootfs" >/dev/null
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
rm -rf "$tmp/rootfs"
$mb import "$tmp/busybox.tar" bench-busybox >/dev/null

# --- 1. run --rm /bin/true on the default network: ours, docker, podman --
refs=()
if have dockerd && have docker; then
  # Docker's defaults for networking (docker0, iptables, masquerade,
  # ip_forward): inside the scratch namespace, where they stay.
  bench_start_dockerd nsenter --net="$sb" --
  bench_ref "docker run --rm (bridge)" "$docker run --rm bench-busybox /bin/true"
else
  echo "$me: dockerd or docker is missing (apt-get install docker.io): docker is left out of the comparison" >&2
fi
if have podman; then
  bench_podman nsenter --net="$sb" --
  bench_ref "podman run --rm (bridge)" \
    "$podman_cmd run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --cgroup-parent /minibox/bench-podman bench-busybox /bin/true"
else
  echo "$me: podman is missing (apt-get install podman): podman is left out of the comparison" >&2
fi
echo "== 1. start to exit of /bin/true in a busybox image, on the default bridge"
[ -n "$dockerd_pid" ] && echo "docker: client $($docker version -f '{{.Client.Version}}'), dockerd $($docker version -f '{{.Server.Version}}') (docker0, iptables, runc)"
[ -n "$podman_cmd" ] && echo "podman: $($podman_cmd version -f '{{.Client.Version}}') (network backend $($podman_cmd info -f '{{.Host.NetworkBackend}}'), runc)"
compare -name-a "minibox run --rm (bridge)" -a "$mb run --rm bench-busybox /bin/true" "${refs[@]}"
bench_stop_dockerd
[ -n "$podman_cmd" ] && { $podman_cmd rm -af >/dev/null 2>&1 || true; }
echo "== 1. what the default bridge costs minibox: the same run without a network"
compare -name-a "minibox run --rm (bridge)" -a "$mb run --rm bench-busybox /bin/true" \
  -name-b "minibox run --rm --network none" -b "$mb run --rm --network none bench-busybox /bin/true"

# --- 2. iperf3: bridge, macvlan, loopback ----------------------------------
# pid CTR: the container's init on this machine.
pid() { $mb inspect -f '{{.State.Pid}}' "$1"; }
# iperf SERVER_NETNS CLIENT_NETNS ADDR: the receiver's Gbit/s, the median of
# $iperf_reps measurements of $iperf_time s.
iperf() {
  local s=$1 c=$2 addr=$3 i j out all=()
  for i in $(seq "$iperf_reps"); do
    nsenter --net="$s" -- iperf3 -s -1 -B "$addr" -p 5201 >/dev/null 2>&1 &
    echo $! >>"$tmp/iperf.pid"
    for j in $(seq 50); do
      out=$(nsenter --net="$c" -- iperf3 -c "$addr" -p 5201 -t "$iperf_time" -f g 2>&1) && break
      sleep 0.1
    done
    wait $! || { echo "$me: iperf3 to $addr failed: $out" >&2; exit 1; }
    all+=("$(awk '/receiver/ {print $(NF-2)}' <<<"$out")")
  done
  printf '%s\n' "${all[@]}" | sort -g | awk '{v[NR] = $1} END {printf "%.2f", v[int((NR + 1) / 2)]}'
}
echo "== 2. iperf3 TCP, receiver's throughput (median of $iperf_reps x ${iperf_time}s; iperf3 $(iperf3 -v | awk 'NR == 1 {print $2}'))"
$mb network create bench-net >/dev/null
# The lookup loops of part 3, in files (compare splits its commands on spaces).
mkdir -p "$tmp/sc"
echo 'for i in $(seq 200); do nslookup bench-s >/dev/null || exit 1; done' >"$tmp/sc/lookup"
echo 'for i in $(seq 200); do cat /etc/hosts >/dev/null || exit 1; done' >"$tmp/sc/hosts"
$mb run -d --name bench-s --network bench-net bench-busybox sleep 3600 >/dev/null
$mb run -d --name bench-c --network bench-net -v "$tmp/sc:/sc:ro" bench-busybox sleep 3600 >/dev/null
sip=$($mb inspect -f '{{(index .NetworkSettings.Networks "bench-net").IPAddress}}' bench-s)
bridge=$(iperf /proc/$(pid bench-s)/ns/net /proc/$(pid bench-c)/ns/net "$sip")
in_sb ip link add mbbv0 type veth peer name mbbv1
in_sb ip link set mbbv0 up
in_sb ip link set mbbv1 up
$mb network create -d macvlan --subnet 10.77.0.0/24 -o parent=mbbv0 bench-mv >/dev/null
for c in bench-ms bench-mc; do $mb run -d --name $c --network bench-mv bench-busybox sleep 3600 >/dev/null; done
msip=$($mb inspect -f '{{(index .NetworkSettings.Networks "bench-mv").IPAddress}}' bench-ms)
macvlan=$(iperf /proc/$(pid bench-ms)/ns/net /proc/$(pid bench-mc)/ns/net "$msip")
loop=$(iperf "$sb" "$sb" 127.0.0.1)
printf '%-40s %8s Gbit/s\n' "container to container, minibox bridge" "$bridge" \
  "container to container, macvlan" "$macvlan" "loopback, one namespace" "$loop"
awk -v b="$bridge" -v m="$macvlan" -v l="$loop" 'BEGIN {printf "ratio (bridge / loopback): %.2f\nratio (macvlan / loopback): %.2f\n", b / l, m / l}'
$mb rm -f bench-ms bench-mc >/dev/null
$mb network rm bench-mv >/dev/null
in_sb ip link del mbbv0

# --- 3. name resolution ------------------------------------------------------
echo "== 3. 200 lookups of a container's name through the network's resolver (busybox nslookup, in one exec)"
# First, that the name resolves, to bench-s's address.
out=$($mb exec bench-c nslookup bench-s 2>&1) && grep -qF "$sip" <<<"$out" ||
  { echo "$me: bench-s did not resolve to $sip in bench-c: $out" >&2; exit 1; }
compare \
  -name-a "200 x nslookup bench-s" -a "$mb exec bench-c sh /sc/lookup" \
  -name-b "200 x cat /etc/hosts" -b "$mb exec bench-c sh /sc/hosts"
echo "== 3. the resolver package's BenchmarkLookupUDP (one A query's round trip on loopback, in the scratch namespace)"
bt=20000x
[ "$runs" -lt 20 ] && bt=2000x
in_sb "$tmp/resolver.test" -test.run '^$' -test.bench . -test.benchtime "$bt" | grep '^Benchmark'
$mb rm -f bench-s bench-c >/dev/null
$mb network rm bench-net >/dev/null

# --- the host: as it was --------------------------------------------------
host_after=$(host 2>&1)
if [ "$host_after" != "$host_before" ]; then
  echo "$me: the host's ruleset, links, addresses, routes or ip_forward changed:" >&2
  diff <(echo "$host_before") <(echo "$host_after") >&2
  exit 1
fi
echo "host: nft ruleset, links, addresses, routes and ip_forward unchanged ($(grep -c . <<<"$host_before") lines compared)"
