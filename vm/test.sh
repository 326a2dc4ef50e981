#!/usr/bin/env bash
# vm/test.sh — run the lessons' root tests on a real Linux kernel with the
# unified cgroup v2 hierarchy only (what `make vm-test` and CI run).
#
#   sudo vm/test.sh
#
# It boots Debian's stock kernel under QEMU with software emulation (TCG: no
# KVM needed), from an initramfs that holds a static busybox, the kernel
# modules listed in vm/modules.txt and one static test binary (go test -c)
# for every package in vm/packages.txt. The guest's init (vm/init.sh) checks
# that cgroups are v2 only, runs each binary as root with
# MINIBOX_REQUIRE_ROOT=1 and reports on the serial console; vmtool report
# reads that back. The last line is
#
#   vm-test: kernel X.Y, cgroup v2, N passed, M failed
#
# and the exit status is non-zero on any failure, a timeout, a kernel panic
# or a run in which no test passed. The guest has no network device and
# does not touch the host's cgroups, mounts or network: only QEMU runs here.
#
# Settings (environment):
#   VM_TIMEOUT=900      seconds for the whole VM run (boot + tests)
#   VM_PKG_TIMEOUT=5m   -test.timeout of each test binary
#   VM_CPUS=2 VM_MEMORY=1536 (MiB)
#   VM_CGROUP=scope     the tests run in /vmtest.scope like a login shell under
#                       systemd; "root" keeps them in the root cgroup
#   VM_KERNEL=/boot/vmlinuz-...  the kernel to boot (default: the newest one
#                       that has its /lib/modules)
#   VM_VERBOSE=1        stream the whole console and print every package's output
#   VM_LOG=FILE         keep the serial console log in FILE
#   VM_PACKAGES='./02-cgroups -test.run=TestX; ./01-namespaces'
#                       run these lines instead of vm/packages.txt
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

VM_TIMEOUT=${VM_TIMEOUT:-900}
VM_PKG_TIMEOUT=${VM_PKG_TIMEOUT:-5m}
VM_CPUS=${VM_CPUS:-2}
VM_MEMORY=${VM_MEMORY:-1536}
VM_CGROUP=${VM_CGROUP:-scope}
VM_KERNEL=${VM_KERNEL:-}
VM_VERBOSE=${VM_VERBOSE:-0}
VM_LOG=${VM_LOG:-}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() {
  printf 'vm-test: error: %s\n' "$*" >&2
  exit 1
}
case $VM_CGROUP in scope | root) ;; *) die "VM_CGROUP must be scope or root, not '$VM_CGROUP'" ;; esac

t0=$(date +%s)

# ---- what the host needs ------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  vm/install-deps.sh
else
  for c in qemu-system-x86_64 busybox; do
    command -v "$c" >/dev/null || die "$c is missing: run sudo vm/install-deps.sh (or sudo make vm-test)"
  done
fi
export PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || die "no go: run sudo ./setup.sh deps"
busybox=
for b in /bin/busybox /usr/bin/busybox; do [ -x "$b" ] && busybox=$b && break; done
[ -n "$busybox" ] || die "no busybox: sudo apt-get install busybox-static"

# The guest kernel: Debian's linux-image package, not the kernel this host
# runs (uname -r here may be a VM's own kernel without modules).
if [ -z "$VM_KERNEL" ]; then
  while read -r k; do
    if [ -d "/lib/modules/${k#/boot/vmlinuz-}" ]; then VM_KERNEL=$k; fi
  done < <(compgen -G '/boot/vmlinuz-*' | sort -V)
fi
[ -n "$VM_KERNEL" ] || die "no /boot/vmlinuz-* with its /lib/modules: sudo vm/install-deps.sh"
[ -r "$VM_KERNEL" ] || die "cannot read $VM_KERNEL (some distributions make it root-only: use sudo)"
kver=${VM_KERNEL#/boot/vmlinuz-}
moddir=/lib/modules/$kver

work=$(mktemp -d /tmp/minibox-vm-test.XXXXXX)
qpid='' tpid=''
cleanup() {
  if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null || true; fi
  if [ -n "$tpid" ]; then kill "$tpid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stage=$work/root
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev,run,mnt,var/tmp,newroot,vm,tests,src}
chmod 1777 "$stage/tmp" "$stage/var/tmp"
chmod 0700 "$stage/root"

say "vmtool"
go build -o "$work/vmtool" ./vm/vmtool

# ---- the test binaries --------------------------------------------------
# vm/packages.txt: one package (or pattern) a line, optionally followed by
# arguments for its test binary; # starts a comment.
say "static test binaries (CGO_ENABLED=0 go test -c)"
expect=()
: >"$stage/vm/packages.list"
while read -r pattern args; do
  [ -n "$pattern" ] || continue
  listed=$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}|{{.Dir}}{{end}}' "$pattern")
  [ -n "$listed" ] || die "vm/packages.txt: $pattern has no package with tests"
  while IFS='|' read -r imp dir; do
    [ -n "$imp" ] || continue
    rel=${dir#"$root"}
    rel=${rel#/}
    [ -n "$rel" ] || rel=.
    name=./${rel#./}
    name=${name%/.}
    case " ${expect[*]} " in *" $name "*) continue ;; esac # listed twice
    bin=$(printf '%s' "${rel}" | tr '/.' '__').test
    printf '   %-34s -> /tests/%s\n' "$name" "$bin"
    CGO_ENABLED=0 go test -c -vet=off -o "$stage/tests/$bin" "$imp"
    # Run from a copy of the package's directory, as go test would.
    mkdir -p "$stage/src/$rel"
    find "$dir" -maxdepth 1 -type f -exec cp {} "$stage/src/$rel/" \;
    if [ -d "$dir/testdata" ]; then cp -a "$dir/testdata" "$stage/src/$rel/"; fi
    printf '%s|%s|%s|%s\n' "$bin" "$name" "$rel" "$args" >>"$stage/vm/packages.list"
    expect+=("$name")
  done <<<"$listed"
done < <(if [ -n "${VM_PACKAGES:-}" ]; then printf '%s\n' "$VM_PACKAGES" | tr ';' '\n'; else cat vm/packages.txt; fi | sed -e 's/#.*//')
[ ${#expect[@]} -gt 0 ] || die "vm/packages.txt lists no package"

# ---- busybox, /etc, the init, the modules -------------------------------
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$stage/$(dirname "$applet")"
  ln -sf /bin/busybox "$stage/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$stage/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$stage/etc/group"
printf 'minibox-vm\n' >"$stage/etc/hostname"
printf '127.0.0.1\tlocalhost minibox-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$stage/etc/hosts"
install -m 0755 vm/init.sh "$stage/init"
printf 'PKG_TIMEOUT=%s\nVM_CGROUP=%s\n' "$VM_PKG_TIMEOUT" "$VM_CGROUP" >"$stage/vm/config"

mapfile -t modules < <(sed -e 's/#.*//' vm/modules.txt | tr -s ' \t' '\n' | sed '/^$/d')
: >"$stage/vm/modules.load"
if [ ${#modules[@]} -gt 0 ]; then
  while read -r ko; do
    src=$moddir/$ko
    dst=$stage/lib/modules/$kver/${ko%.xz}
    dst=${dst%.zst}
    mkdir -p "$(dirname "$dst")"
    case $ko in
      *.ko) cp "$src" "$dst" ;;
      *.ko.xz) xz -dc "$src" >"$dst" ;;
      *.ko.zst) zstd -qdc "$src" >"$dst" ;;
      *) die "module $ko: unknown compression" ;;
    esac
    echo "${dst#"$stage/lib/modules/$kver/"}" >>"$stage/vm/modules.load"
  done < <("$work/vmtool" modules -dir "$moddir" "${modules[@]}")
fi

# In the guest there is no dynamic loader: everything must be static.
"$work/vmtool" static "$stage/bin/busybox" "$stage"/tests/*.test

say "initramfs"
"$work/vmtool" initramfs -o "$work/initrd.cpio" "$stage"
printf '   %s MiB: busybox, %d test binaries, modules: %s\n' \
  "$(($(stat -c %s "$work/initrd.cpio") / 1048576))" "${#expect[@]}" "${modules[*]:-none}"
t_built=$(date +%s)

# ---- boot ---------------------------------------------------------------
# console=ttyS0: the console is the serial port, which QEMU writes to a file.
# panic=-1 with -no-reboot: a kernel panic ends QEMU at once.
# cgroup_no_v1=all: no controller can be mounted as v1, as on a pure v2 host.
# quiet: kernel messages below "warning" stay off the console.
cmdline="console=ttyS0 panic=-1 cgroup_no_v1=all rdinit=/init"
[ "$VM_VERBOSE" = 1 ] || cmdline="$cmdline quiet"
log=$work/serial.log
: >"$log"
say "booting $VM_KERNEL under QEMU (TCG, $VM_CPUS CPUs, $VM_MEMORY MiB, no network), timeout ${VM_TIMEOUT}s"
timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 \
  -accel tcg,thread=multi -machine pc -m "$VM_MEMORY" -smp "$VM_CPUS" \
  -nodefaults -no-user-config -display none -nic none -no-reboot \
  -serial "file:$log" \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$VM_KERNEL" -initrd "$work/initrd.cpio" -append "$cmdline" \
  </dev/null 2>"$work/qemu.err" &
qpid=$!
# Progress while it runs: the init's own lines and failing tests.
if [ "$VM_VERBOSE" = 1 ]; then
  tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null | tr -d '\r' &
else
  tail -n +1 -F --pid="$qpid" "$log" 2>/dev/null | tr -d '\r' |
    grep --line-buffered -aE '@@vm (kernel|cgroup|modules|BEGIN|END|ERROR)|^--- FAIL' |
    sed -u 's/^.*@@vm /   vm: /' &
fi
tpid=$!
rc=0
wait "$qpid" || rc=$?
qpid=
wait "$tpid" 2>/dev/null || true
tpid=
t_end=$(date +%s)
if [ "$rc" != 3 ] && [ "$rc" != 5 ] && [ -s "$work/qemu.err" ]; then
  echo "--- qemu's stderr:"
  cat "$work/qemu.err"
fi
if [ -n "$VM_LOG" ]; then cp "$log" "$VM_LOG"; fi

echo "vm-test: built in $((t_built - t0))s, the VM ran $((t_end - t_built))s (qemu exit status $rc)"
report=("$work/vmtool" report -log "$log" -qemu-exit "$rc" -expect "$(
  IFS=,
  echo "${expect[*]}"
)")
[ "$VM_VERBOSE" = 1 ] && report+=(-v)
"${report[@]}"
