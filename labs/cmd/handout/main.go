// Command handout makes the student's copy of the repository: every file
// (git's list in a checkout, never .git or .ci), with the marked regions of
// the labs from -from on (or of the -only tasks) replaced by their stubs,
// and a HANDOUT.md.
//
//	go run ./labs/cmd/handout -out DIR [-from NN | -only NN.M[,NN.M...]] [-repo .] [-verify]
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
	var (
		opts handout.Options
		only string
	)
	flag.StringVar(&opts.Out, "out", "", "write the handout into this `dir` (must not exist or be empty)")
	flag.StringVar(&opts.From, "from", "", "hand out the labs with this `id` and later; earlier labs stay solved (default: the first lab)")
	flag.StringVar(&only, "only", "", "hand out only these `tasks` (NN.M, comma-separated); every other region stays solved")
	flag.StringVar(&opts.Repo, "repo", ".", "the reference repository (module root)")
	flag.BoolVar(&opts.Verify, "verify", false, "run go build ./... and go vet ./... in the handout")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./labs/cmd/handout -out DIR [-from NN | -only NN.M[,NN.M...]] [-repo .] [-verify]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if opts.Out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if only != "" {
		for _, id := range strings.Split(only, ",") {
			opts.Only = append(opts.Only, strings.TrimSpace(id))
		}
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
	todo := "labs to do: " + strings.Join(res.Labs, " ")
	if len(opts.Only) > 0 {
		todo = "only tasks to do: " + strings.Join(res.Tasks, " ")
	}
	fmt.Printf("handout: %d regions replaced in %d files (%s; labs solved: %s); %d files written to %s\n",
		len(res.Replaced), res.Rewritten, todo, solved, res.Copied, opts.Out)
}
