#!/bin/sh
# vm/init.sh — PID 1 of the VM test (vm/test.sh packs it as /init of the
# initramfs). It runs under busybox sh in a VM with nothing else: no
# systemd, no udev, no network device. Everything it prints goes to the
# serial console, which the host reads back; its own lines start with
# "@@vm " (vmtool report parses them).
#
# Stage 1 (the kernel runs /init): copy the initramfs into a tmpfs and
#   switch_root into it. The initramfs itself is the kernel's "rootfs",
#   which can never be unmounted, so pivot_root(2) refuses it, and lesson
#   03 pivot_roots. After switch_root, / is an ordinary tmpfs mount, as on
#   a real machine.
# Stage 2 (/init stage2): mount what a systemd machine mounts, check that
#   cgroups are v2 only, load the kernel modules, run every test binary and
#   write the verdict to QEMU's isa-debug-exit port.
set -u

say() { echo "@@vm $*"; }

# finish VALUE: make QEMU exit with status (VALUE<<1)|1. The write goes to
# I/O port 0xf4 through /dev/port (CONFIG_DEVPORT). First give the serial
# line a moment to drain what we printed.
finish() {
  sync
  sleep 1
  case $1 in
    1) printf '\001' ;;
    *) printf '\002' ;;
  esac | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  # Only reached when QEMU has no isa-debug-exit device.
  echo "@@vm ERROR could not write to the isa-debug-exit port (0xf4)"
  sleep 1
  poweroff -f
}

fatal() {
  say "ERROR $*"
  finish 2
}

if [ "${1:-}" != stage2 ]; then
  # Stage 1. Nothing is mounted yet; /dev/console comes from the archive.
  mount -t tmpfs -o mode=0755 root /newroot || fatal "mount a tmpfs for the new root"
  for e in /*; do
    [ "$e" = /newroot ] && continue
    cp -a "$e" /newroot/ || fatal "copy $e into the new root"
  done
  # shellcheck disable=SC2093 # exec returns only when switch_root fails
  exec switch_root /newroot /init stage2
  fatal "switch_root failed"
fi

# ---- Stage 2: PID 1 in the real root ----------------------------------
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
cd /

mount -t proc -o nosuid,nodev,noexec proc /proc || fatal "mount /proc"
# /dev/port is needed to report; mount /dev before anything can fail.
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev || fatal "mount /dev"
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys || fatal "mount /sys"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec,mode=620,ptmxmode=666 devpts /dev/pts || fatal "mount /dev/pts"
mount -t tmpfs -o nosuid,nodev shm /dev/shm || fatal "mount /dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp || fatal "mount /tmp"
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run || fatal "mount /run"
# The unified hierarchy, with the options systemd uses on Ubuntu 24.04.
mount -t cgroup2 -o nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
  fatal "mount cgroup2 at /sys/fs/cgroup"
# systemd makes every mount shared; containers must cope with that.
mount --make-rshared / || fatal "make / shared"
# Only emergencies on the console from now on: OOM kills and the like
# would land in the middle of the test output (dmesg has them all).
echo 1 >/proc/sys/kernel/printk
hostname minibox-vm
ip link set lo up || fatal "bring up lo"

# shellcheck source=/dev/null # written by vm/test.sh: PKG_TIMEOUT, VM_CGROUP
. /vm/config

say "kernel $(uname -r)"
say "cpus $(grep -c ^processor /proc/cpuinfo), memory $(awk '/^MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo)"

# ---- cgroup v2 only -----------------------------------------------------
fstype=$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)
magic=$(stat -f -c %t /sys/fs/cgroup)
if [ "$fstype" != cgroup2 ] || [ "$magic" != 63677270 ]; then
  fatal "/sys/fs/cgroup is '$fstype' (magic $magic), not cgroup2 (63677270)"
fi
v1=$(awk '$3 == "cgroup" { printf "%s ", $2 }' /proc/mounts)
[ -z "$v1" ] || fatal "cgroup v1 hierarchies are mounted: $v1"
# cgroup_no_v1=all: no v1 controller may even be mounted.
mkdir -p /run/v1-probe
if mount -t cgroup -o memory cgroup /run/v1-probe 2>/dev/null; then
  umount /run/v1-probe
  fatal "the memory controller can still be mounted as cgroup v1 (cgroup_no_v1=all missing?)"
fi
rmdir /run/v1-probe
controllers=$(cat /sys/fs/cgroup/cgroup.controllers)
[ -n "$controllers" ] || fatal "cgroup.controllers is empty"
# Like systemd: every controller enabled for the root's children. The root
# cgroup is exempt from the no-internal-processes rule; deeper levels are
# the business of the code under test.
for c in $controllers; do
  echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || fatal "enable the $c controller"
done
# Like a login shell under systemd, the tests run in a leaf cgroup of their
# own, not in the root: a runtime that makes its cgroups relative to its
# own would be caught. VM_CGROUP=root (on the host) keeps them in the root.
if [ "$VM_CGROUP" = scope ]; then
  mkdir /sys/fs/cgroup/vmtest.scope || fatal "make vmtest.scope"
  echo $$ >/sys/fs/cgroup/vmtest.scope/cgroup.procs || fatal "move the init into vmtest.scope"
fi
say "cgroup v2 only: cgroup2 at /sys/fs/cgroup, no v1 hierarchy; controllers: $controllers;" \
  "enabled for children: $(cat /sys/fs/cgroup/cgroup.subtree_control); tests run in $(cut -d: -f3 /proc/self/cgroup)"

# ---- kernel modules -----------------------------------------------------
loaded=
while read -r ko; do
  [ -n "$ko" ] || continue
  insmod "/lib/modules/$(uname -r)/$ko" || fatal "insmod $ko"
  m=${ko##*/}
  loaded="$loaded ${m%%.ko*}"
done </vm/modules.load
say "modules loaded:${loaded:- none}"

# ---- the tests ----------------------------------------------------------
# /vm/packages.list: BINARY|PACKAGE|DIR|ARGS, one test binary a line. Each
# runs from a copy of its package's directory (its testdata included), as
# `go test` would run it, as root, with skips turned into failures.
export MINIBOX_REQUIRE_ROOT=1 MINIBOX_CGROUP_VERSION=2
result=1
while IFS='|' read -r bin pkg dir args; do
  [ -n "$bin" ] || continue
  say "BEGIN $pkg"
  start=$(date +%s)
  # shellcheck disable=SC2086 # ARGS are split on purpose
  (cd "/src/$dir" && exec "/tests/$bin" -test.v -test.count=1 -test.timeout="$PKG_TIMEOUT" $args) </dev/null 2>&1
  rc=$?
  echo
  say "END $pkg exit=$rc seconds=$(($(date +%s) - start))"
  [ "$rc" = 0 ] || result=2
done </vm/packages.list

if [ "$result" != 1 ]; then
  dmesg | tail -n 60 | sed 's/^/dmesg: /'
fi
say "DONE"
finish "$result"
