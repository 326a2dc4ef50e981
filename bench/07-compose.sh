#!/usr/bin/env bash
# Lesson 07's costs, side by side in one run. Needs root.
#   sudo bench/07-compose.sh            (RUNS=10 by default)
#
#  1. `compose up -d` of the lecture's three-service example
#     (07-compose/examples/reddit: two built images, busybox, a user
#     network, two named volumes, a published port), its images built
#     beforehand (untimed): `minibox compose` against Debian's
#     `docker-compose` 1.29 on a dockerd of the script's own. Each up is
#     followed by an untimed `down`. Goal: ours ≤ 0.15× docker-compose's.
#  2. `compose down` of it (each preceded by an untimed `up -d`).
#  3. `compose up -d` of the project already up: nothing to do but to read
#     the file and compare every container's config hash with the file's.
#
# Before timing, each side's project is brought up once and its page
# fetched from the host (ui → post → post_db): both sides run the same app.
#
# As bench/05-network.sh does, everything runs inside scratch network
# namespaces held by `sleep`s started here, one for each tool (so that both
# projects can be up at once, with the same published port): minibox (its
# engine, monitors and resolvers) and dockerd (with Docker's defaults:
# bridges, iptables, ip_forward) under `nsenter --net=`, so the compose networks' bridges,
# veths and firewall rules are made in those namespaces and go with them. The
# host's ruleset, links, addresses, routes and ip_forward are taken before
# and compared at the end: the script fails if any changed. dockerd's data,
# exec root and socket are in a temporary directory, its containers'
# cgroups under /minibox/bench-docker (bench/lib.sh). Both tools' progress
# lines (on stderr) go to $tmp/*.log through two small wrappers, the same
# for both: a failing run shows its log. Needs docker.io and docker-compose
# (apt-get install docker.io docker-compose); without them the minibox side
# is timed alone.
set -euo pipefail
me=bench/07-compose.sh
[ "$(id -u)" = 0 ] || { echo "$me: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
source bench/lib.sh
for t in busybox tar nsenter unshare ip curl; do
  command -v $t >/dev/null || { echo "$me: $t is missing (apt-get install busybox-static tar util-linux iproute2 curl)" >&2; exit 2; }
done
runs=${RUNS:-10}

tmp=$(mktemp -d /tmp/mbc.XXXXXX)
bench_before
sb_pid= sb2_pid=

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
  local rc=$? id
  set +e
  if [ "$rc" != 0 ] && [ "$rc" != 130 ]; then
    for id in "$tmp"/mb-compose.log "$tmp"/dc-compose.log; do
      [ -s "$id" ] && { echo "$me: the end of $(basename "$id"):" >&2; tail -5 "$id" >&2; }
    done
  fi
  if [ -x "$tmp/minibox" ] && [ -n "$sb_pid" ] && [ -d "$tmp/mb" ]; then
    "$tmp/bin/mb-compose" down -v --remove-orphans >/dev/null 2>&1
    for id in $($mb ps -aq --no-trunc 2>/dev/null); do $mb rm -f "$id" >/dev/null 2>&1; done
    $mb network ls -q -f type=custom 2>/dev/null | xargs -r $mb network rm >/dev/null 2>&1
    $mb volume ls -q 2>/dev/null | xargs -r $mb volume rm -f >/dev/null 2>&1
  fi
  if [ -n "$dockerd_pid" ] && [ -x "$tmp/bin/dc-compose" ]; then
    "$tmp/bin/dc-compose" down -v --remove-orphans >/dev/null 2>&1
  fi
  bench_cleanup_tools
  [ -n "$sb_pid" ] && kill "$sb_pid" 2>/dev/null
  [ -n "$sb2_pid" ] && kill "$sb2_pid" 2>/dev/null
  bench_release
  rm -rf --one-file-system "$tmp"
  if [ "$rc" = 0 ] && [ "$(host 2>&1)" != "$host_before" ]; then
    echo "$me: the host's network changed:" >&2
    diff <(echo "$host_before") <(host 2>&1) >&2
    rc=1
  fi
  exit $rc
}
trap cleanup EXIT
trap "exit 130" INT TERM

CGO_ENABLED=0 go build -o "$tmp/minibox" ./07-compose
CGO_ENABLED=0 go build -o "$tmp/03-rootfs" ./03-rootfs
bench_build_compare

# The scratch namespace: a sleep in a new network namespace holds it; lo up.
unshare --net sleep 1000000 &
sb_pid=$!
sb=/proc/$sb_pid/ns/net
for i in $(seq 50); do [ "$(readlink "$sb")" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02; done
nsenter --net="$sb" -- ip link set lo up
# dockerd's: a second one, so that both projects can be up at once (part
# 3) with the same published port.
unshare --net sleep 1000000 &
sb2_pid=$!
sb2=/proc/$sb2_pid/ns/net
for i in $(seq 50); do [ "$(readlink "$sb2")" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02; done
nsenter --net="$sb2" -- ip link set lo up
mb="nsenter --net=$sb -- $tmp/minibox --data-root $tmp/mb --exec-root $tmp/mx"

"$tmp/03-rootfs" mkrootfs "$tmp/rootfs" >/dev/null
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
rm -rf "$tmp/rootfs"
busybox_changes=(-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["sh"]')
$mb import "${busybox_changes[@]}" "$tmp/busybox.tar" busybox >/dev/null

# The project: a copy of the example (the two sides share its directory;
# their projects are named apart: mbbench and dcbench).
cp -a 07-compose/examples/reddit "$tmp/reddit"
mkdir -p "$tmp/bin"
# mb-compose ARGS / dc-compose ARGS: the two tools on the project, their
# stderr (progress lines) appended to a log. USERNAME names the images.
cat >"$tmp/bin/mb-compose" <<EOF
#!/bin/sh
USERNAME=bench exec $mb compose -p mbbench -f $tmp/reddit/docker-compose.yml "\$@" 2>>$tmp/mb-compose.log
EOF
cat >"$tmp/bin/dc-compose" <<EOF
#!/bin/sh
USERNAME=bench DOCKER_HOST=unix://$tmp/d/sock exec docker-compose -p dcbench -f $tmp/reddit/docker-compose.yml "\$@" 2>>$tmp/dc-compose.log
EOF
chmod +x "$tmp/bin/mb-compose" "$tmp/bin/dc-compose"

# page TOOL NETNS: brings the project up with TOOL, fetches ui's page from the
# "host" (the tool's scratch namespace) until it shows post_db's post (10 s),
# brings it down again.
page() {
  local i
  "$tmp/bin/$1" up -d >/dev/null || { echo "$me: $1 up -d failed:" >&2; tail -20 "$tmp/$1.log" >&2; exit 1; }
  for i in $(seq 100); do
    nsenter --net="$2" -- curl -fsS --max-time 2 http://127.0.0.1:9292/ 2>/dev/null | grep -q 'first post' && break
    sleep 0.1
  done
  nsenter --net="$2" -- curl -fsS --max-time 2 http://127.0.0.1:9292/ | grep -q 'first post' ||
    { echo "$me: $1: the app's page (ui → post → post_db) did not answer in 10 s" >&2; exit 1; }
  "$tmp/bin/$1" down >/dev/null || { echo "$me: $1 down failed:" >&2; tail -20 "$tmp/$1.log" >&2; exit 1; }
  echo "$1: the page from ui → post → post_db answered on 127.0.0.1:9292"
}

# The images, built once (untimed) on each side.
"$tmp/bin/mb-compose" build >/dev/null || { echo "$me: minibox compose build failed:" >&2; tail -20 "$tmp/mb-compose.log" >&2; exit 1; }
page mb-compose "$sb"

dc= # set when docker-compose is compared
if have dockerd && have docker-compose; then
  # Docker's defaults for networking, inside the scratch namespace.
  bench_start_dockerd nsenter --net="$sb2" --
  $docker import "${busybox_changes[@]}" "$tmp/busybox.tar" busybox >/dev/null
  echo "docker-compose $(docker-compose version --short), dockerd $($docker version -f '{{.Server.Version}}') (bridge, iptables, in a scratch namespace of its own)"
  "$tmp/bin/dc-compose" build >/dev/null || { echo "$me: docker-compose build failed:" >&2; tail -20 "$tmp/dc-compose.log" >&2; exit 1; }
  page dc-compose "$sb2"
  dc=yes
else
  echo "$me: dockerd or docker-compose is missing (apt-get install docker.io docker-compose): minibox is timed alone" >&2
fi

# ref ARGS...: compare's -b arguments for docker-compose, one a line, if
# it is compared (nothing otherwise).
ref() { [ -n "$dc" ] && printf '%s\n' "$@"; return 0; }

echo "== 1. compose up -d of the three-service example (images built; an untimed down after each)"
mapfile -t b < <(ref -name-b "docker-compose up -d" -b "$tmp/bin/dc-compose up -d" -after-b "$tmp/bin/dc-compose down")
compare -quiet -name-a "minibox compose up -d" -a "$tmp/bin/mb-compose up -d" -after-a "$tmp/bin/mb-compose down" "${b[@]}"

echo "== 2. compose down of it (an untimed up -d before each)"
mapfile -t b < <(ref -name-b "docker-compose down" -b "$tmp/bin/dc-compose down" -before-b "$tmp/bin/dc-compose up -d")
compare -quiet -name-a "minibox compose down" -a "$tmp/bin/mb-compose down" -before-a "$tmp/bin/mb-compose up -d" "${b[@]}"

echo "== 3. compose up -d of the project already up (nothing to do)"
"$tmp/bin/mb-compose" up -d >/dev/null
mapfile -t b < <(ref -name-b "docker-compose up -d (up already)" -b "$tmp/bin/dc-compose up -d")
[ -z "$dc" ] || "$tmp/bin/dc-compose" up -d >/dev/null
compare -quiet -name-a "minibox compose up -d (up already)" -a "$tmp/bin/mb-compose up -d" "${b[@]}"
"$tmp/bin/mb-compose" down -v >/dev/null
[ -z "$dc" ] || "$tmp/bin/dc-compose" down -v >/dev/null
bench_stop_dockerd
