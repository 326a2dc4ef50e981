package grade

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// ShownLines is how many output lines of a failed test the scoreboard
// shows; the JSON report keeps up to MaxOutputLines.
const ShownLines = 12

// Percent is the share of points scored, rounded down, so that only a full
// score shows 100%.
func (r *Report) Percent() int {
	if r.MaxPoints == 0 {
		return 0
	}
	return r.Points * 100 / r.MaxPoints
}

// WriteText prints the scoreboard: one row per task, a total line, and
// under it the first lines of output of each test that did not pass.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAB\tTASK\tTITLE\tTESTS\tPOINTS\tRESULT")
	for _, l := range r.Labs {
		for _, t := range l.Tasks {
			mark := "ok"
			if !t.Full() {
				mark = "FAIL"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d/%d\t%s\n", l.ID, t.ID, t.Title, t.Passed, t.Total, t.Points, t.MaxPoints, mark)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Labs) > 1 {
		for _, l := range r.Labs {
			fmt.Fprintf(w, "lab %s %s: %d/%d points\n", l.ID, l.Title, l.Points, l.MaxPoints)
		}
	}
	fmt.Fprintf(w, "total: %d/%d points (%d%%)\n", r.Points, r.MaxPoints, r.Percent())
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nAbout the submission:")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}

	skipped := false
	first := true
	for _, l := range r.Labs {
		for _, t := range l.Tasks {
			if t.Full() {
				continue
			}
			if first {
				fmt.Fprintln(w, "\nWhy tasks lost points:")
				first = false
			}
			fmt.Fprintf(w, "\n%s %s\n", t.ID, t.Title)
			for _, ts := range t.Tests {
				if ts.Result == Pass {
					continue
				}
				skipped = skipped || ts.Result == Skip
				fmt.Fprintf(w, "  %s (%s): %s\n", ts.Name, ts.Package, describe(ts.Result))
				shown := ts.Output
				if len(shown) > ShownLines {
					shown = shown[:ShownLines]
				}
				for _, line := range shown {
					fmt.Fprintf(w, "    | %s\n", line)
				}
				if more := len(ts.Output) - len(shown) + ts.Omitted; more > 0 {
					fmt.Fprintf(w, "    | ... %d more lines: go test -count=1 -run '%s' %s\n", more, RunPattern([]string{ts.Name}), ts.Package)
				}
			}
		}
	}
	if skipped {
		fmt.Fprintln(w, "\nA skipped test counts as failed. Tests that need root skip without it: run the grader with sudo.")
	}
	return nil
}

// describe says what a result means for a student.
func describe(result string) string {
	switch result {
	case Fail:
		return "failed"
	case Skip:
		return "skipped (counts as failed)"
	case Missing:
		return "did not report a result (the package did not build, or a test panicked, exited or timed out)"
	}
	return result
}

// Classroom is the report format of GitHub Classroom's autograding reporter
// (github.com/classroom-resources/autograding-grading-reporter), which reads
// version, status, max_score and each test's score, plus our own total and
// the full Report per lab.
type Classroom struct {
	Version  int             `json:"version"`
	Status   string          `json:"status"` // "pass" when every task has full points
	MaxScore int             `json:"max_score"`
	Tests    []ClassroomTest `json:"tests"`
	Total    int             `json:"total"`
	Labs     []LabScore      `json:"labs"`
	Notes    []string        `json:"notes,omitempty"`
}

// ClassroomTest is one task in the Classroom format.
type ClassroomTest struct {
	Name          string `json:"name"`
	Status        string `json:"status"` // "pass" or "fail"
	Score         int    `json:"score"`
	MaxScore      int    `json:"max_score"`
	Message       string `json:"message"`
	TestCode      string `json:"test_code"`
	Filename      string `json:"filename"`
	LineNo        int    `json:"line_no"`
	ExecutionTime string `json:"execution_time"`
}

// Classroom converts the report, one Classroom test per task.
func (r *Report) Classroom() Classroom {
	c := Classroom{Version: 1, Status: "pass", MaxScore: r.MaxPoints, Total: r.Points, Labs: r.Labs, Notes: r.Notes, Tests: []ClassroomTest{}}
	for _, l := range r.Labs {
		for _, t := range l.Tasks {
			ct := ClassroomTest{
				Name:          t.ID + " " + t.Title,
				Status:        "pass",
				Score:         t.Points,
				MaxScore:      t.MaxPoints,
				TestCode:      t.TestCode,
				ExecutionTime: seconds(t.Elapsed),
			}
			if !t.Full() {
				ct.Status, c.Status = "fail", "fail"
				ct.Message = message(t)
			}
			c.Tests = append(c.Tests, ct)
		}
	}
	return c
}

// message tells why a task failed: each failed test, its result and output.
func message(t TaskScore) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d tests passed", t.Passed, t.Total)
	for _, ts := range t.Tests {
		if ts.Result == Pass {
			continue
		}
		fmt.Fprintf(&b, "\n%s (%s): %s", ts.Name, ts.Package, describe(ts.Result))
		for _, line := range ts.Output {
			b.WriteString("\n  " + line)
		}
		if ts.Omitted > 0 {
			fmt.Fprintf(&b, "\n  ... %d more lines", ts.Omitted)
		}
	}
	return b.String()
}

// JSON returns the Classroom report, indented.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r.Classroom(), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// seconds formats a duration for people.
func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
