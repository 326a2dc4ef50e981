#!/usr/bin/env bash
# vm/validate.sh — check the course VM's and the dev container's
# configuration without starting either (what `make vm-validate` and CI run):
#
#   1. the Vagrantfile: `vagrant validate -p` with Debian's Vagrant, then
#      vm/vagrantfile_check.rb, which runs the provider blocks and the
#      architecture choice that validate -p skips;
#   2. .devcontainer/devcontainer.json: a strict JSONC parse and the keys
#      the lab needs (vmtool devcontainer), then the real devcontainer CLI
#      from npm reading the configuration (it needs a docker binary even to
#      read, not a Docker engine: /bin/true stands in);
#   3. the VM scripts: bash -n (and shellcheck where it is installed).
#
#   sudo vm/validate.sh
#
# Installs what is missing (vagrant from apt; the CLI into a temporary npm
# prefix) and leaves nothing behind: Vagrant's state goes to a temporary
# directory, not to .vagrant/ in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

DEVCONTAINER_CLI=@devcontainers/cli@0.89.0 # pinned: read-configuration's output is what we check

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() {
  printf 'vm-validate: error: %s\n' "$*" >&2
  exit 1
}
t0=$(date +%s)
export PATH=/usr/local/go/bin:$PATH

# ---- tools --------------------------------------------------------------
# node and npm may come from elsewhere than Debian (nvm, NodeSource): fine.
pkgs=(vagrant)
command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${CI:-}" = true ] || [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "apt-get install ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${pkgs[@]}"
  elif [ ${#missing[@]} -gt 0 ]; then
    die "missing ${missing[*]}: run sudo $0"
  fi
fi
command -v go >/dev/null || die "no go: run sudo ./setup.sh deps"

work=$(mktemp -d /tmp/minibox-vm-validate.XXXXXX)
trap 'rm -rf "$work"' EXIT
go build -o "$work/vmtool" ./vm/vmtool

# ---- Vagrantfile ----------------------------------------------------------
say "vagrant validate -p ($(vagrant --version))"
# -p (--ignore-provider): validate needs a usable provider otherwise, and
# none is installed here; the provider blocks are checked next.
VAGRANT_HOME=$work/vagrant.d VAGRANT_DOTFILE_PATH=$work/dot.vagrant VAGRANT_CHECKPOINT_DISABLE=1 \
  vagrant validate -p --no-color --no-tty </dev/null
say "ruby vm/vagrantfile_check.rb"
ruby vm/vagrantfile_check.rb Vagrantfile

# ---- devcontainer -----------------------------------------------------------
say "vmtool devcontainer .devcontainer/devcontainer.json"
"$work/vmtool" devcontainer .devcontainer/devcontainer.json
say "devcontainer read-configuration ($DEVCONTAINER_CLI)"
npm install --prefix "$work/npm" --no-audit --no-fund --loglevel=error "$DEVCONTAINER_CLI" >/dev/null
"$work/npm/node_modules/.bin/devcontainer" read-configuration --workspace-folder . --docker-path /bin/true \
  --log-level info >"$work/config.json" 2>"$work/cli.log" || {
  cat "$work/cli.log" >&2
  die "devcontainer read-configuration failed"
}
node - "$work/config.json" <<'EOF'
// What the CLI read must be what the lab needs.
const c = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8")).configuration;
const problems = [];
if (!c) problems.push("no configuration in the CLI's output");
else {
  if (c.name !== "minibox") problems.push(`name is ${JSON.stringify(c.name)}`);
  if (c.privileged !== true) problems.push("not privileged");
  if (!(c.runArgs || []).includes("--cgroupns=host")) problems.push("no --cgroupns=host in runArgs");
  if (!c.build || c.build.dockerfile !== "Dockerfile") problems.push("build.dockerfile is not Dockerfile");
  if (!/setup\.sh/.test(String(c.postCreateCommand))) problems.push("postCreateCommand does not run setup.sh");
  const ext = ((c.customizations || {}).vscode || {}).extensions || [];
  if (!ext.includes("golang.go")) problems.push("no golang.go extension");
}
if (problems.length) {
  console.error("devcontainer CLI: " + problems.join("; "));
  process.exit(1);
}
console.log(`devcontainer CLI read "${c.name}": privileged, runArgs ${JSON.stringify(c.runArgs)}, ` +
  `postCreateCommand ${JSON.stringify(c.postCreateCommand)}`);
EOF

# ---- scripts ------------------------------------------------------------------
say "bash -n vm/*.sh, sh -n vm/init.sh"
for s in vm/*.sh; do bash -n "$s"; done
busybox sh -n vm/init.sh 2>/dev/null || sh -n vm/init.sh
if command -v shellcheck >/dev/null; then # optional: only where it is installed
  say "shellcheck"
  shellcheck -x vm/test.sh vm/validate.sh vm/install-deps.sh vm/provision.sh
  shellcheck -s sh vm/init.sh
fi

echo "vm-validate: Vagrantfile and devcontainer ok ($(($(date +%s) - t0))s)"
