// Package tasks reads labs/tasks.json, the one list of labs, their tasks,
// points and the tests that prove each task. The handout generator and the
// grader both read it, so a task is declared once and both agree on it.
package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Path is where the task list lives, relative to the repository root.
const Path = "labs/tasks.json"

// File is the whole task list: the labs in lesson order.
type File struct {
	Labs []Lab `json:"labs"`
}

// Lab is one lesson's homework: its id ("01"), the lesson folder
// ("01-namespaces"), a title and its tasks.
type Lab struct {
	ID    string `json:"id"`
	Dir   string `json:"dir"`
	Title string `json:"title"`
	Tasks []Task `json:"tasks"`
}

// Task is one marked region (or a few) that a student writes. ID is "NN.M"
// where NN is the lab's id. A task earns Points only when all its Tests pass.
type Task struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Points int    `json:"points"`
	Tests  []Test `json:"tests"`
}

// Test names top-level Go tests of one package that prove a task. Package is
// a path relative to the repository root, as `go test` takes it
// ("./01-namespaces/namespaces"); Run lists test function names.
type Test struct {
	Package string   `json:"package"`
	Run     []string `json:"run"`
}

var (
	labIDRe  = regexp.MustCompile(`^[0-9]{2}$`)
	taskIDRe = regexp.MustCompile(`^([0-9]{2})\.[0-9]+$`)
	testRe   = regexp.MustCompile(`^(Test|Fuzz|Example)[\p{L}\p{N}_]*$`)
)

// Load reads and validates repoRoot/labs/tasks.json.
func Load(repoRoot string) (*File, error) {
	name := filepath.Join(repoRoot, filepath.FromSlash(Path))
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read task list: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// Parse decodes a task list (unknown fields are an error, to catch typos) and
// validates it.
func Parse(data []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode task list: %w", err)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate checks what the tools rely on: lab ids are two digits, unique and
// increasing; task ids are "NN.M" with NN the lab's id and unique; every task
// has a title, positive points and at least one test; test names are Go test
// function names. It reports every problem it finds.
func (f *File) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(f.Labs) == 0 {
		bad("no labs")
	}
	seenTask := map[string]bool{}
	prev := ""
	for i, l := range f.Labs {
		where := fmt.Sprintf("lab %q", l.ID)
		switch {
		case !labIDRe.MatchString(l.ID):
			bad("labs[%d]: id %q is not two digits", i, l.ID)
		case l.ID <= prev:
			bad("%s: lab ids must be unique and increasing (after %q)", where, prev)
		default:
			prev = l.ID
		}
		if l.Dir == "" || filepath.IsAbs(l.Dir) || strings.Contains(l.Dir, "..") {
			bad("%s: dir %q must be a folder inside the repository", where, l.Dir)
		}
		if strings.TrimSpace(l.Title) == "" {
			bad("%s: no title", where)
		}
		if len(l.Tasks) == 0 {
			bad("%s: no tasks", where)
		}
		for j, t := range l.Tasks {
			tw := fmt.Sprintf("task %q", t.ID)
			m := taskIDRe.FindStringSubmatch(t.ID)
			switch {
			case m == nil:
				bad("%s: tasks[%d]: id %q is not NN.M", where, j, t.ID)
			case m[1] != l.ID:
				bad("%s: id does not belong to lab %q", tw, l.ID)
			case seenTask[t.ID]:
				bad("%s: duplicate id", tw)
			}
			seenTask[t.ID] = true
			if strings.TrimSpace(t.Title) == "" {
				bad("%s: no title", tw)
			}
			if t.Points <= 0 {
				bad("%s: points must be > 0, have %d", tw, t.Points)
			}
			if len(t.Tests) == 0 {
				bad("%s: no tests", tw)
			}
			for k, ts := range t.Tests {
				if (ts.Package != "." && !strings.HasPrefix(ts.Package, "./")) || strings.Contains(ts.Package, "...") {
					bad("%s: tests[%d]: package %q must be one package path starting with ./", tw, k, ts.Package)
				}
				if len(ts.Run) == 0 {
					bad("%s: tests[%d]: no test names in run", tw, k)
				}
				for _, name := range ts.Run {
					if !testRe.MatchString(name) {
						bad("%s: tests[%d]: %q is not a top-level Go test name", tw, k, name)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}

// LabOf returns the lab id of a task id: "01" for "01.3".
func LabOf(taskID string) string {
	lab, _, _ := strings.Cut(taskID, ".")
	return lab
}

// Lab returns the lab with the given id.
func (f *File) Lab(id string) (*Lab, bool) {
	for i := range f.Labs {
		if f.Labs[i].ID == id {
			return &f.Labs[i], true
		}
	}
	return nil, false
}

// Task returns the task with the given id.
func (f *File) Task(id string) (*Task, bool) {
	l, ok := f.Lab(LabOf(id))
	if !ok {
		return nil, false
	}
	for i := range l.Tasks {
		if l.Tasks[i].ID == id {
			return &l.Tasks[i], true
		}
	}
	return nil, false
}

// UpTo returns lab id and every earlier lab, in order. An empty id means all
// labs. An id that is not in the list is an error.
func (f *File) UpTo(id string) ([]Lab, error) {
	if id == "" {
		return f.Labs, nil
	}
	if _, ok := f.Lab(id); !ok {
		return nil, fmt.Errorf("no lab %q in %s (have %s)", id, Path, strings.Join(f.LabIDs(), ", "))
	}
	var out []Lab
	for _, l := range f.Labs {
		if l.ID <= id {
			out = append(out, l)
		}
	}
	return out, nil
}

// LabIDs returns the lab ids in order.
func (f *File) LabIDs() []string {
	ids := make([]string, len(f.Labs))
	for i, l := range f.Labs {
		ids[i] = l.ID
	}
	return ids
}

// Points returns the sum of the lab's task points.
func (l *Lab) Points() int {
	n := 0
	for _, t := range l.Tasks {
		n += t.Points
	}
	return n
}
