#!/usr/bin/env bash
# labs/check.sh: the homework's integrity check (CI runs it as root).
#  1. the reference solution scores 100%;
#  2. the handout (every lab to do) builds and vets, and in it every task of
#     every lab scores 0;
#  3. each task alone: the handout with only that task stubbed (every other
#     region solved, handout -only) builds and vets, and that task scores 0.
#     Step 2 alone proves little: once the first task of a lab is a stub,
#     every test of the lab may fail, whatever it tests. Step 3 proves that
#     a task's own tests fail on its own stub, so they grade that task.
# Each grade run of step 3 grades only that task's lab (-only-lab).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "labs/check.sh: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
GO=${GO:-go}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

timings=()
# timed LABEL CMD...: run CMD and note how long it took.
timed() {
  local label=$1 t0=$SECONDS
  shift
  "$@"
  timings+=("$(printf '%5ds  %s' $((SECONDS - t0)) "$label")")
}

# indir DIR CMD...: run CMD in DIR.
indir() {
  local dir=$1
  shift
  (cd "$dir" && "$@")
}

# logged CMD...: run CMD, its output also in $tmp/grade.log.
logged() { "$@" 2>&1 | tee "$tmp/grade.log"; }

labs=$("$GO" run ./labs/cmd/grade -list-labs)
tasks=$("$GO" run ./labs/cmd/grade -list-tasks)
ntasks=$(wc -w <<<"$tasks")

echo "== labs check: the reference must score 100%"
timed "reference: grade -expect full" "$GO" run ./labs/cmd/grade -expect full

echo "== labs check: the handout must build and vet"
timed "all-stubbed handout -verify" "$GO" run ./labs/cmd/handout -out "$tmp/handout" -verify

for lab in $labs; do
  echo "== labs check: in the handout, every task of lab $lab must score 0"
  timed "all-stubbed: grade -lab $lab -only-lab -expect zero" \
    indir "$tmp/handout" "$GO" run ./labs/cmd/grade -lab "$lab" -only-lab -expect zero
done
rm -rf "$tmp/handout"

summary=()
for task in $tasks; do
  lab=${task%%.*}
  # The same path for every task, so that go build and vet reuse their cache.
  dir=$tmp/only
  echo "== labs check: with only $task stubbed, the handout must build and vet, and $task must score 0"
  timed "only $task: handout -verify" "$GO" run ./labs/cmd/handout -out "$dir" -only "$task" -verify
  timed "only $task: grade -lab $lab -only-lab -expect-zero-task $task" \
    indir "$dir" logged "$GO" run ./labs/cmd/grade -lab "$lab" -only-lab -expect-zero-task "$task"
  summary+=("$(sed -n 's/^grade: as expected (\(.*\))$/  \1/p' "$tmp/grade.log")")
  rm -rf "$dir"
done

echo
echo "== labs check: each task on its own stub"
printf '%s\n' "${summary[@]}"
echo "== labs check: timings"
printf '%s\n' "${timings[@]}"
printf '%5ds  total\n' "$SECONDS"
echo "labs check: reference 100%; handout builds; each of $ntasks tasks scores 0 on its own stub; all-stubbed handout 0"
