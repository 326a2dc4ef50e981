#!/usr/bin/env bash
# Lesson 06's costs, side by side in one run. Needs root.
#   sudo bench/06-image.sh            (RUNS=10 by default)
#
#  1. A fully cached rebuild of a 6-step Dockerfile (FROM, ENV, WORKDIR,
#     COPY, RUN, CMD): `minibox build` against `DOCKER_BUILDKIT=0 docker
#     build` (the classic builder, whose cache rules lesson 06 follows) on a
#     dockerd of our own. Goal: ours ≤ 0.25× docker's.
#  2. The same build cold (`--no-cache`; the step images of each run are
#     pruned after it, untimed).
#  3. Push and pull of a 1-layer image of 32 MiB (random bytes, gzip -1:
#     incompressible, so both sides move the same 32 MiB) to a local
#     docker-registry (Debian's, plain HTTP on 127.0.0.1 and a free port):
#     `minibox push`/`pull` against `skopeo copy` of the same image from and
#     to an OCI layout. The registry's storage is emptied after each push
#     (untimed), so every push uploads the layer. Goal: ours ≤ 1.2× skopeo's.
#  4. The same for the 1-layer busybox image (about 2 MiB): skopeo pushes
#     minibox's `save` of it (docker-archive:), so it gzips the layer on
#     every push, where minibox reuses the gzip blob its first push recorded.
#
# The minibox sides are the mb_* functions below (the program built from
# the tree, ./06-image, its data and exec roots in the temporary directory).
#
# dockerd runs with the flags testkit.Dockerd uses (no bridge, no firewall
# rules, no ip_forward, vfs, cgroupfs under /minibox/bench-docker), its
# data, exec root and socket in a temporary directory (bench/lib.sh); the
# script fails if the ruleset or ip_forward changed. The registry and
# skopeo keep everything in that directory too (skopeo's blob-info cache
# and configuration as testkit.Skopeo sets them). Needs docker.io,
# docker-registry and skopeo (apt-get install docker.io docker-registry
# skopeo); a missing one leaves its comparisons out with a message.
set -euo pipefail
me=bench/06-image.sh
[ "$(id -u)" = 0 ] || { echo "$me: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
source bench/lib.sh
for t in busybox tar gzip ss; do
  command -v $t >/dev/null || { echo "$me: $t is missing (apt-get install busybox-static tar gzip iproute2)" >&2; exit 2; }
done
runs=${RUNS:-10}

# Unix socket paths are short (unix(7)): dockerd's containerd socket lies
# under the exec root, so the temporary directory's name is short too.
tmp=$(mktemp -d /tmp/mbi.XXXXXX)
bench_before
registry_pid=

cleanup() {
  local rc=$?
  set +e
  mb_cleanup
  bench_cleanup_tools
  stop_registry
  bench_release
  rm -rf --one-file-system "$tmp"
  exit $rc
}
trap cleanup EXIT
trap "exit 130" INT TERM # so that cleanup runs on these too

# ---- the minibox sides ----
# Each mb_*_cmd prints a command line for bench/compare (split on spaces,
# no shell), or nothing while it is a TODO; mb_*_after prints the untimed
# command run after each timed one (or nothing).
mb="$tmp/minibox --data-root $tmp/mb --exec-root $tmp/mx"
# mb_prepare: build the program into $tmp, import $tmp/busybox.tar as
# bench-busybox and the 32 MiB image ($tmp/oci, tag big) as bench-big.
mb_prepare() {
  CGO_ENABLED=0 go build -o "$tmp/minibox" ./06-image
  $mb import "$tmp/busybox.tar" bench-busybox >/dev/null
  # An OCI layout's bare ref.name ("big") is no image name: load leaves the
  # image untagged and prints its ID, which is tagged here.
  local id
  id=$(tar -C "$tmp/oci" -cf - . | $mb load | sed -n 's/^Loaded image ID: //p')
  [ -n "$id" ] || { echo "$me: minibox load of $tmp/oci printed no image ID" >&2; exit 1; }
  $mb tag "$id" bench-big
  # The cache, warm (as docker's below).
  $mb build -q --network none -t bench-built "$tmp/ctx" >/dev/null
}
# The builds run with --network none: the test dockerd has no bridge
# either (--bridge=none), so neither side sets up a network for RUN.
# mb_build_cached_cmd: `$mb build -q -t bench-built $tmp/ctx` (the cache warm).
mb_build_cached_cmd() { echo "$mb build -q --network none -t bench-built $tmp/ctx"; }
# mb_build_cold_cmd: `$mb build -q --no-cache -t bench-built $tmp/ctx`.
mb_build_cold_cmd() { echo "$mb build -q --network none --no-cache -t bench-built $tmp/ctx"; }
mb_build_cold_after() { echo "$mb image prune -f"; }
# mb_push_cmd: `$mb push $registry/bench/mb:1`; after each, the registry is
# emptied. The tag is made here, once the registry's address is known.
mb_push_cmd() {
  $mb tag bench-big "$registry/bench/mb:1" >/dev/null
  echo "$mb push -q $registry/bench/mb:1"
}
# mb_pull_cmd: `$mb pull $registry/bench/big:1`; mb_pull_after removes the image again.
# bench-big (and its pushed tag) hold the same layer: they are removed
# first, so that every pull downloads it.
mb_pull_cmd() {
  $mb rmi bench-big "$registry/bench/mb:1" >/dev/null
  echo "$mb pull -q $registry/bench/big:1"
}
mb_pull_after() { echo "$mb rmi $registry/bench/big:1"; }
# mb_cleanup (in the EXIT trap, errors ignored): minibox's containers.
mb_cleanup() {
  [ -x "$tmp/minibox" ] || return 0
  local id
  for id in $($mb ps -aq --no-trunc 2>/dev/null); do $mb rm -f "$id" >/dev/null 2>&1; done
}

# side LABEL MB_CMD MB_AFTER: compare's -a arguments for the minibox side,
# in the array side (the caller's); empty while the side is a TODO.
side() {
  side=()
  [ -n "$2" ] || { echo "($1: the minibox side is a TODO in $me: the reference is timed alone)"; return 0; }
  side=(-name-a "$1" -a "$2")
  [ -z "$3" ] || side+=(-after-a "$3")
}
# timed NAME_A... : compare with the minibox side if there is one, else the
# reference (refs, from bench_ref) as its -a.
timed() {
  if [ ${#side[@]} -gt 0 ]; then
    compare "$@" "${side[@]}" "${refs[@]}"
  else
    # The references move up a letter (compare needs an -a): -b → -a, -c → -b.
    local args=() x
    for x in "${refs[@]}"; do
      case $x in
        -b | -name-b | -after-b | -before-b) x=${x%b}a ;;
        -c | -name-c | -after-c | -before-c) x=${x%c}b ;;
      esac
      args+=("$x")
    done
    compare "$@" "${args[@]}"
  fi
}

bench_build_compare
CGO_ENABLED=0 go build -o "$tmp/03-rootfs" ./03-rootfs
"$tmp/03-rootfs" mkrootfs "$tmp/rootfs" >/dev/null
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
rm -rf "$tmp/rootfs"

# The build context: a Dockerfile of 6 steps and a 1 MiB file to COPY.
mkdir -p "$tmp/ctx"
head -c $((1024 * 1024)) /dev/urandom >"$tmp/ctx/data.bin"
cat >"$tmp/ctx/Dockerfile" <<'EOF'
FROM bench-busybox
ENV BENCH=1
WORKDIR /work
COPY data.bin /work/
RUN echo built >/work/stamp
CMD ["/bin/cat", "/work/stamp"]
EOF

# The 32 MiB image as an OCI layout ($tmp/oci, tag big): one gzip layer of
# random bytes, a config, a manifest; what skopeo pushes and minibox imports.
mkoci() {
  local dir=$tmp/oci l c m lsz csz msz diff
  mkdir -p "$dir/blobs/sha256" "$tmp/big"
  head -c $((32 * 1024 * 1024)) /dev/urandom >"$tmp/big/big"
  tar -C "$tmp/big" -cf "$tmp/big.tar" big
  diff=$(sha256sum "$tmp/big.tar" | cut -d' ' -f1)
  gzip -1 -n -c "$tmp/big.tar" >"$tmp/big.tar.gz"
  l=$(sha256sum "$tmp/big.tar.gz" | cut -d' ' -f1) lsz=$(stat -c %s "$tmp/big.tar.gz")
  mv "$tmp/big.tar.gz" "$dir/blobs/sha256/$l"
  rm -rf "$tmp/big"
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/true"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" >"$tmp/cfg"
  c=$(sha256sum "$tmp/cfg" | cut -d' ' -f1) csz=$(stat -c %s "$tmp/cfg")
  mv "$tmp/cfg" "$dir/blobs/sha256/$c"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
    "$c" "$csz" "$l" "$lsz" >"$tmp/man"
  m=$(sha256sum "$tmp/man" | cut -d' ' -f1) msz=$(stat -c %s "$tmp/man")
  mv "$tmp/man" "$dir/blobs/sha256/$m"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"big"}}]}' "$m" "$msz" >"$dir/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
}
mkoci

# ---- the registry: Debian's docker-registry on 127.0.0.1, a free port ----
registry=
start_registry() {
  local port i
  for i in $(seq 50); do
    port=$((20000 + RANDOM % 30000))
    [ -z "$(ss -Hltn "sport = :$port")" ] && break
  done
  registry=127.0.0.1:$port
  mkdir -p "$tmp/reg"
  # No blobdescriptor cache: emptying the storage directory empties the registry.
  cat >"$tmp/reg/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/reg/storage
  delete:
    enabled: true
http:
  addr: $registry
  secret: bench-$$
EOF
  /usr/bin/docker-registry serve "$tmp/reg/config.yml" >"$tmp/reg/log" 2>&1 &
  registry_pid=$!
  for i in $(seq 100); do curl -fsS "http://$registry/v2/" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$me: docker-registry did not come up in 10 s:" >&2
  tail -20 "$tmp/reg/log" >&2
  exit 1
}
# stop_registry: by its PID; waits for it (10 s, then SIGKILL).
stop_registry() {
  local i
  [ -n "$registry_pid" ] || return 0
  kill "$registry_pid" 2>/dev/null
  for i in $(seq 100); do kill -0 "$registry_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$registry_pid" 2>/dev/null && { echo "$me: docker-registry $registry_pid did not stop in 10 s: killed" >&2; kill -9 "$registry_pid"; }
  wait "$registry_pid" 2>/dev/null || true # its status is SIGTERM's 143: not an error (set -e)
  registry_pid=
}

# skopeo as testkit.Skopeo runs it: our policy, an empty registries.conf,
# its cache and temporary files in $tmp/sk (not /var/lib/containers).
mkdir -p "$tmp/sk/tmp"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$tmp/sk/policy.json"
: >"$tmp/sk/registries.conf"
skopeo="env HOME=$tmp/sk XDG_DATA_HOME=$tmp/sk XDG_RUNTIME_DIR=$tmp/sk TMPDIR=$tmp/sk/tmp CONTAINERS_REGISTRIES_CONF=$tmp/sk/registries.conf _CONTAINERS_ROOTLESS_UID=65534 skopeo --policy $tmp/sk/policy.json"

mb_prepare
ruleset() { { cat /proc/sys/net/ipv4/ip_forward; if command -v nft >/dev/null; then nft list ruleset; elif command -v iptables-save >/dev/null; then iptables-save | grep -v '^#'; fi; } 2>&1; }

# --- 1 and 2. docker build, cached and cold -------------------------------
if have dockerd && [ -x /usr/bin/docker ]; then
  fw_before=$(ruleset)
  bench_start_dockerd -- --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
    --userland-proxy=false --exec-opt native.cgroupdriver=cgroupfs --storage-driver=vfs
  # Debian's client (PATH may have a newer one in /usr/local/bin).
  docker="/usr/bin/docker -H unix://$tmp/d/sock"
  export DOCKER_BUILDKIT=0 # the classic builder, for both runs and the warm-up
  echo "docker: client $($docker version -f '{{.Client.Version}}'), dockerd $($docker version -f '{{.Server.Version}}') (storage $($docker info -f '{{.Driver}}'), classic builder)"
  $docker build -q -t bench-built "$tmp/ctx" >/dev/null # the cache, warm

  echo "== 1. a fully cached rebuild of a 6-step Dockerfile"
  refs=()
  bench_ref "docker build (classic, cached)" "$docker build -q -t bench-built $tmp/ctx"
  side "minibox build (cached)" "$(mb_build_cached_cmd)" ""
  timed -quiet

  echo "== 2. the same build cold (--no-cache; the step images pruned after each, untimed)"
  refs=()
  bench_ref "docker build --no-cache (classic)" "$docker build -q --no-cache -t bench-built $tmp/ctx"
  refs+=(-after-b "$docker image prune -f")
  side "minibox build --no-cache" "$(mb_build_cold_cmd)" "$(mb_build_cold_after)"
  timed -quiet -warmup 1 # seconds a run: one warm-up is enough

  bench_stop_dockerd
  if [ "$(ruleset)" != "$fw_before" ]; then
    echo "$me: the firewall or ip_forward changed while dockerd ran:" >&2
    diff <(echo "$fw_before") <(ruleset) >&2
    exit 1
  fi
else
  echo "$me: dockerd or /usr/bin/docker is missing (apt-get install docker.io): the build comparisons are left out" >&2
fi

# --- 3. push and pull of 32 MiB ------------------------------------------
if [ -x /usr/bin/docker-registry ] && have skopeo; then
  start_registry
  echo "== 3. push of a 1-layer 32 MiB image to a local docker-registry (emptied after each push, untimed)"
  empty="rm -rf $tmp/reg/storage/docker"
  refs=()
  bench_ref "skopeo copy oci: docker:// (push)" "$skopeo copy -q --dest-tls-verify=false oci:$tmp/oci:big docker://$registry/bench/sk:1"
  refs+=(-after-b "$empty")
  side "minibox push" "$(mb_push_cmd)" "$empty"
  timed

  echo "== 3. pull of it"
  $skopeo copy -q --dest-tls-verify=false "oci:$tmp/oci:big" "docker://$registry/bench/big:1"
  refs=()
  bench_ref "skopeo copy docker:// oci: (pull)" "$skopeo copy -q --src-tls-verify=false docker://$registry/bench/big:1 oci:$tmp/pulled:big"
  refs+=(-after-b "rm -rf $tmp/pulled")
  side "minibox pull" "$(mb_pull_cmd)" "$(mb_pull_after)"
  timed

  echo "== 4. push of the 1-layer busybox image (about 2 MiB; skopeo reads minibox's own save of it)"
  $mb save -o "$tmp/small.tar" bench-busybox
  $mb tag bench-busybox "$registry/bench/mbs:1" >/dev/null
  refs=()
  bench_ref "skopeo copy docker-archive: docker:// (push)" "$skopeo copy -q --dest-tls-verify=false docker-archive:$tmp/small.tar docker://$registry/bench/sks:1"
  refs+=(-after-b "$empty")
  side "minibox push" "$mb push -q $registry/bench/mbs:1" "$empty"
  timed

  echo "== 4. pull of it"
  $skopeo copy -q --dest-tls-verify=false "docker-archive:$tmp/small.tar" "docker://$registry/bench/small:1"
  # The local image goes first, so that every pull downloads the layer.
  $mb rmi bench-busybox "$registry/bench/mbs:1" >/dev/null
  refs=()
  bench_ref "skopeo copy docker:// oci: (pull)" "$skopeo copy -q --src-tls-verify=false docker://$registry/bench/small:1 oci:$tmp/pulled-small:small"
  refs+=(-after-b "rm -rf $tmp/pulled-small")
  side "minibox pull" "$mb pull -q $registry/bench/small:1" "$mb rmi $registry/bench/small:1"
  timed
  echo "skopeo $(skopeo --version | awk '{print $3}'), docker-registry $(/usr/bin/docker-registry --version | awk '{print $3}')"
  stop_registry
else
  echo "$me: docker-registry or skopeo is missing (apt-get install docker-registry skopeo): the push and pull comparisons are left out" >&2
fi
