#!/usr/bin/env bash
# setup.sh — the one script that prepares a machine for minibox and runs it.
# The README's two commands, the course VM's provisioning and CI all use it.
#
#   sudo ./setup.sh           install what is missing, build, run the newest lesson's demo
#   sudo ./setup.sh test      install what is missing, then run the whole test suite
#   sudo ./setup.sh deps      only install what is missing (apt packages and Go)
#   sudo ./setup.sh build     install, then build every lesson into ./bin
#
# As root (a root login, a fresh container without sudo) drop the "sudo":
# ./setup.sh test. It never calls sudo itself.
#
# Idempotent: it installs only what is missing (under CI=true it always runs
# apt-get update and apt-get install, so a missing package cannot hide).
# Works on Debian 12 and Ubuntu 22.04/24.04.
set -euo pipefail

GO_VERSION=1.26.8  # the pinned toolchain: downloaded when the machine has no Go or an older one
APT_PACKAGES=(
  ca-certificates curl git make sudo   # fetching Go, building, the README's commands
  busybox-static                       # tests build their container images from it
  util-linux                           # unshare(1): the benchmark's reference
  runc crun                            # lesson 03: `runc spec` bundles in the tests, the benchmark's references
  iproute2 procps                      # ip, ps: to look around inside containers
  iptables                             # NAT and published ports (lesson 05)
  nftables                             # nft(8): doctor's firewall check, `nft list ruleset` in lesson 05's chapter
  iperf3                               # bench/05-network.sh: throughput between containers
  tcpdump                              # lesson 05's chapter: watching a bridge and a veth inside a netns
  docker-registry                      # lesson 06: a real registry on 127.0.0.1 for the demo, the chapter and the tests (each starts its own; the package's service may listen on :5000)
)
# Only for the test suite (`test`, and `deps` under CI=true): the reference
# tools lesson 06's interoperation tests and benchmarks compare with. Not for
# the demo: on a systemd machine docker.io starts its daemon, which adds
# docker0 and firewall rules to the host.
TEST_PACKAGES=(
  docker.io                            # dockerd and client 20.10: `save` loaded into Docker, `docker save` loaded here (a dockerd of the tests' own)
  skopeo                               # what minibox pushes, skopeo reads; what skopeo pushes, minibox pulls
  docker-compose                       # 1.29: bench/07-compose.sh's reference for `compose up -d` and `down` (on the tests' own dockerd)
)

cd "$(dirname "$0")"
action=${1:-demo}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root: run it as root, or with sudo: sudo $0 $*"

# owner: who owns the checkout (uid:gid). Run with sudo, we are root in a
# user's checkout: what we create there (bin/) is given back to that user.
owner=$(stat -c %u:%g .)
give_back() { [ "$owner" = 0:0 ] || chown -R "$owner" "$@"; }

# trust_checkout: as root in a checkout that a user owns, git refuses to
# work there ("detected dubious ownership"): `git ls-files` fails, and with
# it gofmt's file list, `make fmt` and the handout's file list. Trust this
# one directory for root, as git's own message says to.
trust_checkout() {
  [ "$owner" != 0:0 ] && [ -e .git ] && command -v git >/dev/null || return 0
  git config --system --get-all safe.directory 2>/dev/null | grep -qxF "$PWD" && return 0
  say "git config --system --add safe.directory $PWD (the checkout is a user's; we are root)"
  git config --system --add safe.directory "$PWD"
}

install_packages() {
  local missing=() want=("${APT_PACKAGES[@]}")
  if [ "$action" = test ] || [ "${CI:-}" = true ]; then
    want+=("${TEST_PACKAGES[@]}")
  fi
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ "${CI:-}" = true ] || [ ${#missing[@]} -gt 0 ]; then
    say "apt-get install ${missing[*]:-(all present; CI checks anyway)}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${want[@]}"
  fi
}

# go_ok PATH: is the Go at PATH at least the version go.mod asks for?
go_ok() {
  local have want
  have=$("$1" env GOVERSION 2>/dev/null | sed 's/^go//') || return 1
  want=$(sed -n 's/^go \([0-9.]*\).*/\1/p' go.mod)
  [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" = "$want" ]
}

install_go() {
  local go
  for go in "$(command -v go || true)" /usr/local/go/bin/go; do
    if [ -n "$go" ] && [ -x "$go" ] && go_ok "$go"; then
      GO=$go
      break
    fi
  done
  if [ -z "${GO:-}" ]; then
    local arch
    case "$(uname -m)" in
      x86_64) arch=amd64 ;;
      aarch64 | arm64) arch=arm64 ;;
      *) die "no Go release for $(uname -m)" ;;
    esac
    say "installing Go $GO_VERSION into /usr/local/go"
    local tgz
    tgz=$(mktemp)
    curl -fsSL "https://go.dev/dl/go${GO_VERSION}.linux-${arch}.tar.gz" -o "$tgz"
    rm -rf /usr/local/go
    tar -C /usr/local -xzf "$tgz"
    rm -f "$tgz"
    GO=/usr/local/go/bin/go
  fi
  # sudo's secure_path knows /usr/local/bin but not /usr/local/go/bin: link
  # go there so that `sudo go run ./01-namespaces ...` works.
  if [ "$GO" = /usr/local/go/bin/go ] && [ ! -e /usr/local/bin/go ]; then
    ln -s /usr/local/go/bin/go /usr/local/bin/go
    ln -sf /usr/local/go/bin/gofmt /usr/local/bin/gofmt
  fi
  export PATH="$(dirname "$GO"):$PATH"
  say "using $("$GO" version)"
}

# newest_lesson: the highest-numbered lesson with a program (main.go) and
# its chapter (README.md); a lesson still being written has no chapter yet.
newest_lesson() {
  ls -d [0-9][0-9]-*/ | sed 's:/$::' | while read -r d; do [ -f "$d/main.go" ] && [ -f "$d/README.md" ] && echo "$d"; done | tail -n1
}

build() {
  mkdir -p bin
  local d
  for d in [0-9][0-9]-*/; do
    d=${d%/}
    [ -f "$d/main.go" ] || continue
    CGO_ENABLED=0 go build -o "bin/$d" "./$d"
  done
  CGO_ENABLED=0 go build -o bin/minibox ./cmd/minibox
  give_back bin
  say "built $(ls bin | tr '\n' ' ')"
}

run_tests() {
  export MINIBOX_REQUIRE_ROOT=1  # root tests must fail, not skip
  say "gofmt"
  local unformatted
  unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './handout/*'))
  [ -z "$unformatted" ] || die "not gofmt-ed: $unformatted"
  say "go vet ./..."
  go vet ./...
  # -p 1: root tests share the kernel (mounts, links, cgroups); one package at
  # a time keeps each test's residue check about its own work.
  # CGO_ENABLED=0: test binaries are static like the programs `make build`
  # makes; a test binary is the program, and `run --init` under runc runs
  # it inside the container, where there is no libc.
  say "go test ./... (as root, MINIBOX_REQUIRE_ROOT=1, CGO_ENABLED=0)"
  CGO_ENABLED=0 go test -p 1 -count=1 -timeout 20m ./...
}

case "$action" in
  deps) install_packages; trust_checkout; install_go ;;
  build) install_packages; trust_checkout; install_go; build ;;
  demo)
    install_packages; trust_checkout; install_go; build
    lesson=$(newest_lesson)
    say "bin/$lesson doctor"
    "bin/$lesson" doctor || true
    say "bin/$lesson demo"
    "bin/$lesson" demo
    ;;
  test) install_packages; trust_checkout; install_go; run_tests ;;
  *) die "unknown action '$action': use demo, test, deps or build" ;;
esac
