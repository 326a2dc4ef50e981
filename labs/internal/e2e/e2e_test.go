package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/labs/internal/grade"
	"minibox/labs/internal/handout"
	"minibox/labs/internal/splice"
	"minibox/labs/internal/tasks"
)

const taskJSON = `{
  "labs": [
    {"id": "01", "dir": "01-calc", "title": "Calc",
     "tasks": [
       {"id": "01.1", "title": "Add", "points": 60,
        "tests": [{"package": "./01-calc/calc", "run": ["TestAdd"]}]},
       {"id": "01.2", "title": "Divide", "points": 40,
        "tests": [{"package": "./01-calc/calc", "run": ["TestDiv"]},
                  {"package": "./01-calc", "run": ["TestMain2"]}]}
     ]},
    {"id": "02", "dir": "02-twice", "title": "Twice",
     "tasks": [
       {"id": "02.1", "title": "Twice", "points": 10,
        "tests": [{"package": "./02-twice", "run": ["TestTwice"]}]}
     ]}
  ]
}
`

var files = map[string]string{
	"go.mod":          "module minibox\n\ngo 1.26\n",
	"labs/tasks.json": taskJSON,
	"01-calc/calc/calc.go": `// Package calc is a fake lesson.
package calc

import (
	"errors"
	"fmt"
)

// Add adds.
func Add(a, b int) (int, error) {
	// LAB 01.1 BEGIN: add two numbers
	return a + b, nil
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0, lab.Todo("01.1")
}

// Div divides.
func Div(a, b int) (int, error) {
	// LAB 01.2 BEGIN: divide, refusing zero
	if b == 0 {
		return 0, errors.New("divide by zero")
	}
	return a / b, nil
	// LAB 01.2 END
	// LAB 01.2 STUB: return 0, lab.Todo("01.2")
}

// Describe is not homework.
func Describe(a int) string { return fmt.Sprint(a) }
`,
	"internal/testkit/probe.go": `// Package testkit is the fake lesson's test helper: code outside the
// tests that the tests trust, like minibox's probes.
package testkit

// AddOK reports whether add adds.
func AddOK(add func(a, b int) (int, error)) bool {
	got, err := add(2, 3)
	return err == nil && got == 5
}
`,
	"01-calc/calc/calc_test.go": `package calc

import (
	"testing"

	"minibox/internal/testkit"
)

func TestAdd(t *testing.T) {
	got, err := Add(2, 3)
	if !testkit.AddOK(Add) {
		t.Fatalf("Add(2, 3) = %d, %v; want 5", got, err)
	}
}

func TestDiv(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		if got, err := Div(6, 3); err != nil || got != 2 {
			t.Fatalf("Div(6, 3) = %d, %v", got, err)
		}
	})
	t.Run("zero", func(t *testing.T) {
		if _, err := Div(1, 0); err == nil || err.Error() != "divide by zero" {
			t.Fatalf("Div(1, 0) error = %v", err)
		}
	})
}

func TestNotGraded(t *testing.T) { t.Fatal("the grader runs only the tests of tasks.json") }
`,
	"01-calc/main.go": `// Command calc is the fake lesson's tool.
package main

import (
	"fmt"

	"minibox/01-calc/calc"
)

func main() { fmt.Println(calc.Div(6, 3)) }
`,
	"01-calc/main_test.go": `package main

import (
	"testing"

	"minibox/01-calc/calc"
)

func TestMain2(t *testing.T) {
	if got, err := calc.Div(9, 3); err != nil || got != 3 {
		t.Fatalf("Div(9, 3) = %d, %v", got, err)
	}
}
`,
	"02-twice/twice.go": `// Package twice is the second fake lesson.
package twice

import "minibox/01-calc/calc"

// Twice doubles.
func Twice(a int) int {
	// LAB 02.1 BEGIN: use Add
	n, _ := calc.Add(a, a)
	return n
	// LAB 02.1 END
	// LAB 02.1 STUB: lab.Warn("02.1")
	// LAB 02.1 STUB: return 0
}
`,
	"02-twice/twice_test.go": `package twice

import (
	"os"
	"testing"
)

func TestTwice(t *testing.T) {
	if os.Getenv("MINIBOX_REQUIRE_ROOT") != "1" {
		t.Skip("the grader sets MINIBOX_REQUIRE_ROOT=1")
	}
	if got := Twice(4); got != 8 {
		t.Fatalf("Twice(4) = %d", got)
	}
}
`,
}

func fakeModule(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "ref")
	labGo, err := os.ReadFile(filepath.Join("..", "..", "lab", "lab.go"))
	require.NoError(t, err)
	all := map[string]string{"labs/lab/lab.go": string(labGo)}
	for k, v := range files {
		all[k] = v
	}
	for name, body := range all {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return root
}

func gradeIt(t *testing.T, repo, lab string) *grade.Report {
	t.Helper()
	tf, err := tasks.Load(repo)
	require.NoError(t, err)
	var log bytes.Buffer
	rep, err := grade.Run(context.Background(), tf, grade.Options{Repo: repo, Lab: lab, Run: grade.GoTest("go"), Log: &log})
	require.NoError(t, err, log.String())
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	t.Logf("grade %s (lab %q):\n%s", filepath.Base(repo), lab, text.String())
	return rep
}

// gradeSpliced grades sub's LAB regions spliced into a copy of clean, as
// grade -reference does.
func gradeSpliced(t *testing.T, clean, sub, lab string) (*grade.Report, *splice.Result) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "graded")
	res, err := splice.Splice(context.Background(), splice.Options{Clean: clean, Submission: sub, Out: dir})
	require.NoError(t, err)
	rep := gradeIt(t, dir, lab)
	t.Logf("splice notes: %q", res.Notes())
	return rep, res
}

// writeFile replaces one file of a tree.
func writeFile(t *testing.T, root, rel, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(root, filepath.FromSlash(rel)), []byte(body), 0o644))
}

// scores returns each task's points.
func scores(rep *grade.Report) map[string]int {
	out := map[string]int{}
	for _, l := range rep.Labs {
		for _, ts := range l.Tasks {
			out[ts.ID] = ts.Points
		}
	}
	return out
}

// solvedCalc is a student's 01-calc/calc/calc.go: the handout with both
// regions written (not as the reference wrote them), and the import Div
// needs, which the handout dropped with the solution.
const solvedCalc = `// Package calc is a fake lesson.
package calc

import (
	"errors"
	"fmt"
)

// Add adds.
func Add(a, b int) (int, error) {
	// LAB 01.1 BEGIN: add two numbers
	sum := b
	sum += a
	return sum, nil
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0, lab.Todo("01.1")
}

// Div divides.
func Div(a, b int) (int, error) {
	// LAB 01.2 BEGIN: divide, refusing zero
	if b == 0 {
		return 0, errors.New("divide by zero")
	}
	return a / b, nil
	// LAB 01.2 END
	// LAB 01.2 STUB: return 0, lab.Todo("01.2")
}

// Describe is not homework.
func Describe(a int) string { return fmt.Sprint(a) }
`

// TestGraderTakesOnlyTheRegions: graded against a clean tree, a submission
// counts only for what it wrote between BEGIN and END. A probe edited to
// pass, a test deleted, a region removed: none of it scores.
func TestGraderTakesOnlyTheRegions(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	ref := fakeModule(t)
	ctx := context.Background()
	handoutOf := func(t *testing.T) string {
		out := filepath.Join(t.TempDir(), "handout")
		_, err := handout.Generate(ctx, handout.Options{Repo: ref, Out: out})
		require.NoError(t, err)
		return out
	}
	const cheat = "package testkit\n\n// AddOK always passes.\nfunc AddOK(func(a, b int) (int, error)) bool { return true }\n"

	t.Run("an edited probe passes in the student's own tree, and scores 0 against the reference", func(t *testing.T) {
		sub := handoutOf(t)
		writeFile(t, sub, "internal/testkit/probe.go", cheat)

		// Graded as it is, the cheat works, but HANDOUT.sum names the file.
		tf, err := tasks.Load(sub)
		require.NoError(t, err)
		own, err := grade.Run(ctx, tf, grade.Options{Repo: sub, Lab: "01", Run: grade.GoTest("go")})
		require.NoError(t, err)
		assert.Equal(t, 60, scores(own)["01.1"], "the hole the splice closes")

		for _, clean := range []string{ref, handoutOf(t)} {
			rep, res := gradeSpliced(t, clean, sub, "01")
			assert.Equal(t, map[string]int{"01.1": 0, "01.2": 0}, scores(rep))
			assert.Equal(t, []string{"internal/testkit/probe.go"}, res.Outside.Changed)
			assert.Empty(t, res.Outside.Added)
			assert.Empty(t, res.Outside.Removed)
			assert.Contains(t, strings.Join(res.Notes(), "\n"),
				"submission: changed outside LAB regions: internal/testkit/probe.go (ignored: graded with the clean copies)")
		}
	})

	t.Run("a submission that only wrote its regions grades as it would alone", func(t *testing.T) {
		sub := handoutOf(t)
		writeFile(t, sub, "01-calc/calc/calc.go", solvedCalc)
		rep, res := gradeSpliced(t, ref, sub, "")
		assert.Equal(t, map[string]int{"01.1": 60, "01.2": 40, "02.1": 0}, scores(rep), "02.1 is still its stub")
		assert.True(t, res.Outside.Empty(), "imports are not changes outside the regions: %v", res.Outside.Lines())
		assert.Empty(t, res.Stubbed)
		assert.Len(t, res.Taken, 3)
	})

	t.Run("edited tests, task list and new files are ignored", func(t *testing.T) {
		sub := handoutOf(t)
		writeFile(t, sub, "01-calc/calc/calc_test.go", "package calc\n\nimport \"testing\"\n\nfunc TestAdd(*testing.T) {}\n\nfunc TestDiv(*testing.T) {}\n")
		writeFile(t, sub, "labs/tasks.json", strings.ReplaceAll(taskJSON, `"points": 60`, `"points": 600`))
		writeFile(t, sub, "01-calc/calc/extra.go", "package calc\n")
		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, map[string]int{"01.1": 0, "01.2": 0}, scores(rep))
		assert.Equal(t, 100, rep.MaxPoints, "the reference's task list")
		assert.Equal(t, []string{"01-calc/calc/calc_test.go", "labs/tasks.json"}, res.Outside.Changed)
		assert.Equal(t, []string{"01-calc/calc/extra.go"}, res.Outside.Added)
	})

	t.Run("a region without its markers is graded as its stub, not as the reference", func(t *testing.T) {
		sub := handoutOf(t)
		noMarkers := strings.Replace(solvedCalc, "\t// LAB 01.2 BEGIN: divide, refusing zero\n", "", 1)
		noMarkers = strings.Replace(noMarkers, "\t// LAB 01.2 END\n\t// LAB 01.2 STUB: return 0, lab.Todo(\"01.2\")\n", "", 1)
		writeFile(t, sub, "01-calc/calc/calc.go", noMarkers)
		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, map[string]int{"01.1": 60, "01.2": 0}, scores(rep))
		require.Len(t, res.Stubbed, 1)
		assert.Contains(t, res.Stubbed[0], "01.2 01-calc/calc/calc.go:")
		assert.Equal(t, []string{"01-calc/calc/calc.go"}, res.Outside.Changed, "the markers are outside the bodies")
	})

	t.Run("a region may not import the test helpers", func(t *testing.T) {
		sub := handoutOf(t)
		sneaky := strings.Replace(solvedCalc, "\t\"fmt\"\n", "\t\"fmt\"\n\n\t\"minibox/internal/testkit\"\n", 1)
		sneaky = strings.Replace(sneaky, "\tsum := b\n", "\t_ = testkit.AddOK\n\tsum := b\n", 1)
		writeFile(t, sub, "01-calc/calc/calc.go", sneaky)
		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, 0, scores(rep)["01.1"], "the package does not build without the import")
		assert.Equal(t, []string{`01-calc/calc/calc.go: "minibox/internal/testkit"`}, res.Refused)
	})
}

// TestGraderKeepsBodiesInTheirFunctions: the attacks a region body or a
// submission file can make on the splice itself score 0 against the
// reference, and the notes say why.
func TestGraderKeepsBodiesInTheirFunctions(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	ref := fakeModule(t)
	ctx := context.Background()
	handoutOf := func(t *testing.T) string {
		out := filepath.Join(t.TempDir(), "handout")
		_, err := handout.Generate(ctx, handout.Options{Repo: ref, Out: out})
		require.NoError(t, err)
		return out
	}
	// withAdd is the handout's calc.go with body as 01.1's region.
	withAdd := func(t *testing.T, sub, body string) {
		b, err := os.ReadFile(filepath.Join(sub, "01-calc/calc/calc.go"))
		require.NoError(t, err)
		src := strings.Replace(string(b), "\treturn 0, lab.Todo(\"01.1\")\n\t// LAB 01.1 END", body+"\n\t// LAB 01.1 END", 1)
		require.NotEqual(t, string(b), src)
		writeFile(t, sub, "01-calc/calc/calc.go", src)
	}
	notes := func(res *splice.Result) string { return strings.Join(res.Notes(), "\n") }

	t.Run("a body that closes its function and adds an init that fakes the test output", func(t *testing.T) {
		sub := handoutOf(t)
		// Still the stub, then a top-level init() that prints test2json's
		// framing of a pass for every test asked for and exits 0 (the
		// cheat of labs/check.sh), then a function that takes the rest of
		// Add. It needs fmt, os and strings: the submission imports them.
		withAdd(t, sub, `	return 0, lab.Todo("01.1")
}

func init() {
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

func pad() {`)
		b, err := os.ReadFile(filepath.Join(sub, "01-calc/calc/calc.go"))
		require.NoError(t, err)
		writeFile(t, sub, "01-calc/calc/calc.go", strings.Replace(string(b), "import (\n", "import (\n\t\"os\"\n\t\"strings\"\n", 1))

		// The hole: graded as it is, the stub scores.
		tf, err := tasks.Load(sub)
		require.NoError(t, err)
		own, err := grade.Run(ctx, tf, grade.Options{Repo: sub, Lab: "01", OnlyLab: true, Run: grade.GoTest("go")})
		require.NoError(t, err)
		assert.Equal(t, 60, scores(own)["01.1"], "the escape works in the student's own tree")

		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, 0, scores(rep)["01.1"])
		assert.Equal(t, 0, scores(rep)["01.2"], "01.2 is still the handout's stub")
		require.Len(t, res.Stubbed, 1)
		assert.Contains(t, res.Stubbed[0], "01.1 01-calc/calc/calc.go:")
		assert.Contains(t, res.Stubbed[0], "its body is refused: it changes the file's top-level declarations (func init where the clean file has func Div)")
		assert.Contains(t, notes(res), "(graded as its stub)")
	})

	t.Run("a body that closes its function and reopens one of the same name", func(t *testing.T) {
		sub := handoutOf(t)
		// Add's declarations stay as they were in number and name only if
		// the body swaps Add for a new Add: the END marker then lies in
		// another function.
		withAdd(t, sub, `	return a + b, nil
}

// Add adds.
func Add(a, b int) (int, error) {`)
		_, res := gradeSpliced(t, ref, sub, "01")
		require.Len(t, res.Stubbed, 1)
		assert.Contains(t, res.Stubbed[0], "its body is refused:")
	})

	t.Run("a //go:linkname body", func(t *testing.T) {
		sub := handoutOf(t)
		// linkname reaches an unexported symbol of any package past the
		// import filter (here testkit's, which a region may not import).
		withAdd(t, sub, `	//go:linkname addOK minibox/internal/testkit.AddOK
	return a + b, nil`)
		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, 0, scores(rep)["01.1"])
		require.Len(t, res.Stubbed, 1)
		assert.Contains(t, res.Stubbed[0], `its body holds a compiler directive, "//go:linkname addOK minibox/internal/testkit.AddOK"`)
	})

	t.Run("unsafe, C and embed are refused imports", func(t *testing.T) {
		sub := handoutOf(t)
		withAdd(t, sub, "\t_ = unsafe.Sizeof(a)\n\treturn a + b, nil")
		b, err := os.ReadFile(filepath.Join(sub, "01-calc/calc/calc.go"))
		require.NoError(t, err)
		writeFile(t, sub, "01-calc/calc/calc.go", strings.Replace(string(b), "import (\n", "import (\n\t\"embed\"\n\t\"unsafe\"\n", 1))
		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, 0, scores(rep)["01.1"], "without unsafe the body does not build")
		assert.Equal(t, []string{`01-calc/calc/calc.go: "embed"`, `01-calc/calc/calc.go: "unsafe"`}, res.Refused)
	})

	t.Run("a submission file that is a symlink to the reference is not read", func(t *testing.T) {
		sub := handoutOf(t)
		p := filepath.Join(sub, "01-calc/calc/calc.go")
		require.NoError(t, os.Remove(p))
		require.NoError(t, os.Symlink(filepath.Join(ref, "01-calc/calc/calc.go"), p))
		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, map[string]int{"01.1": 0, "01.2": 0}, scores(rep))
		require.Len(t, res.Stubbed, 2)
		assert.Contains(t, res.Stubbed[0], "01.1 01-calc/calc/calc.go:")
		assert.Contains(t, res.Stubbed[0], "the submission's file is not read: a symbolic link (or under one)")
		assert.Contains(t, notes(res), "submission: file not read: 01-calc/calc/calc.go: a symbolic link (or under one) (its regions graded as their stubs)")
		assert.Contains(t, notes(res), "submission: changed outside LAB regions: 01-calc/calc/calc.go (ignored: graded with the clean copies)")
	})

	t.Run("a submission directory that is a symlink to the reference's is not read", func(t *testing.T) {
		sub := handoutOf(t)
		p := filepath.Join(sub, "01-calc/calc")
		require.NoError(t, os.RemoveAll(p))
		require.NoError(t, os.Symlink(filepath.Join(ref, "01-calc/calc"), p))
		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, map[string]int{"01.1": 0, "01.2": 0}, scores(rep))
		require.Len(t, res.Stubbed, 2)
		assert.Contains(t, res.Stubbed[0], "a symbolic link (or under one)")
	})

	t.Run("a FIFO is not read, and does not block", func(t *testing.T) {
		sub := handoutOf(t)
		p := filepath.Join(sub, "01-calc/calc/calc.go")
		require.NoError(t, os.Remove(p))
		require.NoError(t, syscallMkfifo(p))
		_, res := gradeSpliced(t, ref, sub, "01")
		require.Len(t, res.Stubbed, 2)
		assert.Contains(t, res.Stubbed[0], "the submission's file is not read: a named pipe")
	})

	t.Run("a body that mentions what could fake the output is flagged for the teacher", func(t *testing.T) {
		sub := handoutOf(t)
		withAdd(t, sub, "\tif a < 0 {\n\t\tsyscall.Exit(0)\n\t}\n\treturn a + b, nil")
		b, err := os.ReadFile(filepath.Join(sub, "01-calc/calc/calc.go"))
		require.NoError(t, err)
		writeFile(t, sub, "01-calc/calc/calc.go", strings.Replace(string(b), "import (\n", "import (\n\t\"syscall\"\n", 1))
		rep, res := gradeSpliced(t, ref, sub, "01")
		assert.Equal(t, 60, scores(rep)["01.1"], "flagged, not refused")
		require.Len(t, res.Flagged, 1)
		assert.Contains(t, res.Flagged[0], "01.1 01-calc/calc/calc.go:")
		assert.Contains(t, res.Flagged[0], "mentions Exit(")
		assert.Contains(t, notes(res), "submission: read region 01.1")
	})
}

func TestHandoutAndGrade(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	ref := fakeModule(t)
	ctx := context.Background()

	t.Run("the reference scores full points", func(t *testing.T) {
		rep := gradeIt(t, ref, "")
		require.NoError(t, rep.ExpectFull())
		assert.Equal(t, 110, rep.Points)
	})

	t.Run("the handout of every lab builds and scores zero", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "handout")
		var log bytes.Buffer
		res, err := handout.Generate(ctx, handout.Options{Repo: ref, Out: out, Verify: true, Log: &log})
		require.NoError(t, err, log.String())
		assert.Len(t, res.Replaced, 3)
		assert.Contains(t, log.String(), "verify: go vet ./...: ok")

		for _, lab := range []string{"01", "02"} {
			rep := gradeIt(t, out, lab)
			require.NoError(t, rep.ExpectZero(lab))
			assert.Equal(t, 0, rep.Points)
		}
		// The stub's failure names the task.
		rep := gradeIt(t, out, "01")
		assert.Contains(t, strings.Join(rep.Labs[0].Tasks[0].Tests[0].Output, "\n"), "calc_test.go:12: Add(2, 3) = 0, LAB 01.1")
	})

	t.Run("each task scores 0 on its own stub", func(t *testing.T) {
		for _, tc := range []struct {
			task   string
			lab    string
			others map[string]int // the other tasks of the lab: solved, so full points
		}{
			{"01.1", "01", map[string]int{"01.2": 40}},
			{"01.2", "01", map[string]int{"01.1": 60}},
			{"02.1", "02", nil},
		} {
			out := filepath.Join(t.TempDir(), "handout")
			var log bytes.Buffer
			res, err := handout.Generate(ctx, handout.Options{Repo: ref, Out: out, Only: []string{tc.task}, Verify: true, Log: &log})
			require.NoError(t, err, log.String())
			assert.Equal(t, []string{tc.task}, res.Tasks)

			tf, err := tasks.Load(out)
			require.NoError(t, err)
			rep, err := grade.Run(ctx, tf, grade.Options{Repo: out, Lab: tc.lab, OnlyLab: true, Run: grade.GoTest("go")})
			require.NoError(t, err)
			require.Len(t, rep.Labs, 1, "only lab %s is graded", tc.lab)
			require.NoError(t, rep.ExpectZeroTask(tc.task))
			for _, ts := range rep.Labs[0].Tasks {
				if ts.ID != tc.task {
					assert.Equal(t, tc.others[ts.ID], ts.Points, "%s with only %s stubbed", ts.ID, tc.task)
				}
			}
		}
	})

	t.Run("a handout from lab 02 keeps lab 01 solved", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "handout")
		_, err := handout.Generate(ctx, handout.Options{Repo: ref, Out: out, From: "02", Verify: true})
		require.NoError(t, err)
		rep := gradeIt(t, out, "02")
		require.Len(t, rep.Labs, 2)
		assert.Equal(t, 100, rep.Labs[0].Points, "lab 01 is solved")
		require.NoError(t, rep.ExpectZero("02"))
	})
}
