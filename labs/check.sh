#!/usr/bin/env bash
# labs/check.sh: the homework's integrity check (CI runs it as root).
#  1. the reference solution scores 100%;
#  2. the handout (every lab to do) builds and vets, and in it every task of
#     every lab scores 0;
#  3. each task alone: the handout with only that task stubbed (every other
#     region solved, handout -only) builds and vets, and that task scores 0
#     when its regions are graded the teacher's way: spliced into a clean
#     copy of the reference (grade -reference .), with nothing to report
#     outside the regions. Step 2 alone proves little: once the first task
#     of a lab is a stub, every test of the lab may fail, whatever it
#     tests. Step 3 proves that a task's own tests fail on its own stub, so
#     they grade that task;
#  4. the grader ignores everything outside the LAB regions: a handout whose
#     probe (internal/testkit) is edited to report every test as passed
#     scores full points in its own tree, and names the edited file (from
#     HANDOUT.sum); graded against the reference, its stubbed task scores 0
#     and the report names the file as ignored.
# Each grade run of steps 3 and 4 grades only that task's lab (-only-lab).
# With LABS_CHECK_LOCK=FILE each grade run (the part that makes kernel
# objects) holds flock(1) on FILE, for machines where other root tests run.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "labs/check.sh: needs root: run it as root, or with sudo: sudo $0" >&2; exit 1; }
cd "$(dirname "$0")/.."
GO=${GO:-go}
# Static test binaries, as `make` builds them (the Makefile exports the
# same): some tests run their own binary inside a busybox container as a
# probe (lesson 05's UDP echo), where a dynamically linked one cannot start.
export CGO_ENABLED=${CGO_ENABLED:-0}

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

# locked CMD...: run CMD holding $LABS_CHECK_LOCK, if set.
locked() {
  if [[ -n ${LABS_CHECK_LOCK:-} ]]; then
    flock "$LABS_CHECK_LOCK" "$@"
  else
    "$@"
  fi
}

labs=$("$GO" run ./labs/cmd/grade -list-labs)
tasks=$("$GO" run ./labs/cmd/grade -list-tasks)
ntasks=$(wc -w <<<"$tasks")

echo "== labs check: the reference must score 100%"
timed "reference: grade -expect full" locked "$GO" run ./labs/cmd/grade -expect full

echo "== labs check: the handout must build and vet"
timed "all-stubbed handout -verify" "$GO" run ./labs/cmd/handout -out "$tmp/handout" -verify

for lab in $labs; do
  echo "== labs check: in the handout, every task of lab $lab must score 0"
  timed "all-stubbed: grade -lab $lab -only-lab -expect zero" \
    indir "$tmp/handout" locked "$GO" run ./labs/cmd/grade -lab "$lab" -only-lab -expect zero
done
rm -rf "$tmp/handout"

summary=()
for task in $tasks; do
  lab=${task%%.*}
  # The same path for every task, so that go build and vet reuse their cache.
  dir=$tmp/only
  echo "== labs check: with only $task stubbed, the handout must build and vet, and $task must score 0"
  timed "only $task: handout -verify" "$GO" run ./labs/cmd/handout -out "$dir" -only "$task" -verify
  timed "only $task: grade -reference . -lab $lab -only-lab -expect-zero-task $task" \
    logged locked "$GO" run ./labs/cmd/grade -repo "$dir" -reference . -lab "$lab" -only-lab -expect-zero-task "$task"
  if grep -q '^About the submission:' "$tmp/grade.log"; then
    echo "labs check: the handout of $task changed nothing outside its regions, but the grader says it did" >&2
    exit 1
  fi
  summary+=("$(sed -n 's/^grade: as expected (\(.*\))$/  \1/p' "$tmp/grade.log")")
  rm -rf "$dir"
done

# The cheat: the probes' package makes every test binary report the tests
# it was asked for as passed (test2json's framing) and run none.
cheat_task=01.4
cheat_lab=${cheat_task%%.*}
probe=internal/testkit/probes_linux.go
echo "== labs check: with only $cheat_task stubbed and $probe edited to pass everything"
timed "cheat: handout -only $cheat_task" "$GO" run ./labs/cmd/handout -out "$tmp/cheat" -only "$cheat_task"
cat >>"$tmp/cheat/$probe" <<'EOF'

// A cheat, added by labs/check.sh: a test binary reports every test it
// was asked for as passed, and runs none.
func init() {
	if !strings.HasSuffix(os.Args[0], ".test") {
		return
	}
	for _, a := range os.Args[1:] {
		if p, ok := strings.CutPrefix(a, "-test.run="); ok {
			for _, name := range strings.Split(strings.Trim(p, "^()$"), "|") {
				fmt.Printf("\x16=== RUN   %s\n\x16--- PASS: %s (0.00s)\n", name, name)
			}
			fmt.Println("\x16PASS")
			os.Exit(0)
		}
	}
}
EOF
echo "== labs check: in its own tree the cheat scores full points, and HANDOUT.sum names $probe"
timed "cheat: own tree: grade -lab $cheat_lab -only-lab -expect full" \
  indir "$tmp/cheat" logged locked "$GO" run ./labs/cmd/grade -lab "$cheat_lab" -only-lab -expect full
grep -q "changed outside LAB regions: $probe" "$tmp/grade.log" ||
  { echo "labs check: grading the cheat in its own tree did not name $probe" >&2; exit 1; }
echo "== labs check: graded against the reference, $cheat_task scores 0 and $probe is named as ignored"
timed "cheat: grade -reference . -lab $cheat_lab -only-lab -expect-zero-task $cheat_task" \
  logged locked "$GO" run ./labs/cmd/grade -repo "$tmp/cheat" -reference . -lab "$cheat_lab" -only-lab -expect-zero-task "$cheat_task"
grep -q "submission: changed outside LAB regions: $probe (ignored" "$tmp/grade.log" ||
  { echo "labs check: grading the cheat against the reference did not name $probe" >&2; exit 1; }
rm -rf "$tmp/cheat"

echo
echo "== labs check: each task on its own stub"
printf '%s\n' "${summary[@]}"
echo "== labs check: timings"
printf '%s\n' "${timings[@]}"
printf '%5ds  total\n' "$SECONDS"
echo "labs check: reference 100%; handout builds; each of $ntasks tasks scores 0 on its own stub (graded by splicing its regions into the reference); all-stubbed handout 0; a probe edited to pass scores full in its own tree and 0 against the reference"
