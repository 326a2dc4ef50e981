# bench/lib.sh: what bench/04-storage.sh and bench/05-network.sh share, to
# be sourced (not run) by them after they set `me` and cd to the repository:
# the docker and podman they compare against (a dockerd of the script's own
# in a temporary directory, podman with a configuration of its own there),
# their stop, and the removal of what the two tools leave outside that
# directory. The caller sets tmp (a short directory name: dockerd's
# containerd socket lies under it, and unix(7) socket paths are short) and
# runs, then calls bench_before before anything is made.

dockerd_pid=
podman_cmd=
docker=

# bench_before records what exists before the run, so that bench_release
# removes only what this run made: the cgroups the tools use (/minibox, and
# /docker that dockerd may make) and the fixed paths docker and podman make.
bench_before() {
  cgroups_before=$(ls -d /sys/fs/cgroup/minibox /sys/fs/cgroup/*/minibox /sys/fs/cgroup/docker /sys/fs/cgroup/*/docker 2>/dev/null || true)
  fixed_paths=(/var/lib/containers/cache/blob-info-cache-v1.boltdb /var/lib/containers/cache /var/lib/containers
    /run/docker/plugins /run/docker /run/containerd/s /run/containerd /run/runc /etc/docker/key.json)
  paths_before=$(ls -d "${fixed_paths[@]}" 2>/dev/null || true)
}

# have TOOL: an executable file of that name is in PATH.
have() { local p; p=$(command -v "$1") && [ -f "$p" ] && [ -x "$p" ]; }

# compare ARGS...: bench/compare, built into $tmp by bench_build_compare.
bench_build_compare() { go build -o "$tmp/compare" ./bench/compare; }
compare() { "$tmp/compare" -runs "$runs" "$@"; }

# bench_ref NAME COMMAND: adds a reference to compare's arguments in the
# array refs (the caller's): the first is compare's -b, the second its -c.
bench_ref() {
  local f=-b
  [ ${#refs[@]} -gt 0 ] && f=-c
  refs+=("-name$f" "$1" "$f" "$2")
}

# bench_start_dockerd [PREFIX...] -- [DOCKERD FLAGS...]: starts dockerd
# under PREFIX (nothing, or nsenter --net=NS --) with its data, exec root,
# socket, pidfile, config file and client key in $tmp/d, its containers'
# cgroups under /minibox/bench-docker; waits for it and imports
# $tmp/busybox.tar as bench-busybox. Sets dockerd_pid and docker (the
# client's command). The client reads no user's config or context (podman
# reads DOCKER_CONFIG too: an empty config).
bench_start_dockerd() {
  local prefix=() i
  while [ $# -gt 0 ] && [ "$1" != -- ]; do prefix+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  mkdir -p "$tmp/d"
  # The config file is ours (not /etc/docker/daemon.json); it keeps the
  # client key (20.10 writes /etc/docker/key.json) in the temporary dir.
  printf '{"deprecated-key-path": "%s"}\n' "$tmp/d/key.json" >"$tmp/d/daemon.json"
  "${prefix[@]}" dockerd --config-file "$tmp/d/daemon.json" --data-root "$tmp/d/data" --exec-root "$tmp/d/ex" \
    -H "unix://$tmp/d/sock" --pidfile "$tmp/d/pid" --cgroup-parent=/minibox/bench-docker "$@" >"$tmp/d/log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_CONFIG=$tmp/d/cli
  mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json"
  docker="docker -H unix://$tmp/d/sock"
  for i in $(seq 300); do $docker version >/dev/null 2>&1 && break; sleep 0.1; done
  $docker version >/dev/null 2>&1 || { echo "$me: dockerd did not come up in 30 s:" >&2; tail -20 "$tmp/d/log" >&2; exit 1; }
  $docker import "$tmp/busybox.tar" bench-busybox >/dev/null
}

# bench_stop_dockerd: stops the dockerd of bench_start_dockerd (it stops
# its containerd and their shims; we wait for all of it); fails the script
# if it does not stop in 20 s.
bench_stop_dockerd() {
  local i
  [ -n "$dockerd_pid" ] || return 0
  kill "$dockerd_pid"
  for i in $(seq 200); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$dockerd_pid" 2>/dev/null; then echo "$me: dockerd $dockerd_pid did not stop in 20 s" >&2; exit 1; fi
  dockerd_pid=
}

# bench_podman [PREFIX...]: podman under PREFIX with a containers.conf of
# our own (cgroupfs, no systemd; file locks and events in $tmp/p rather
# than /dev/shm and the journal; CNI's configuration there too) and its
# storage in $tmp/p; imports $tmp/busybox.tar as bench-busybox. Sets
# podman_cmd.
bench_podman() {
  mkdir -p "$tmp/p/cni"
  cat >"$tmp/p/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$tmp/p/events.log"
lock_type = "file"
tmp_dir = "$tmp/p/tmp"
[network]
network_config_dir = "$tmp/p/cni"
EOF
  export CONTAINERS_CONF=$tmp/p/containers.conf
  podman_cmd="$* podman --root $tmp/p/root --runroot $tmp/p/run --storage-driver overlay"
  podman_cmd=${podman_cmd# }
  $podman_cmd import -q "$tmp/busybox.tar" bench-busybox >/dev/null
}

# bench_cleanup_tools (in the EXIT trap, errors ignored): podman's
# containers, then dockerd's and dockerd itself (killed after 20 s), then
# its containerd if it outlived it (only the one whose pidfile is ours and
# whose program is containerd).
bench_cleanup_tools() {
  local p i
  [ -n "$podman_cmd" ] && $podman_cmd rm -af >/dev/null 2>&1
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    docker -H "unix://$tmp/d/sock" ps -aq 2>/dev/null | xargs -r docker -H "unix://$tmp/d/sock" rm -f >/dev/null 2>&1
    kill "$dockerd_pid"
    for i in $(seq 200); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$dockerd_pid" 2>/dev/null && { echo "$me: dockerd $dockerd_pid did not stop in 20 s: killed" >&2; kill -9 "$dockerd_pid"; }
  fi
  if [ -s "$tmp/d/ex/containerd/containerd.pid" ]; then
    p=$(cat "$tmp/d/ex/containerd/containerd.pid")
    kill -0 "$p" 2>/dev/null && [ "$(readlink /proc/$p/exe)" = "$(command -v containerd)" ] && kill "$p"
  fi
  return 0
}

# bench_release (in the EXIT trap, after every process is stopped): what is
# still mounted under $tmp; the bench-* cgroups under /minibox, and
# /minibox and /docker where this run made them (rmdir refuses a cgroup in
# use); the fixed paths this run made. The caller removes $tmp.
bench_release() {
  local d p
  awk -v t="$tmp/" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r d; do umount -l "$d"; done
  for d in /sys/fs/cgroup/minibox /sys/fs/cgroup/*/minibox; do
    [ -d "$d" ] || continue
    for p in "$d"/bench-docker "$d"/bench-podman; do
      [ -d "$p" ] && find "$p" -depth -type d -exec rmdir {} \;
    done
    grep -qxF "$d" <<<"$cgroups_before" || rmdir "$d" 2>/dev/null
  done
  for d in /sys/fs/cgroup/docker /sys/fs/cgroup/*/docker; do
    [ -d "$d" ] && ! grep -qxF "$d" <<<"$cgroups_before" && find "$d" -depth -type d -exec rmdir {} \;
  done
  for p in "${fixed_paths[@]}"; do
    [ -e "$p" ] && ! grep -qxF "$p" <<<"$paths_before" && { [ -d "$p" ] && rmdir "$p" || rm -f "$p"; }
  done
  return 0
}
