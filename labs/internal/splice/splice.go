// Package splice builds the tree a submission is graded in: a copy of a
// clean tree (the reference repository, or a clean handout) in which the
// body of every LAB region is the submission's own. Nothing else of the
// submission is used, so editing a test, a probe of internal/testkit or
// labs/tasks.json changes nothing; Splice reports such edits so that the
// teacher sees them. The submission's files are read beneath its root
// without following symlinks (a symlink to the reference is not a way to
// hand in the solution), and a body must stay inside its function and hold
// no compiler directive (see check.go). Code inside a region still runs
// in the test process: bodies that mention what could fake the test
// output are flagged for the teacher to read (Result.Flagged).
//
// The regions are matched by file, task id and order: the k-th region of
// task NN.M in a file of the submission fills the k-th region of NN.M in
// the same file of the clean tree. A region the submission lacks (a file
// deleted, a marker removed) is graded as its stub, never as the clean
// tree's body, which in the reference is the solution.
//
// The imports of a spliced file are the clean file's plus those the
// submission's file adds (a region's code may need a package the stub did
// not), then every unused one is dropped. Blank and dot imports, and
// imports of the test helpers (minibox/internal/testkit) and of the
// homework machinery (minibox/labs/..., but labs/lab), unsafe, C and embed
// that the clean file does not have, are refused.
package splice

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"minibox/labs/internal/regions"
	"minibox/labs/internal/tree"
)

// Options says what to splice.
type Options struct {
	Clean      string // the clean tree: a reference checkout or a clean handout
	Submission string // the student's copy
	Out        string // where the graded tree goes; must not exist or be empty
}

// Result is what Splice did.
type Result struct {
	Taken   []string // "NN.M file:line" of each region taken from the submission
	Stubbed []string // "NN.M file:line: why" of each region graded as its stub
	Refused []string // "file: import path" of each import not taken
	NotRead []string // "file: why" of each submission file not read (a symlink, not a regular file)
	Flagged []string // "NN.M file:line mentions X, Y" of each taken body a teacher should read
	Outside tree.Changes
}

// Notes are the lines a report shows about the splice.
func (r *Result) Notes() []string {
	var out []string
	for _, l := range r.Outside.Lines() {
		out = append(out, "submission: "+l+" (ignored: graded with the clean copies)")
	}
	for _, s := range r.Stubbed {
		out = append(out, "submission: region "+s+" (graded as its stub)")
	}
	for _, s := range r.Refused {
		out = append(out, "submission: import refused: "+s)
	}
	for _, s := range r.NotRead {
		out = append(out, "submission: file not read: "+s+" (its regions graded as their stubs)")
	}
	for _, s := range r.Flagged {
		out = append(out, "submission: read region "+s+" (it runs inside the test process, where such code could fake the test output; graded as it is)")
	}
	return out
}

// refusedImport reports whether a spliced file may not gain an import of p:
// the test helpers and the homework machinery; unsafe (with it a body can
// reach any package's memory), cgo's C (C code is out of the Go checks'
// sight) and embed (it needs a //go:embed directive, which no body may
// hold anyway).
func refusedImport(p string) bool {
	return p == "unsafe" || p == "C" || p == "embed" ||
		p == "minibox/internal/testkit" || strings.HasPrefix(p, "minibox/internal/testkit/") ||
		(strings.HasPrefix(p, "minibox/labs/") && p != regions.LabImport)
}

// Splice writes the graded tree to opts.Out.
func Splice(ctx context.Context, opts Options) (*Result, error) {
	clean, err := filepath.Abs(opts.Clean)
	if err != nil {
		return nil, err
	}
	sub, err := filepath.Abs(opts.Submission)
	if err != nil {
		return nil, err
	}
	out, err := filepath.Abs(opts.Out)
	if err != nil {
		return nil, err
	}
	if out == clean || out == sub {
		return nil, errors.New("splice: the output directory is one of the inputs")
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("splice: output directory %s is not empty", out)
	}
	files, err := tree.ListFiles(ctx, clean, out)
	if err != nil {
		return nil, fmt.Errorf("splice: list the clean tree: %w", err)
	}
	subRoot, err := openRoot(sub)
	if err != nil {
		return nil, fmt.Errorf("splice: the submission: %w", err)
	}
	defer subRoot.Close()
	res := &Result{}
	cleanSum := tree.Manifest{}
	for _, rel := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src := filepath.Join(clean, filepath.FromSlash(rel))
		dst := filepath.Join(out, filepath.FromSlash(rel))
		fi, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				return nil, err
			}
			if err := os.Symlink(target, dst); err != nil {
				return nil, err
			}
			cleanSum[rel] = tree.Hash("", []byte("symlink "+target))
			continue
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if !tree.IsGenerated(rel) {
			cleanSum[rel] = tree.Hash(rel, data)
		}
		if strings.HasSuffix(rel, ".go") {
			if data, err = spliceFile(rel, data, subRoot, res); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(dst, data, fi.Mode().Perm()); err != nil {
			return nil, err
		}
	}
	if res.Outside, err = tree.Compare(ctx, sub, cleanSum); err != nil {
		return nil, fmt.Errorf("splice: compare the submission: %w", err)
	}
	return res, nil
}

// spliceFile returns the clean Go file with its region bodies taken from
// the submission's file rel, read beneath subRoot without following
// symlinks. A body that holds a compiler directive, or that does not keep
// the file's shape (checkShape), is graded as its stub.
func spliceFile(rel string, data []byte, subRoot *os.File, res *Result) ([]byte, error) {
	rs, err := regions.Parse(rel, data)
	if err != nil {
		return nil, fmt.Errorf("splice: the clean tree's markers: %w", err)
	}
	if len(rs) == 0 {
		return data, nil
	}
	subData, subErr := readBeneath(subRoot, rel)
	var subRegions []regions.Region
	why := ""
	switch {
	case errors.Is(subErr, errNotRegular):
		detail := strings.TrimPrefix(subErr.Error(), errNotRegular.Error()+": ")
		why = "the submission's file is not read: " + detail
		res.NotRead = append(res.NotRead, rel+": "+detail)
		subData = nil
	case errors.Is(subErr, fs.ErrNotExist):
		why = "the submission has no such file"
		subData = nil
	case subErr != nil:
		return nil, fmt.Errorf("splice: %w", subErr)
	default:
		if subRegions, err = regions.Parse(rel, subData); err != nil {
			why = "the submission's markers are broken: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		}
	}
	// The k-th region of each task in the submission's file.
	byID := map[string][]regions.Region{}
	for _, r := range subRegions {
		byID[r.ID] = append(byID[r.ID], r)
	}
	seen := map[string]int{}
	bodies := make([][]string, len(rs))
	taken := make([]bool, len(rs))
	stub := func(i int, w string) {
		bodies[i], taken[i] = regions.StubBody(rs[i]), false
		res.Stubbed = append(res.Stubbed, fmt.Sprintf("%s %s:%d: %s", rs[i].ID, rel, rs[i].Begin, w))
	}
	for i, r := range rs {
		k := seen[r.ID]
		seen[r.ID]++
		if k >= len(byID[r.ID]) {
			w := why
			if w == "" {
				w = "no such region in the submission's file"
			}
			stub(i, w)
			continue
		}
		body := regions.Body(subData, byID[r.ID][k])
		if d := directive(body); d != "" {
			stub(i, "its body holds a compiler directive, "+strconv.Quote(d)+", which a region may not")
			continue
		}
		bodies[i], taken[i] = body, true
	}
	// build splices the current bodies and fixes the imports.
	build := func() []byte {
		spliced := regions.ReplaceBodies(data, rs, bodies)
		if subData != nil && why == "" {
			spliced = addImports(rel, data, subData, spliced, nil)
		}
		if fixed, err := regions.FixImports(rel, nil, spliced); err == nil {
			return fixed
		}
		return spliced
	}
	if err := checkShape(rel, data, build()); err != nil {
		// Find the bodies that break the shape on their own (every other
		// region its stub), then check what is left together.
		alone := make([][]string, len(rs))
		for i := range rs {
			alone[i] = regions.StubBody(rs[i])
		}
		for i := range rs {
			if !taken[i] {
				continue
			}
			alone[i] = bodies[i]
			one := regions.ReplaceBodies(data, rs, alone)
			alone[i] = regions.StubBody(rs[i])
			if err := checkShape(rel, data, one); err != nil {
				stub(i, "its body is refused: "+err.Error())
			}
		}
		if err := checkShape(rel, data, build()); err != nil {
			for i := range rs {
				if taken[i] {
					stub(i, "its body, with the file's other regions, is refused: "+err.Error())
				}
			}
		}
	}
	for i, r := range rs {
		if !taken[i] {
			continue
		}
		res.Taken = append(res.Taken, fmt.Sprintf("%s %s:%d", r.ID, rel, r.Begin))
		if sameCode(bodies[i], regions.Body(data, r)) || sameCode(bodies[i], regions.StubBody(r)) {
			continue // the clean tree's own body, or the stub
		}
		if fl := flags(bodies[i]); len(fl) > 0 {
			res.Flagged = append(res.Flagged, fmt.Sprintf("%s %s:%d mentions %s", r.ID, rel, r.Begin, strings.Join(fl, ", ")))
		}
	}
	spliced := regions.ReplaceBodies(data, rs, bodies)
	if subData != nil && why == "" {
		spliced = addImports(rel, data, subData, spliced, res)
	}
	fixed, err := regions.FixImports(rel, nil, spliced)
	if err != nil {
		// Code that does not parse: give it to the compiler as it is, so
		// that the task's tests fail with the compiler's message.
		return spliced, nil
	}
	return fixed, nil
}

// addImports adds to spliced (the clean file with the submission's bodies)
// the imports of the submission's file that the clean file lacks.
func addImports(rel string, clean, subData, spliced []byte, res *Result) []byte {
	have := map[string]bool{}
	if f, err := parser.ParseFile(token.NewFileSet(), rel, clean, parser.ImportsOnly); err == nil {
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			have[p] = true
		}
	}
	f, err := parser.ParseFile(token.NewFileSet(), rel, subData, parser.ImportsOnly)
	if err != nil {
		return spliced
	}
	var add []string
	for _, is := range f.Imports {
		p, _ := strconv.Unquote(is.Path.Value)
		if have[p] {
			continue
		}
		name := ""
		if is.Name != nil {
			name = is.Name.Name
		}
		if name == "_" || name == "." || refusedImport(p) {
			if res != nil {
				res.Refused = append(res.Refused, rel+": "+strconv.Quote(p))
			}
			continue
		}
		spec := strconv.Quote(p)
		if name != "" {
			spec = name + " " + spec
		}
		add = append(add, spec)
	}
	if len(add) == 0 {
		return spliced
	}
	sort.Strings(add)
	// A declaration of its own right after the package clause; FixImports
	// and gofmt tidy it.
	sf, err := parser.ParseFile(token.NewFileSet(), rel, spliced, parser.PackageClauseOnly)
	if err != nil {
		return spliced
	}
	at := int(sf.Name.End()) - 1 // token.Pos of a one-file set is offset+1
	if i := strings.IndexByte(string(spliced[at:]), '\n'); i >= 0 {
		at += i + 1
	} else {
		at = len(spliced)
	}
	decl := "\nimport (\n\t" + strings.Join(add, "\n\t") + "\n)\n"
	return append(spliced[:at:at], append([]byte(decl), spliced[at:]...)...)
}
