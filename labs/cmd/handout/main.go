// Command handout makes the student's copy of the repository: every file
// (git's list in a checkout, never .git), with the marked regions of the labs
// from -from on replaced by their stubs, and a HANDOUT.md.
//
//	go run ./labs/cmd/handout -out DIR [-from NN] [-repo .] [-verify]
//
// See labs/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"minibox/labs/internal/handout"
	"minibox/labs/internal/regions"
)

func main() {
	var opts handout.Options
	flag.StringVar(&opts.Out, "out", "", "write the handout into this `dir` (must not exist or be empty)")
	flag.StringVar(&opts.From, "from", "01", "hand out the labs with this `id` and later; earlier labs stay solved")
	flag.StringVar(&opts.Repo, "repo", ".", "the reference repository (module root)")
	flag.BoolVar(&opts.Verify, "verify", false, "run go build ./... and go vet ./... in the handout")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./labs/cmd/handout -out DIR [-from NN] [-repo .] [-verify]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if opts.Out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	opts.Log = os.Stdout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := handout.Generate(ctx, opts)
	if err != nil {
		var list regions.ErrorList
		if errors.As(err, &list) {
			fmt.Fprintf(os.Stderr, "handout: the LAB markers have errors; nothing was written:\n%v\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "handout: %v\n", err)
		}
		os.Exit(1)
	}
	solved := "none"
	if len(res.Solved) > 0 {
		solved = strings.Join(res.Solved, " ")
	}
	fmt.Printf("handout: %d regions replaced in %d files (labs to do: %s; solved: %s); %d files written to %s\n",
		len(res.Replaced), res.Rewritten, strings.Join(res.Labs, " "), solved, res.Copied, opts.Out)
}
