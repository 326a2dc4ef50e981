#!/usr/bin/env bash
# residue.sh — print, one per line and sorted, what tests could leave behind
# on this host: mount points, network links, named netns, cgroups under
# minibox's prefix, and processes that are leftover containers (in a PID
# namespace that is not ours) or leftover test binaries. .ci/run takes one
# snapshot before the tests and one after, and fails on any difference.
set -u
{
  awk '{print "mount " $5}' /proc/self/mountinfo
  for l in /sys/class/net/*; do echo "link ${l##*/}"; done
  ls /run/netns 2>/dev/null | sed 's/^/netns /'
  # The host's firewall, rule by rule (handles and counters vary).
  if command -v nft >/dev/null; then
    nft list ruleset 2>/dev/null | sed -E 's/ # handle [0-9]+//; s/counter packets [0-9]+ bytes [0-9]+/counter/' | sed 's/^/nft /'
  fi
  find /sys/fs/cgroup -maxdepth 2 -name 'minibox*' 2>/dev/null | while read -r d; do
    find "$d" -type d | sed 's/^/cgroup /'
  done
  ours=$(readlink /proc/self/ns/pid)
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    ns=$(readlink "$p/ns/pid" 2>/dev/null) || continue
    exe=$(readlink "$p/exe" 2>/dev/null || true)
    if [ "$ns" != "$ours" ] || [[ "$exe" == *.test ]] || [[ "$exe" == */go-build*/* ]] || [[ "$exe" == */bin/0[1-7]-* ]] || [[ "$exe" == */bin/minibox ]]; then
      echo "process $pid $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-80) ($ns)"
    fi
  done
} | sort
