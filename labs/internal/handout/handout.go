// Package handout makes the student's copy of the repository from the
// reference: the same files, with the marked regions of the labs being
// handed out replaced by their stubs. Keeping this in a package (not only in
// labs/cmd/handout) lets the end-to-end test run it on a fake module.
package handout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"minibox/labs/internal/regions"
	"minibox/labs/internal/tasks"
	"minibox/labs/internal/tree"
)

// Options says what to hand out and where.
type Options struct {
	Repo string // the reference repository (module root); "" means "."
	Out  string // the handout directory; must not exist or be empty
	From string // first lab to hand out, e.g. "02"; "" means the first lab
	// Only, when not empty, hands out exactly these tasks ("01.2"): their
	// regions become stubs and every other region stays solved. It is how
	// labs/check.sh proves that a task's tests fail on its own stub. It
	// cannot be combined with From.
	Only   []string
	Verify bool      // run go build ./... and go vet ./... in Out
	Go     string    // the go command; "" means "go"
	Log    io.Writer // one line per replaced region, verify output; nil discards it
}

// Excluded are the top-level folders of the reference repository that the
// handout never gets (besides .git): .ci is the reference's own CI, which
// checks the homework machinery and would fail in a student copy. The
// handout has no CI of its own (see labs/README.md, GitHub Classroom).
var Excluded = tree.Excluded

// Location is a place in a file, with a slash-separated path relative to the
// repository root.
type Location struct {
	File string
	Line int
}

// String returns "file:line".
func (l Location) String() string { return fmt.Sprintf("%s:%d", l.File, l.Line) }

// Replaced is one region that became a stub.
type Replaced struct {
	ID    string   // task id
	Title string   // the BEGIN line's title
	At    Location // the BEGIN line in the reference
	Todo  Location // the BEGIN line in the handout, where the student writes
}

// Result is what Generate did.
type Result struct {
	Labs      []string   // ids of the labs handed out (some or all of their tasks to do)
	Solved    []string   // ids of the labs left solved (with -from, the earlier labs)
	Tasks     []string   // ids of the tasks handed out (their regions replaced), in tasks.json order
	Replaced  []Replaced // by task id, then file and line
	Copied    int        // files written to Out, HANDOUT.md included
	Rewritten int        // files whose regions were replaced
}

// Generate writes the handout. It reads every file first and checks all the
// markers against labs/tasks.json; on a marker error it writes nothing and
// returns a regions.ErrorList naming every problem with its file and line.
func Generate(ctx context.Context, opts Options) (*Result, error) {
	if opts.Repo == "" {
		opts.Repo = "."
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Out == "" {
		return nil, errors.New("no output directory")
	}
	repo, err := filepath.Abs(opts.Repo)
	if err != nil {
		return nil, err
	}
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return nil, err
	}
	if out == repo {
		return nil, fmt.Errorf("output directory %s is the repository itself", opts.Out)
	}
	if err := checkEmpty(out); err != nil {
		return nil, err
	}

	tf, err := tasks.Load(repo)
	if err != nil {
		return nil, err
	}
	res, handOut, err := selectTasks(tf, opts.From, opts.Only)
	if err != nil {
		return nil, err
	}

	files, err := tree.ListFiles(ctx, repo, out)
	if err != nil {
		return nil, err
	}

	// Pass 1: read the Go files, find every region, rewrite what is handed out.
	var (
		errs      regions.ErrorList
		other     []error
		rewritten = map[string][]byte{}
		seen      = map[string]bool{} // task ids that have a region
	)
	for _, rel := range files {
		if !strings.HasSuffix(rel, ".go") {
			continue
		}
		src, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(rel)))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // listed by git, deleted in the work tree
			}
			return nil, err
		}
		all, err := regions.Parse(rel, src)
		if err != nil {
			errs = appendErr(errs, &other, err)
			continue
		}
		for _, r := range all {
			seen[r.ID] = true
			if _, ok := tf.Task(r.ID); !ok {
				errs = append(errs, &regions.Error{File: rel, Line: r.Begin,
					Msg: fmt.Sprintf("LAB %s region: no task %s in %s", r.ID, r.ID, tasks.Path)})
			}
		}
		hout, replaced, err := regions.Rewrite(rel, src, handOut)
		if err != nil {
			errs = appendErr(errs, &other, err)
			continue
		}
		if len(replaced) == 0 {
			continue
		}
		rewritten[rel] = hout
		// The handout keeps every region; find the replaced ones again.
		after, err := regions.Parse(rel, hout)
		if err != nil {
			return nil, fmt.Errorf("%s: the handout version lost its markers: %w", rel, err)
		}
		k := 0
		for _, m := range after {
			if k >= len(replaced) || !handOut(m.ID) || m.ID != replaced[k].ID {
				continue
			}
			r := replaced[k]
			res.Replaced = append(res.Replaced, Replaced{ID: r.ID, Title: r.Title,
				At: Location{rel, r.Begin}, Todo: Location{rel, m.Begin}})
			k++
		}
	}
	taskJSON, _ := os.ReadFile(filepath.Join(repo, filepath.FromSlash(tasks.Path)))
	for _, l := range tf.Labs {
		for _, t := range l.Tasks {
			if !seen[t.ID] {
				errs = append(errs, &regions.Error{File: tasks.Path, Line: lineOf(taskJSON, `"`+t.ID+`"`),
					Msg: fmt.Sprintf("task %s (%s) has no LAB %s region in any .go file", t.ID, t.Title, t.ID)})
			}
		}
	}
	if len(errs) > 0 || len(other) > 0 {
		errs.Sort()
		switch {
		case len(other) == 0:
			return nil, errs
		case len(errs) == 0:
			return nil, errors.Join(other...)
		}
		return nil, errors.Join(append([]error{errs}, other...)...)
	}
	sort.SliceStable(res.Replaced, func(i, j int) bool {
		a, b := res.Replaced[i], res.Replaced[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.At.File != b.At.File {
			return a.At.File < b.At.File
		}
		return a.At.Line < b.At.Line
	})
	res.Rewritten = len(rewritten)
	for _, r := range res.Replaced {
		fmt.Fprintf(opts.Log, "%s %s\n", r.ID, r.At)
	}

	// Pass 2: write the copy.
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	for _, rel := range files {
		n, err := copyFile(repo, out, rel, rewritten[rel])
		if err != nil {
			return nil, err
		}
		res.Copied += n
	}
	md := Markdown(tf, res)
	if err := os.WriteFile(filepath.Join(out, "HANDOUT.md"), []byte(md), 0o644); err != nil {
		return nil, err
	}
	res.Copied++
	// HANDOUT.sum: what the student is not to change, so that the grader
	// can tell them when they did (see labs/README.md).
	sum, err := tree.ManifestOf(out, files)
	if err != nil {
		return nil, fmt.Errorf("hash the handout: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, tree.ManifestFile), sum.Format(), 0o644); err != nil {
		return nil, err
	}
	res.Copied++

	if opts.Verify {
		for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
			if err := runGo(ctx, opts.Go, out, opts.Log, args...); err != nil {
				return res, fmt.Errorf("verify the handout: %w", err)
			}
		}
	}
	return res, nil
}

// selectTasks decides what is handed out: the labs from `from` on, or
// exactly the tasks of only. It returns a Result with Labs, Solved and Tasks
// filled in, and the predicate for regions.Rewrite.
func selectTasks(tf *tasks.File, from string, only []string) (*Result, func(taskID string) bool, error) {
	res := &Result{}
	set := map[string]bool{}
	switch {
	case len(only) > 0 && from != "":
		return nil, nil, errors.New("-from and -only do not go together: -only names every task to hand out")
	case len(only) > 0:
		var errs []error
		for _, id := range only {
			if _, ok := tf.Task(id); ok {
				set[id] = true
				continue
			}
			var have []string
			if l, ok := tf.Lab(tasks.LabOf(id)); ok {
				for _, t := range l.Tasks {
					have = append(have, t.ID)
				}
			} else {
				have = tf.LabIDs()
				for i := range have {
					have[i] = "lab " + have[i]
				}
			}
			errs = append(errs, fmt.Errorf("-only %q: no such task in %s (have %s)", id, tasks.Path, strings.Join(have, ", ")))
		}
		if len(errs) > 0 {
			return nil, nil, errors.Join(errs...)
		}
	default:
		if from == "" {
			from = tf.Labs[0].ID
		}
		if _, ok := tf.Lab(from); !ok {
			return nil, nil, fmt.Errorf("-from %s: no such lab in %s (have %s)", from, tasks.Path, strings.Join(tf.LabIDs(), ", "))
		}
		for _, l := range tf.Labs {
			for _, t := range l.Tasks {
				if l.ID >= from {
					set[t.ID] = true
				}
			}
		}
	}
	for _, l := range tf.Labs {
		n := 0
		for _, t := range l.Tasks {
			if set[t.ID] {
				res.Tasks = append(res.Tasks, t.ID)
				n++
			}
		}
		if n > 0 {
			res.Labs = append(res.Labs, l.ID)
		} else {
			res.Solved = append(res.Solved, l.ID)
		}
	}
	return res, func(taskID string) bool { return set[taskID] }, nil
}

// appendErr adds a regions.ErrorList to errs and anything else to other.
func appendErr(errs regions.ErrorList, other *[]error, err error) regions.ErrorList {
	var list regions.ErrorList
	if errors.As(err, &list) {
		return append(errs, list...)
	}
	*other = append(*other, err)
	return errs
}

// lineOf returns the 1-based line of the first occurrence of s in data, or 0.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// checkEmpty accepts a directory that does not exist or is empty.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("output directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("output directory %s is not empty", dir)
	}
	return nil
}

// copyFile copies repo/rel to out/rel (data instead of the content when data
// is not nil), keeping the permission bits and symlinks. It returns how many
// files it wrote: 0 for a path that is gone or is a directory (a submodule).
func copyFile(repo, out, rel string, data []byte) (int, error) {
	src := filepath.Join(repo, filepath.FromSlash(rel))
	dst := filepath.Join(out, filepath.FromSlash(rel))
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return 0, err
		}
		return 1, os.Symlink(target, dst)
	case fi.IsDir() || !fi.Mode().IsRegular():
		return 0, nil
	}
	if data == nil {
		if data, err = os.ReadFile(src); err != nil {
			return 0, err
		}
	}
	return 1, os.WriteFile(dst, data, fi.Mode().Perm())
}

// runGo runs the go command in dir and logs success; a failure carries the
// command's output.
func runGo(ctx context.Context, goCmd, dir string, log io.Writer, args ...string) error {
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(buf.String()))
	}
	fmt.Fprintf(log, "verify: go %s: ok\n", strings.Join(args, " "))
	return nil
}

// Markdown returns the HANDOUT.md text: what is to do and how to grade it.
func Markdown(tf *tasks.File, res *Result) string {
	var b strings.Builder
	b.WriteString("# minibox: your homework\n\n")
	b.WriteString("This copy of minibox has the lesson code with some parts left for you to\n")
	b.WriteString("write. Each part is a task: in the code it is a region between the comments\n")
	b.WriteString("`// LAB NN.M BEGIN: ...` and `// LAB NN.M END`, which holds a stub that fails\n")
	b.WriteString("with `lab.Todo(\"NN.M\")` or warns with `lab.Warn(\"NN.M\")`. Replace the stub with\n")
	b.WriteString("your code, between those two lines, and keep the lines themselves (and the\n")
	b.WriteString("`STUB` lines after END). Only what lies between BEGIN and END is graded: the\n")
	b.WriteString("teacher's grader copies it into a clean tree, so a change anywhere else counts\n")
	b.WriteString("for nothing (imports excepted). labs/README.md explains how it works.\n\n")
	todo := map[string][]Location{}
	for _, r := range res.Replaced {
		todo[r.ID] = append(todo[r.ID], r.Todo)
	}
	handedOut := map[string]bool{}
	for _, id := range res.Tasks {
		handedOut[id] = true
	}
	b.WriteString("## To do\n\n")
	for _, id := range res.Labs {
		l, _ := tf.Lab(id)
		fmt.Fprintf(&b, "### Lab %s: %s (`%s/`, %d points)\n\n", l.ID, l.Title, l.Dir, l.Points())
		var solved []string
		for _, t := range l.Tasks {
			if !handedOut[t.ID] {
				solved = append(solved, t.ID)
				continue
			}
			var where []string
			for _, loc := range todo[t.ID] {
				where = append(where, "`"+loc.String()+"`")
			}
			fmt.Fprintf(&b, "- **%s** %s (%d points): %s\n", t.ID, t.Title, t.Points, strings.Join(where, ", "))
		}
		if len(solved) > 0 {
			fmt.Fprintf(&b, "\nThese tasks of lab %s come solved: %s.\n", l.ID, strings.Join(solved, ", "))
		}
		b.WriteString("\n")
	}
	if len(res.Solved) > 0 {
		b.WriteString("## Already solved\n\n")
		b.WriteString("These labs come solved: read their code, later labs build on it.\n\n")
		for _, id := range res.Solved {
			l, _ := tf.Lab(id)
			fmt.Fprintf(&b, "- Lab %s: %s (`%s/`)\n", l.ID, l.Title, l.Dir)
		}
		b.WriteString("\n")
	}
	first := res.Labs[0]
	b.WriteString("## Grading\n\n")
	b.WriteString("Most tests use real kernel features and need root:\n\n")
	fmt.Fprintf(&b, "    sudo make grade LAB=%s\n\n", first)
	b.WriteString("runs the tests of lab " + first + " and of every earlier lab, and prints a\n")
	b.WriteString("scoreboard. A task scores its points only when all its tests pass; a skipped\n")
	b.WriteString("test counts as failed.\n")
	return b.String()
}
