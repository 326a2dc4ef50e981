// Command grade runs the tests tied to each homework task (labs/tasks.json)
// and prints a scoreboard.
//
//	go run ./labs/cmd/grade [-lab NN] [-repo .] [-json FILE] [-timeout 10m] [-expect full|zero] [-list-labs]
//
// It grades lab NN and every earlier lab (so regressions show), or all labs.
// Exit status: 0 when grading completed, 1 when -expect is not met, 2 when
// it could not grade (bad flags or task list, go does not run). See
// labs/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"minibox/labs/internal/grade"
	"minibox/labs/internal/tasks"
)

func main() {
	var (
		lab      = flag.String("lab", "", "grade lab `NN` and every earlier lab (default: all labs)")
		repo     = flag.String("repo", ".", "the repository (module root) to grade")
		jsonFile = flag.String("json", "", "also write a JSON report (GitHub Classroom format) to `file`")
		timeout  = flag.Duration("timeout", grade.DefaultTimeout, "go test -timeout for each package")
		expect   = flag.String("expect", "", "exit 1 unless every graded task has full points (full), or every task of -lab scores 0 (zero)")
		listLabs = flag.Bool("list-labs", false, "print the lab ids of labs/tasks.json, one per line, and exit")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(),
			"usage: go run ./labs/cmd/grade [-lab NN] [-repo .] [-json FILE] [-timeout 10m] [-expect full|zero] [-list-labs]\n")
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	rep, err := grade.Run(ctx, tf, grade.Options{Repo: *repo, Lab: *lab, Timeout: *timeout, Run: grade.GoTest("go"), Log: os.Stderr})
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

	switch *expect {
	case "full":
		err = rep.ExpectFull()
	case "zero":
		err = rep.ExpectZero(*lab)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "grade: %v\n", err)
		os.Exit(1)
	}
	if *expect != "" {
		fmt.Fprintf(os.Stderr, "grade: as expected (%s)\n", *expect)
	}
}

// fail reports that grading could not happen and exits 2.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "grade: "+format+"\n", args...)
	os.Exit(2)
}
