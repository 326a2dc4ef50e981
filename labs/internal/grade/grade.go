// Package grade scores homework: it runs the Go tests that labs/tasks.json
// ties to each task and gives a task its points only when every one of its
// tests ran and passed. The command labs/cmd/grade is a thin wrapper; the
// logic lives here so that it is tested on canned `go test -json` streams
// and, end to end, on a fake module.
package grade

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"minibox/labs/internal/tasks"
)

// DefaultTimeout is the -timeout given to each go test run.
const DefaultTimeout = 10 * time.Minute

// RequireRootEnv is set to 1 for the tests, so that a test that needs root
// fails instead of skipping when it does not have it.
const RequireRootEnv = "MINIBOX_REQUIRE_ROOT"

// Runner runs `go test -json` for the given top-level tests of one package
// in dir and returns its standard output and error. It returns an error
// only when the go command could not run at all; failing tests, a failed
// build or a timeout are results, not errors.
type Runner func(ctx context.Context, dir, pkg string, tests []string, timeout time.Duration) (stdout, stderr []byte, err error)

// Options says what to grade.
type Options struct {
	Repo    string        // the module root holding labs/tasks.json; "" means "."
	Lab     string        // grade this lab and every earlier one; "" means all labs
	OnlyLab bool          // grade only Lab, not the earlier labs (needs Lab)
	Timeout time.Duration // go test -timeout per package; 0 means DefaultTimeout
	Run     Runner        // nil means GoTest("go")
	Log     io.Writer     // progress lines; nil discards them
}

// Report is the outcome of grading.
type Report struct {
	Lab       string     `json:"lab,omitempty"`      // the lab asked for; "" means all
	OnlyLab   bool       `json:"only_lab,omitempty"` // only Lab was graded, not the earlier labs
	Labs      []LabScore `json:"labs"`
	Points    int        `json:"points"`
	MaxPoints int        `json:"max_points"`
	// Notes say what the grader saw of the submission besides the tests:
	// files changed outside the LAB regions, regions graded as stubs.
	Notes []string `json:"notes,omitempty"`
}

// LabScore is one lab's score.
type LabScore struct {
	ID        string      `json:"id"`
	Title     string      `json:"title"`
	Tasks     []TaskScore `json:"tasks"`
	Points    int         `json:"points"`
	MaxPoints int         `json:"max_points"`
}

// TaskScore is one task's score: all its points or none.
type TaskScore struct {
	ID        string        `json:"id"`
	Title     string        `json:"title"`
	Points    int           `json:"points"`
	MaxPoints int           `json:"max_points"`
	Passed    int           `json:"passed"`
	Total     int           `json:"total"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	Tests     []TestScore   `json:"tests"`
	TestCode  string        `json:"test_code"` // the go test commands that check it
}

// TestScore is one test of a task.
type TestScore struct {
	Package string        `json:"package"`
	Name    string        `json:"name"`
	Result  string        `json:"result"` // Pass, Fail, Skip or Missing
	Elapsed time.Duration `json:"elapsed_ns"`
	Output  []string      `json:"output,omitempty"` // only for tests that did not pass
	Omitted int           `json:"omitted,omitempty"`
}

// Full reports whether the task scored all its points.
func (t *TaskScore) Full() bool { return t.Points == t.MaxPoints }

// Run grades the labs that opts selects: it runs one go test per package,
// one package after another (tests use kernel resources), and scores each
// task. It fails only when the task list is wrong or go cannot run.
func Run(ctx context.Context, tf *tasks.File, opts Options) (*Report, error) {
	if opts.Repo == "" {
		opts.Repo = "."
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Run == nil {
		opts.Run = GoTest("go")
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	labs, err := tf.UpTo(opts.Lab)
	if err != nil {
		return nil, err
	}
	if opts.OnlyLab {
		if opts.Lab == "" {
			return nil, errors.New("grade only one lab: which one? (OnlyLab needs Lab)")
		}
		labs = labs[len(labs)-1:] // UpTo ends with Lab itself
	}

	// One go test per package, covering every test of the selected tasks.
	var pkgs []string
	names := map[string][]string{}
	for _, l := range labs {
		for _, t := range l.Tasks {
			for _, ts := range t.Tests {
				if _, ok := names[ts.Package]; !ok {
					pkgs = append(pkgs, ts.Package)
				}
				for _, n := range ts.Run {
					if !contains(names[ts.Package], n) {
						names[ts.Package] = append(names[ts.Package], n)
					}
				}
			}
		}
	}
	results := map[string]*Stream{}
	pkgOutput := map[string][]string{}
	for _, pkg := range pkgs {
		fmt.Fprintf(opts.Log, "grade: go test %s -run '%s'\n", pkg, RunPattern(names[pkg]))
		start := time.Now()
		stdout, stderr, err := opts.Run(ctx, opts.Repo, pkg, names[pkg], opts.Timeout)
		if err != nil {
			return nil, fmt.Errorf("run go test %s: %w", pkg, err)
		}
		s, err := ParseEvents(bytes.NewReader(stdout))
		if err != nil {
			return nil, fmt.Errorf("read go test -json output of %s: %w", pkg, err)
		}
		results[pkg] = s
		errLines, errOmitted := splitLines(string(stderr))
		pkgOutput[pkg], _ = capLines(append(append([]string{}, s.Output...), errLines...), s.Omitted+errOmitted)
		var counts [4]int
		for _, n := range names[pkg] {
			counts[resultIndex(s.Result(n).Result)]++
		}
		fmt.Fprintf(opts.Log, "grade:   %d passed, %d failed, %d skipped, %d missing (%s)\n",
			counts[0], counts[1], counts[2], counts[3], time.Since(start).Round(100*time.Millisecond))
	}

	rep := &Report{Lab: opts.Lab, OnlyLab: opts.OnlyLab}
	for _, l := range labs {
		ls := LabScore{ID: l.ID, Title: l.Title}
		for _, t := range l.Tasks {
			ts := TaskScore{ID: t.ID, Title: t.Title, MaxPoints: t.Points}
			var code []string
			for _, tt := range t.Tests {
				s := results[tt.Package]
				code = append(code, fmt.Sprintf("go test -count=1 -run '%s' %s", RunPattern(tt.Run), tt.Package))
				for _, n := range tt.Run {
					r := s.Result(n)
					sc := TestScore{Package: tt.Package, Name: n, Result: r.Result, Elapsed: r.Elapsed}
					if r.Result != Pass {
						sc.Output, sc.Omitted = r.Output, r.Omitted
						if r.Result == Missing {
							// Why it never reported: build errors, a panic, a timeout.
							why := append(append([]string{}, r.Output...), pkgOutput[tt.Package]...)
							if !s.Failed && len(r.Output) == 0 {
								why = append([]string{"no test by this name ran in the package: is its name in labs/tasks.json right?"}, why...)
							}
							sc.Output, sc.Omitted = capLines(why, r.Omitted)
						}
					} else {
						ts.Passed++
					}
					ts.Total++
					ts.Elapsed += r.Elapsed
					ts.Tests = append(ts.Tests, sc)
				}
			}
			ts.TestCode = strings.Join(code, " && ")
			if ts.Passed == ts.Total {
				ts.Points = t.Points
			}
			ls.Tasks = append(ls.Tasks, ts)
			ls.Points += ts.Points
			ls.MaxPoints += ts.MaxPoints
		}
		rep.Labs = append(rep.Labs, ls)
		rep.Points += ls.Points
		rep.MaxPoints += ls.MaxPoints
	}
	return rep, nil
}

// capLines keeps MaxOutputLines lines and adds the rest to omitted.
func capLines(lines []string, omitted int) ([]string, int) {
	if len(lines) > MaxOutputLines {
		return lines[:MaxOutputLines], omitted + len(lines) - MaxOutputLines
	}
	return lines, omitted
}

func resultIndex(r string) int {
	switch r {
	case Pass:
		return 0
	case Fail:
		return 1
	case Skip:
		return 2
	}
	return 3
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// RunPattern is the -run pattern that selects exactly the named top-level
// tests (and all their subtests).
func RunPattern(tests []string) string {
	q := make([]string, len(tests))
	for i, t := range tests {
		q[i] = regexp.QuoteMeta(t)
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

// GoTest returns the Runner that runs the real go command:
//
//	go test -json -count=1 -timeout T -run '^(TestA|TestB)$' PKG
//
// with MINIBOX_REQUIRE_ROOT=1 added to the environment. A watchdog kills
// the whole process group if the run outlives the timeout by five minutes
// (a hung build or a test binary that ignores its timeout).
func GoTest(goCmd string) Runner {
	return func(ctx context.Context, dir, pkg string, tests []string, timeout time.Duration) ([]byte, []byte, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goCmd, "test", "-json", "-count=1", "-timeout", timeout.String(),
			"-run", RunPattern(tests), pkg)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), RequireRootEnv+"=1")
		setProcessGroup(cmd)
		cmd.WaitDelay = 10 * time.Second
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
		case ctx.Err() != nil:
			fmt.Fprintf(&stderr, "grade: go test %s was stopped: %v\n", pkg, ctx.Err())
		case errors.As(err, &exit):
			// Failing tests: the JSON says which.
		default:
			return stdout.Bytes(), stderr.Bytes(), err
		}
		return stdout.Bytes(), stderr.Bytes(), nil
	}
}

// ExpectFull returns an error naming every graded task that lacks points.
func (r *Report) ExpectFull() error {
	var bad []string
	for _, l := range r.Labs {
		for _, t := range l.Tasks {
			if !t.Full() {
				bad = append(bad, fmt.Sprintf("%s (%d/%d)", t.ID, t.Points, t.MaxPoints))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("expected full points, but these tasks lack points: %s", strings.Join(bad, ", "))
	}
	return nil
}

// ExpectZero returns an error naming every task of the given lab (only that
// lab) that scored points: on a stub its tests should fail, and a test that
// passes on the stub grades nothing.
func (r *Report) ExpectZero(lab string) error {
	var bad []string
	found := false
	for _, l := range r.Labs {
		if l.ID != lab {
			continue
		}
		found = true
		for _, t := range l.Tasks {
			if t.Points != 0 {
				bad = append(bad, fmt.Sprintf("%s (%d/%d)", t.ID, t.Points, t.MaxPoints))
			}
		}
	}
	if !found {
		return fmt.Errorf("lab %s was not graded", lab)
	}
	if len(bad) > 0 {
		return fmt.Errorf("expected 0 points for lab %s, but these tasks score on their stubs (their tests grade nothing): %s",
			lab, strings.Join(bad, ", "))
	}
	return nil
}

// ExpectZeroTask returns an error unless the task was graded and scored 0.
// It is the check on a handout where only this task is a stub (handout
// -only): the task's own tests must fail on its stub. The other tasks'
// scores are not judged.
func (r *Report) ExpectZeroTask(id string) error {
	for _, l := range r.Labs {
		for _, t := range l.Tasks {
			if t.ID != id {
				continue
			}
			if t.Points != 0 {
				return fmt.Errorf("expected 0 points for task %s on its stub, but it scores %d/%d: "+
					"its tests (%d/%d passed) do not notice that %s is missing, so they grade nothing of it",
					id, t.Points, t.MaxPoints, t.Passed, t.Total, id)
			}
			return nil
		}
	}
	return fmt.Errorf("task %s was not graded", id)
}

// Others returns "ID points/max" for every graded task but id, in order.
func (r *Report) Others(id string) []string {
	var out []string
	for _, l := range r.Labs {
		for _, t := range l.Tasks {
			if t.ID != id {
				out = append(out, fmt.Sprintf("%s %d/%d", t.ID, t.Points, t.MaxPoints))
			}
		}
	}
	return out
}
