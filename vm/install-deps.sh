#!/usr/bin/env bash
# vm/install-deps.sh — install what the VM test (vm/test.sh) needs on the
# host: QEMU to boot a real kernel under software emulation, Debian's stock
# kernel (whose modules go into the initramfs), a static busybox for the
# guest's userland and cpio to pack the initramfs.
#
#   sudo vm/install-deps.sh          only what is missing (under CI=true: always)
#
# --no-install-recommends keeps it to a few dozen packages: with recommends
# qemu pulls ~200 (firmware, GUI libraries) and takes minutes.
# Installing linux-image-amd64 does not change how this machine boots: the
# test takes /boot/vmlinuz-* and /lib/modules/* from the package and hands them
# to QEMU.
set -euo pipefail

PACKAGES=(
  qemu-system-x86   # qemu-system-x86_64 (TCG: no KVM needed)
  linux-image-amd64 # the guest kernel and its modules (cgroup v2 capable)
  busybox-static    # the guest's shell, mount, insmod, switch_root ...
  cpio              # packs the initramfs
)

[ "$(id -u)" = 0 ] || { echo "install-deps: needs root (try: sudo $0)" >&2; exit 1; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ! compgen -G '/boot/vmlinuz-*' >/dev/null; then
  missing+=("(no /boot/vmlinuz-*)")
fi
if [ "${CI:-}" = true ] || [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]:-(all present; CI checks anyway)}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
fi
