package grade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/labs/internal/tasks"
)

const gradeTasks = `{"labs": [
 {"id": "01", "dir": "01-a", "title": "A", "tasks": [
   {"id": "01.1", "title": "one", "points": 25, "tests": [{"package": "./01-a", "run": ["TestPass"]}, {"package": "./01-a/x", "run": ["TestX"]}]},
   {"id": "01.2", "title": "two", "points": 25, "tests": [{"package": "./01-a", "run": ["TestPass", "TestFail"]}]},
   {"id": "01.3", "title": "three", "points": 50, "tests": [{"package": "./01-a", "run": ["TestSkip"]}]}]},
 {"id": "02", "dir": "02-b", "title": "B", "tasks": [
   {"id": "02.1", "title": "four", "points": 10, "tests": [{"package": "./02-b", "run": ["TestGone"]}]}]}
]}`

// fakeRunner answers each package with a canned stream and records calls.
type fakeRunner struct {
	streams map[string]string
	calls   []string
}

func (f *fakeRunner) run(_ context.Context, dir, pkg string, tests []string, timeout time.Duration) ([]byte, []byte, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s %s %s %s", dir, pkg, RunPattern(tests), timeout))
	s, ok := f.streams[pkg]
	if !ok {
		return nil, []byte("no such package " + pkg + "\n"), nil
	}
	return []byte(s), nil, nil
}

func event(pkg, test, action, output string) string {
	b, _ := json.Marshal(Event{Action: action, Package: pkg, Test: test, Output: output})
	return string(b) + "\n"
}

func newFake() *fakeRunner {
	return &fakeRunner{streams: map[string]string{
		"./01-a": event("m/01-a", "TestPass", "pass", "") +
			event("m/01-a", "TestFail", "output", "    a_test.go:9: got 2\n") +
			event("m/01-a", "TestFail", "fail", "") +
			event("m/01-a", "TestSkip", "output", "    a_test.go:12: needs root\n") +
			event("m/01-a", "TestSkip", "skip", ""),
		"./01-a/x": event("m/01-a/x", "TestX", "pass", "") + event("m/01-a/x", "", "output", "testing: warning: no tests to run\n"),
		"./02-b": `{"ImportPath":"m/02-b","Action":"build-output","Output":"02-b/b.go:3:1: syntax error\n"}` + "\n" +
			event("m/02-b", "", "fail", ""),
	}}
}

func loadTasks(t *testing.T) *tasks.File {
	t.Helper()
	tf, err := tasks.Parse([]byte(gradeTasks))
	require.NoError(t, err)
	return tf
}

func TestRun(t *testing.T) {
	tf := loadTasks(t)
	fake := newFake()
	rep, err := Run(context.Background(), tf, Options{Repo: "/repo", Timeout: time.Minute, Run: fake.run})
	require.NoError(t, err)

	// One run per package, in order of first use, each test once.
	assert.Equal(t, []string{
		"/repo ./01-a ^(TestPass|TestFail|TestSkip)$ 1m0s",
		"/repo ./01-a/x ^(TestX)$ 1m0s",
		"/repo ./02-b ^(TestGone)$ 1m0s",
	}, fake.calls)

	require.Len(t, rep.Labs, 2)
	a := rep.Labs[0].Tasks
	assert.Equal(t, 25, a[0].Points, "01.1: both tests pass")
	assert.Equal(t, [2]int{2, 2}, [2]int{a[0].Passed, a[0].Total})
	assert.Equal(t, 0, a[1].Points, "01.2: one test fails")
	assert.Equal(t, [2]int{1, 2}, [2]int{a[1].Passed, a[1].Total})
	assert.Equal(t, []string{"    a_test.go:9: got 2"}, a[1].Tests[1].Output)
	assert.Empty(t, a[1].Tests[0].Output, "a passing test keeps no output")
	assert.Equal(t, 0, a[2].Points, "01.3: a skip is a fail")
	assert.Equal(t, Skip, a[2].Tests[0].Result)
	b := rep.Labs[1].Tasks[0]
	assert.Equal(t, Missing, b.Tests[0].Result, "02.1: build failed")
	assert.Contains(t, b.Tests[0].Output, "02-b/b.go:3:1: syntax error")
	assert.Equal(t, "go test -count=1 -run '^(TestPass)$' ./01-a && go test -count=1 -run '^(TestX)$' ./01-a/x", a[0].TestCode)

	assert.Equal(t, 25, rep.Points)
	assert.Equal(t, 110, rep.MaxPoints)
	assert.Equal(t, 22, rep.Percent())
}

func TestRunSelectsLabs(t *testing.T) {
	tf := loadTasks(t)
	fake := newFake()
	rep, err := Run(context.Background(), tf, Options{Lab: "01", Run: fake.run})
	require.NoError(t, err)
	assert.Len(t, rep.Labs, 1)
	assert.Len(t, fake.calls, 2)
	assert.Contains(t, fake.calls[0], DefaultTimeout.String())

	_, err = Run(context.Background(), tf, Options{Lab: "09", Run: fake.run})
	assert.ErrorContains(t, err, `no lab "09"`)
}

func TestRunOnlyLab(t *testing.T) {
	tf := loadTasks(t)
	fake := newFake()
	rep, err := Run(context.Background(), tf, Options{Lab: "02", OnlyLab: true, Run: fake.run})
	require.NoError(t, err)
	require.Len(t, rep.Labs, 1, "lab 01 is not graded")
	assert.Equal(t, "02", rep.Labs[0].ID)
	assert.True(t, rep.OnlyLab)
	require.Len(t, fake.calls, 1, "only lab 02's package runs")
	assert.Contains(t, fake.calls[0], "./02-b ^(TestGone)$")
	assert.Equal(t, 10, rep.MaxPoints)

	rep, err = Run(context.Background(), tf, Options{Lab: "01", OnlyLab: true, Run: newFake().run})
	require.NoError(t, err)
	require.Len(t, rep.Labs, 1)
	assert.Equal(t, "01", rep.Labs[0].ID)

	_, err = Run(context.Background(), tf, Options{OnlyLab: true, Run: newFake().run})
	assert.ErrorContains(t, err, "OnlyLab needs Lab")
	_, err = Run(context.Background(), tf, Options{Lab: "09", OnlyLab: true, Run: newFake().run})
	assert.ErrorContains(t, err, `no lab "09"`)
}

func TestExpectZeroTask(t *testing.T) {
	tf := loadTasks(t)
	all, err := Run(context.Background(), tf, Options{Run: newFake().run})
	require.NoError(t, err)
	only02, err := Run(context.Background(), tf, Options{Lab: "02", OnlyLab: true, Run: newFake().run})
	require.NoError(t, err)

	for _, tc := range []struct {
		rep  *Report
		task string
		err  string // "" means the expectation holds
	}{
		{all, "01.1", "expected 0 points for task 01.1 on its stub, but it scores 25/25: its tests (2/2 passed) do not notice"},
		{all, "01.2", ""}, // one of its two tests passes: no points, as expected
		{all, "01.3", ""}, // skipped
		{all, "02.1", ""}, // missing
		{all, "07.1", "task 07.1 was not graded"},
		{only02, "02.1", ""},
		{only02, "01.2", "task 01.2 was not graded"},
	} {
		err := tc.rep.ExpectZeroTask(tc.task)
		if tc.err == "" {
			assert.NoError(t, err, tc.task)
		} else {
			assert.ErrorContains(t, err, tc.err, tc.task)
		}
	}
	// The other tasks' scores are only reported.
	assert.Equal(t, []string{"01.1 25/25", "01.3 0/50", "02.1 0/10"}, all.Others("01.2"))
	assert.Empty(t, only02.Others("02.1"))
}

func TestRunTestNotFound(t *testing.T) {
	tf, err := tasks.Parse([]byte(`{"labs": [{"id": "01", "dir": "01-a", "title": "A", "tasks": [
		{"id": "01.1", "title": "one", "points": 1, "tests": [{"package": "./01-a", "run": ["TestTypo"]}]}]}]}`))
	require.NoError(t, err)
	fake := &fakeRunner{streams: map[string]string{
		"./01-a": event("m/01-a", "", "output", "testing: warning: no tests to run\n") +
			event("m/01-a", "", "output", "PASS\n") + event("m/01-a", "", "pass", ""),
	}}
	rep, err := Run(context.Background(), tf, Options{Run: fake.run})
	require.NoError(t, err)
	ts := rep.Labs[0].Tasks[0].Tests[0]
	assert.Equal(t, Missing, ts.Result)
	assert.Equal(t, []string{
		"no test by this name ran in the package: is its name in labs/tasks.json right?",
		"testing: warning: no tests to run", "PASS",
	}, ts.Output)
}

func TestRunGoCannotRun(t *testing.T) {
	tf := loadTasks(t)
	broken := func(context.Context, string, string, []string, time.Duration) ([]byte, []byte, error) {
		return nil, nil, errors.New("exec: \"go\": executable file not found in $PATH")
	}
	_, err := Run(context.Background(), tf, Options{Run: broken})
	assert.ErrorContains(t, err, "executable file not found")
}

func TestExpect(t *testing.T) {
	tf := loadTasks(t)
	rep, err := Run(context.Background(), tf, Options{Run: newFake().run})
	require.NoError(t, err)

	assert.ErrorContains(t, rep.ExpectFull(), "01.2 (0/25), 01.3 (0/50), 02.1 (0/10)")
	assert.NoError(t, rep.ExpectZero("02"))
	assert.ErrorContains(t, rep.ExpectZero("01"), "01.1 (25/25)")
	assert.ErrorContains(t, rep.ExpectZero("07"), "lab 07 was not graded")

	allPass := &fakeRunner{streams: map[string]string{
		"./01-a":   event("", "TestPass", "pass", "") + event("", "TestFail", "pass", "") + event("", "TestSkip", "pass", ""),
		"./01-a/x": event("", "TestX", "pass", ""),
	}}
	rep, err = Run(context.Background(), tf, Options{Lab: "01", Run: allPass.run})
	require.NoError(t, err)
	assert.NoError(t, rep.ExpectFull())
	assert.Equal(t, 100, rep.Percent())
}

func TestWriteText(t *testing.T) {
	tf := loadTasks(t)
	rep, err := Run(context.Background(), tf, Options{Run: newFake().run})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	out := buf.String()
	for _, want := range []string{
		"LAB  TASK  TITLE  TESTS  POINTS  RESULT\n",
		"01   01.1  one    2/2    25/25   ok",
		"01   01.2  two    1/2    0/25    FAIL",
		"lab 01 A: 25/100 points",
		"total: 25/110 points (22%)",
		"  TestFail (./01-a): failed\n    |     a_test.go:9: got 2\n",
		"  TestSkip (./01-a): skipped (counts as failed)",
		"  TestGone (./02-b): did not report a result",
		"    | 02-b/b.go:3:1: syntax error",
		"run the grader with sudo",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "TestPass (", "passing tests are not listed")
}

func TestWriteTextCapsLines(t *testing.T) {
	var lines []string
	for i := 0; i < 30; i++ {
		lines = append(lines, fmt.Sprintf("line %d", i))
	}
	rep := &Report{Labs: []LabScore{{ID: "01", Tasks: []TaskScore{{ID: "01.1", MaxPoints: 1, Total: 1,
		Tests: []TestScore{{Package: "./p", Name: "TestA", Result: Fail, Output: lines, Omitted: 5}}}}}}, MaxPoints: 1}
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	assert.Contains(t, buf.String(), fmt.Sprintf("| line %d\n", ShownLines-1))
	assert.NotContains(t, buf.String(), fmt.Sprintf("| line %d\n", ShownLines))
	assert.Contains(t, buf.String(), fmt.Sprintf("... %d more lines: go test -count=1 -run '^(TestA)$' ./p", 30-ShownLines+5))
	assert.Contains(t, buf.String(), "total: 0/1 points (0%)")
}

func TestJSON(t *testing.T) {
	tf := loadTasks(t)
	rep, err := Run(context.Background(), tf, Options{Run: newFake().run})
	require.NoError(t, err)
	b, err := rep.JSON()
	require.NoError(t, err)

	var got struct {
		Version  int    `json:"version"`
		Status   string `json:"status"`
		MaxScore int    `json:"max_score"`
		Total    int    `json:"total"`
		Tests    []struct {
			Name          string `json:"name"`
			Status        string `json:"status"`
			Score         int    `json:"score"`
			MaxScore      int    `json:"max_score"`
			Message       string `json:"message"`
			TestCode      string `json:"test_code"`
			Filename      string `json:"filename"`
			LineNo        int    `json:"line_no"`
			ExecutionTime string `json:"execution_time"`
		} `json:"tests"`
		Labs []LabScore `json:"labs"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, 1, got.Version)
	assert.Equal(t, "fail", got.Status)
	assert.Equal(t, 110, got.MaxScore)
	assert.Equal(t, 25, got.Total)
	require.Len(t, got.Tests, 4)
	assert.Equal(t, "01.1 one", got.Tests[0].Name)
	assert.Equal(t, "pass", got.Tests[0].Status)
	assert.Equal(t, 25, got.Tests[0].Score)
	assert.Empty(t, got.Tests[0].Message)
	assert.Equal(t, "0.0s", got.Tests[0].ExecutionTime)
	assert.Equal(t, "fail", got.Tests[1].Status)
	assert.Equal(t, 0, got.Tests[1].Score)
	assert.Equal(t, 25, got.Tests[1].MaxScore)
	assert.True(t, strings.HasPrefix(got.Tests[1].Message, "1 of 2 tests passed\nTestFail (./01-a): failed\n      a_test.go:9: got 2"), got.Tests[1].Message)
	assert.Len(t, got.Labs, 2)

	// All pass: status pass.
	c := (&Report{Labs: []LabScore{{ID: "01", Tasks: []TaskScore{{ID: "01.1", Points: 5, MaxPoints: 5}}}}, Points: 5, MaxPoints: 5}).Classroom()
	assert.Equal(t, "pass", c.Status)
}

func TestRunPattern(t *testing.T) {
	assert.Equal(t, "^(TestA|TestB)$", RunPattern([]string{"TestA", "TestB"}))
}
