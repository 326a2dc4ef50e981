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
	"01-calc/calc/calc_test.go": `package calc

import "testing"

func TestAdd(t *testing.T) {
	got, err := Add(2, 3)
	if err != nil || got != 5 {
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
		assert.Contains(t, strings.Join(rep.Labs[0].Tasks[0].Tests[0].Output, "\n"), "calc_test.go:8: Add(2, 3) = 0, LAB 01.1")
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
