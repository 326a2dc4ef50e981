#!/usr/bin/env bash
# vm/provision.sh — what `vagrant up` runs in the course VM, as root (see the
# Vagrantfile and vm/README.md): the README's setup (packages, the pinned Go,
# every lesson built into bin/), then the newest lesson's doctor. Safe to run
# again: `vagrant provision`.
set -euo pipefail
cd "$(dirname "$0")/.."

# The state of containers must live on the VM's own disk, never in the
# synced folder: overlayfs refuses vboxsf, 9p, NFS and fuse as upper layers.
mkdir -p /var/lib/minibox
fs=$(stat -f -c %T .)
echo "==> the repository is at $PWD on a '$fs' file system; container state goes to /var/lib/minibox and /run/minibox ($(stat -f -c %T /var/lib/minibox))"

# The synced folder belongs to the host's user, and the lab runs as root:
# setup.sh tells git that is fine (safe.directory), or git refuses every
# command there ("dubious ownership") and `sudo make fmt` or a build's
# version stamp go without it.
./setup.sh deps

./setup.sh build

# The newest lesson: the highest-numbered folder with a main.go (as setup.sh).
newest=
for d in [0-9][0-9]-*/; do
  if [ -f "${d}main.go" ]; then newest=${d%/}; fi
done
echo "==> bin/$newest doctor"
if ! "bin/$newest" doctor; then
  echo "provision: doctor found a problem above; see 'When it fails' in vm/README.md" >&2
  exit 1
fi
cat <<EOF
==> ready. Next:
      vagrant ssh
      cd minibox
      sudo go run ./01-namespaces run -- sh
EOF
