// Command grade runs the tests tied to each homework task (labs/tasks.json)
// and prints a scoreboard.
//
//	go run ./labs/cmd/grade [-lab NN [-only-lab]] [-repo .] [-reference DIR] [-json FILE] [-timeout 10m]
//	    [-expect full|zero | -expect-zero-task NN.M] [-list-labs | -list-tasks]
//
// It grades lab NN and every earlier lab (so regressions show), only lab NN
// with -only-lab, or all labs. With -reference, it grades a copy of that
// clean tree with the LAB region bodies of -repo spliced in (package
// splice), and lists what -repo changed elsewhere; without it, it grades
// -repo as it is and, when -repo has a HANDOUT.sum, lists the files changed
// outside the regions since the handout was made. Exit status: 0 when grading completed, 1 when
// the expectation (-expect, -expect-zero-task) is not met, 2 when it could
// not grade (bad flags or task list, go does not run). See labs/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"minibox/labs/internal/grade"
	"minibox/labs/internal/splice"
	"minibox/labs/internal/tasks"
	"minibox/labs/internal/tree"
)

func main() {
	var (
		lab      = flag.String("lab", "", "grade lab `NN` and every earlier lab (default: all labs)")
		onlyLab  = flag.Bool("only-lab", false, "grade only the lab of -lab, not the earlier labs")
		repo     = flag.String("repo", ".", "the repository (module root) to grade")
		refDir   = flag.String("reference", "", "grade only the LAB regions of -repo, spliced into a copy of this clean `dir` (a reference checkout or a clean handout)")
		keep     = flag.Bool("keep", false, "with -reference: keep the spliced tree and print where it is")
		jsonFile = flag.String("json", "", "also write a JSON report (GitHub Classroom format) to `file`")
		timeout  = flag.Duration("timeout", grade.DefaultTimeout, "go test -timeout for each package")
		expect   = flag.String("expect", "", "exit 1 unless every graded task has full points (full), or every task of -lab scores 0 (zero)")
		zeroTask = flag.String("expect-zero-task", "", "exit 1 unless task `NN.M` scores 0 (the other tasks are not judged); for a handout -only NN.M")
		listLabs = flag.Bool("list-labs", false, "print the lab ids of labs/tasks.json, one per line, and exit")
		listTask = flag.Bool("list-tasks", false, "print the task ids of labs/tasks.json, one per line, and exit")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: go run ./labs/cmd/grade [-lab NN [-only-lab]] [-repo .] [-reference DIR [-keep]] [-json FILE] [-timeout 10m]\n"+
				"           [-expect full|zero | -expect-zero-task NN.M] [-list-labs | -list-tasks]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	switch *expect {
	case "", "full":
	case "zero":
		if *lab == "" {
			fail("-expect zero needs -lab: it checks one lab's tasks")
		}
	default:
		fail("-expect must be full or zero, not %q", *expect)
	}
	if *expect != "" && *zeroTask != "" {
		fail("-expect and -expect-zero-task do not go together: give one expectation")
	}
	if *onlyLab && *lab == "" {
		fail("-only-lab needs -lab: it grades that lab alone")
	}

	// With -reference the task list, the tests and everything else come
	// from the clean tree.
	taskRepo := *repo
	if *refDir != "" {
		taskRepo = *refDir
	}
	tf, err := tasks.Load(taskRepo)
	if err != nil {
		fail("%v", err)
	}
	if *listLabs {
		for _, id := range tf.LabIDs() {
			fmt.Println(id)
		}
		return
	}
	if *listTask {
		for _, l := range tf.Labs {
			for _, t := range l.Tasks {
				fmt.Println(t.ID)
			}
		}
		return
	}
	if *zeroTask != "" {
		// Refuse before grading a task that this run would not grade.
		if _, ok := tf.Task(*zeroTask); !ok {
			fail("-expect-zero-task %s: no such task in %s", *zeroTask, tasks.Path)
		}
		switch tl := tasks.LabOf(*zeroTask); {
		case *lab != "" && tl > *lab:
			fail("-expect-zero-task %s: -lab %s does not grade lab %s", *zeroTask, *lab, tl)
		case *onlyLab && tl != *lab:
			fail("-expect-zero-task %s: -lab %s -only-lab does not grade lab %s", *zeroTask, *lab, tl)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	gradeDir, notes, cleanup, err := prepare(ctx, *repo, *refDir, *keep)
	if err != nil {
		fail("%v", err)
	}
	rep, err := grade.Run(ctx, tf, grade.Options{Repo: gradeDir, Lab: *lab, OnlyLab: *onlyLab, Timeout: *timeout, Run: grade.GoTest("go"), Log: os.Stderr})
	cleanup()
	if err != nil {
		fail("%v", err)
	}
	rep.Notes = notes
	if ctx.Err() != nil {
		fail("interrupted")
	}
	fmt.Println()
	if err := rep.WriteText(os.Stdout); err != nil {
		fail("%v", err)
	}
	fmt.Fprintf(os.Stderr, "grade: done in %s\n", time.Since(start).Round(time.Second))
	if *jsonFile != "" {
		b, err := rep.JSON()
		if err == nil {
			err = os.WriteFile(*jsonFile, b, 0o644)
		}
		if err != nil {
			fail("write the JSON report: %v", err)
		}
		fmt.Fprintf(os.Stderr, "grade: JSON report written to %s\n", *jsonFile)
	}

	switch {
	case *expect == "full":
		err = rep.ExpectFull()
	case *expect == "zero":
		err = rep.ExpectZero(*lab)
	case *zeroTask != "":
		err = rep.ExpectZeroTask(*zeroTask)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "grade: %v\n", err)
		os.Exit(1)
	}
	switch {
	case *expect != "":
		fmt.Fprintf(os.Stderr, "grade: as expected (%s)\n", *expect)
	case *zeroTask != "":
		others := strings.Join(rep.Others(*zeroTask), ", ")
		if others == "" {
			others = "none"
		}
		fmt.Fprintf(os.Stderr, "grade: as expected (%s scores 0; not judged: %s)\n", *zeroTask, others)
	}
}

// prepare returns the directory to grade and what the report should note
// about the submission. With a reference it splices repo's LAB regions into
// a temporary copy of it (cleanup removes it); without one it grades repo
// itself and compares it with its HANDOUT.sum, if it has one.
func prepare(ctx context.Context, repo, ref string, keep bool) (dir string, notes []string, cleanup func(), err error) {
	cleanup = func() {}
	if ref == "" {
		data, err := os.ReadFile(filepath.Join(repo, tree.ManifestFile))
		if errors.Is(err, fs.ErrNotExist) {
			return repo, nil, cleanup, nil
		}
		if err != nil {
			return "", nil, nil, err
		}
		sum, err := tree.ParseManifest(data)
		if err != nil {
			return "", nil, nil, err
		}
		ch, err := tree.Compare(ctx, repo, sum)
		if err != nil {
			return "", nil, nil, err
		}
		for _, l := range ch.Lines() {
			notes = append(notes, "since the handout ("+tree.ManifestFile+"): "+l+
				"; graded as it is here, but the teacher grades only your LAB regions, in a clean copy")
		}
		for _, n := range notes {
			fmt.Fprintf(os.Stderr, "grade: %s\n", n)
		}
		return repo, notes, cleanup, nil
	}
	tmp, release, err := workDir()
	if err != nil {
		return "", nil, nil, err
	}
	cleanup = func() {
		defer release()
		if keep {
			fmt.Fprintf(os.Stderr, "grade: the spliced tree is kept in %s\n", tmp)
			return
		}
		os.RemoveAll(tmp)
	}
	res, err := splice.Splice(ctx, splice.Options{Clean: ref, Submission: repo, Out: tmp})
	if err != nil {
		cleanup()
		return "", nil, nil, err
	}
	fmt.Fprintf(os.Stderr, "grade: %d LAB regions of %s spliced into a clean copy of %s\n", len(res.Taken), repo, ref)
	notes = res.Notes()
	for _, n := range notes {
		fmt.Fprintf(os.Stderr, "grade: %s\n", n)
	}
	return tmp, notes, cleanup, nil
}

// workDir returns the directory to splice a submission into, and a function
// that gives it back. It is the same path every time, so that go build and
// go vet find the packages of the previous submission in their cache (the
// cache keys a package by its directory): a teacher's 100 submissions then
// compile only what each student wrote. A second grader running at the same
// moment gets a directory of its own.
func workDir() (string, func(), error) {
	base := filepath.Join(os.TempDir(), fmt.Sprintf("minibox-grade-%d", os.Getuid()))
	if d, ok := lockWorkDir(base); ok {
		return base, func() { d.Close() }, nil
	}
	tmp, err := os.MkdirTemp("", "minibox-grade-")
	return tmp, func() {}, err
}

// lockWorkDir makes (or takes over) dir, locks it with flock(2) and empties
// it. It refuses a dir that is a symlink or not ours (a shared /tmp), one
// that another grader holds, and one that was removed while we waited.
func lockWorkDir(dir string) (*os.File, bool) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, false
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		return nil, false
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, false
	}
	if syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		d.Close()
		return nil, false
	}
	held, err := d.Stat()
	if err != nil || !os.SameFile(fi, held) {
		d.Close()
		return nil, false
	}
	entries, err := d.ReadDir(-1)
	if err != nil {
		d.Close()
		return nil, false
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			d.Close()
			return nil, false
		}
	}
	return d, true
}

// fail reports that grading could not happen and exits 2.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "grade: "+format+"\n", args...)
	os.Exit(2)
}
