// Command compare times two commands against each other in the same run:
// it alternates them (so drift in the machine's load hits both alike),
// discards warm-up runs, and prints each one's median and spread and the
// ratio of the medians (a third command, -c, is optional; without -b, where
// a reference tool is missing, it times -a alone). The lesson benchmarks in bench/*.sh use it.
//
//	go run ./bench/compare -runs 100 -a 'bin/01-namespaces run -- /bin/true' -b 'unshare --pid --fork /bin/true'
//
// -before-X and -after-X (X is a, b or c) are run, untimed and with their
// standard output thrown away, before and after every run of that command,
// warm-ups included: to make what the command needs fresh each time (a
// container to exec into) or to remove what it made (a created container),
// so that only the command itself is timed.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

func main() {
	var (
		runs         = flag.Int("runs", 50, "timed runs of each command")
		warmup       = flag.Int("warmup", 3, "untimed runs of each command first")
		a            = flag.String("a", "", "the command under test (split on spaces)")
		b            = flag.String("b", "", "the reference command (split on spaces)")
		c            = flag.String("c", "", "a second reference command (optional)")
		nameA, nameB = flag.String("name-a", "", "label for -a"), flag.String("name-b", "", "label for -b")
		nameC        = flag.String("name-c", "", "label for -c")
		quiet        = flag.Bool("quiet", false, "throw away the timed commands' standard output (an ID that create prints)")
		before       = map[string]*string{}
		after        = map[string]*string{}
	)
	for _, x := range []string{"a", "b", "c"} {
		before[x] = flag.String("before-"+x, "", "run untimed before each run of -"+x+" (split on spaces)")
		after[x] = flag.String("after-"+x, "", "run untimed after each run of -"+x+" (split on spaces)")
	}
	flag.Parse()
	if *a == "" || (*b == "" && *c != "") || *runs < 1 {
		fmt.Fprintln(os.Stderr, "usage: compare -a 'CMD...' [-b 'CMD...' [-c 'CMD...']] [-runs N] [-warmup N]")
		os.Exit(2)
	}
	cmds := []*command{{name: *nameA, line: *a, before: *before["a"], after: *after["a"]}}
	if *b != "" {
		cmds = append(cmds, &command{name: *nameB, line: *b, before: *before["b"], after: *after["b"]})
	}
	if *c != "" {
		cmds = append(cmds, &command{name: *nameC, line: *c, before: *before["c"], after: *after["c"]})
	}
	for i := 0; i < *warmup+*runs; i++ {
		for _, cmd := range cmds {
			if cmd.before != "" {
				_, err := timeRun(strings.Fields(cmd.before), false)
				check(err, cmd.before)
			}
			d, err := timeRun(strings.Fields(cmd.line), !*quiet)
			check(err, cmd.line)
			if cmd.after != "" {
				_, err := timeRun(strings.Fields(cmd.after), false)
				check(err, cmd.after)
			}
			if i >= *warmup {
				cmd.times = append(cmd.times, d)
			}
		}
	}
	for _, cmd := range cmds {
		fmt.Printf("%-40s median %8.2fms  p10 %8.2fms  p90 %8.2fms  (%d runs)\n", cmd.label(), ms(median(cmd.times)), ms(pct(cmd.times, 10)), ms(pct(cmd.times, 90)), *runs)
	}
	for _, ref := range cmds[1:] {
		fmt.Printf("ratio (median %s / median %s): %.2f\n", cmds[0].label(), ref.label(), float64(median(cmds[0].times))/float64(median(ref.times)))
	}
}

// command is one of the commands being compared, with its timings.
type command struct {
	name, line    string
	before, after string // untimed, around each run (optional)
	times         []time.Duration
}

func (c *command) label() string {
	if c.name != "" {
		return c.name
	}
	return c.line
}

// timeRun runs argv to its exit and returns how long it took; its standard
// output is shown only if stdout (standard error always is).
func timeRun(argv []string, stdout bool) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	if stdout {
		cmd.Stdout = os.Stdout
	}
	start := time.Now()
	err := cmd.Run()
	return time.Since(start), err
}

func check(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: %s: %v\n", what, err)
		os.Exit(1)
	}
}

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
