#!/usr/bin/env bash
# labs/check.sh: the homework's integrity check (CI runs it as root).
#  1. the reference solution scores 100%;
#  2. the handout (every lab to do) builds and vets;
#  3. in the handout every task of every lab scores 0: its tests fail on
#     the stub, so they really grade the student's code.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== labs check: the reference must score 100%"
"$GO" run ./labs/cmd/grade -expect full

echo "== labs check: the handout must build and vet"
"$GO" run ./labs/cmd/handout -out "$tmp/handout" -verify

labs=$("$GO" run ./labs/cmd/grade -list-labs)
for lab in $labs; do
  echo "== labs check: in the handout, every task of lab $lab must score 0"
  (cd "$tmp/handout" && "$GO" run ./labs/cmd/grade -lab "$lab" -expect zero)
done

echo "labs check: reference 100%, handout builds, every task 0 in the handout"
