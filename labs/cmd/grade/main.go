// Command grade runs the tests tied to each homework task (labs/tasks.json)
// and prints a scoreboard.
//
//	go run ./labs/cmd/grade [-lab NN [-only-lab]] [-repo .] [-json FILE] [-timeout 10m]
//	    [-expect full|zero | -expect-zero-task NN.M] [-list-labs | -list-tasks]
//
// It grades lab NN and every earlier lab (so regressions show), only lab NN
// with -only-lab, or all labs. Exit status: 0 when grading completed, 1 when
// the expectation (-expect, -expect-zero-task) is not met, 2 when it could
// not grade (bad flags or task list, go does not run). See labs/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"minibox/labs/internal/grade"
	"minibox/labs/internal/tasks"
)

func main() {
	var (
		lab      = flag.String("lab", "", "grade lab `NN` and every earlier lab (default: all labs)")
		onlyLab  = flag.Bool("only-lab", false, "grade only the lab of -lab, not the earlier labs")
		repo     = flag.String("repo", ".", "the repository (module root) to grade")
		jsonFile = flag.String("json", "", "also write a JSON report (GitHub Classroom format) to `file`")
		timeout  = flag.Duration("timeout", grade.DefaultTimeout, "go test -timeout for each package")
		expect   = flag.String("expect", "", "exit 1 unless every graded task has full points (full), or every task of -lab scores 0 (zero)")
		zeroTask = flag.String("expect-zero-task", "", "exit 1 unless task `NN.M` scores 0 (the other tasks are not judged); for a handout -only NN.M")
		listLabs = flag.Bool("list-labs", false, "print the lab ids of labs/tasks.json, one per line, and exit")
		listTask = flag.Bool("list-tasks", false, "print the task ids of labs/tasks.json, one per line, and exit")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: go run ./labs/cmd/grade [-lab NN [-only-lab]] [-repo .] [-json FILE] [-timeout 10m]\n"+
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

	tf, err := tasks.Load(*repo)
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
	rep, err := grade.Run(ctx, tf, grade.Options{Repo: *repo, Lab: *lab, OnlyLab: *onlyLab, Timeout: *timeout, Run: grade.GoTest("go"), Log: os.Stderr})
	if err != nil {
		fail("%v", err)
	}
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

// fail reports that grading could not happen and exits 2.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "grade: "+format+"\n", args...)
	os.Exit(2)
}
