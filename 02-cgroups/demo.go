package main

import (
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/namespaces"
	"minibox/02-cgroups/cgroups"
)

// newDemoCmd shows three limits biting, each proven by the kernel's own
// counters: a memory hog OOM-killed, a fork loop stopped at its pids limit,
// and a busy loop held to half a CPU.
func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Show a memory limit, a pids limit and a CPU limit biting",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return cli.Fail(err)
			}
			v, err := cgroups.Detect(cgroups.DefaultRoot)
			if err != nil {
				return cli.Fail(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "This machine uses cgroup v%d. Three containers, each with one limit:\n\n", v)
			w := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "CONTAINER\tLIMIT\tEXIT\tWHAT THE CGROUP COUNTED")
			demos := []struct {
				what  string
				limit cgroups.Flags
				args  []string
			}{
				{"memory hog", cgroups.Flags{Memory: "32m"}, []string{self, "probe", "hog"}},
				{"fork loop (40 sleeps)", cgroups.Flags{PidsLimit: 10}, []string{"sh", "-c", "for i in $(seq 40); do sleep 2 & done 2>/dev/null; wait"}},
				{"busy loop for 2s", cgroups.Flags{CPUs: "0.5"}, []string{self, "probe", "busy", "2s"}},
			}
			for _, d := range demos {
				r, err := runQuiet(d.limit, d.args)
				if err != nil {
					return cli.Fail(fmt.Errorf("%s: %w", d.what, err))
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", d.what, describe(d.limit), r.ExitCode, r.Stats)
			}
			w.Flush()
			fmt.Fprintln(out, "\nThe hog was killed by the kernel's OOM killer (exit 137 = 128+SIGKILL), the")
			fmt.Fprintln(out, "fork loop never had more than 10 processes, and 2 seconds of spinning cost")
			fmt.Fprintln(out, "about 1 second of CPU. Try it yourself:")
			fmt.Fprintln(out, "  sudo go run ./02-cgroups run -m 32m --stats -- sh -c 'tail /dev/zero'")
			return nil
		},
	}
}

func describe(f cgroups.Flags) string {
	switch {
	case f.Memory != "":
		return "-m " + f.Memory
	case f.PidsLimit != 0:
		return "--pids-limit " + strconv.FormatInt(f.PidsLimit, 10)
	default:
		return "--cpus " + f.CPUs
	}
}

// runQuiet runs one demo container with its output thrown away.
func runQuiet(f cgroups.Flags, args []string) (*cgroups.Result, error) {
	res, err := f.Resources(1)
	if err != nil {
		return nil, err
	}
	spec, err := namespaces.NewSpec(namespaces.Config{Args: args, Env: os.Environ()})
	if err != nil {
		return nil, err
	}
	spec.Linux.Resources = res
	spec.Linux.CgroupsPath = cgroups.Prefix + "/demo-" + namespaces.RandomID()[:12]
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	r, err := cgroups.Run(spec, namespaces.Stdio{Stdin: null, Stdout: null, Stderr: null}, cgroups.Options{})
	if err == nil && r.Cleanup != nil {
		err = r.Cleanup
	}
	return r, err
}

// newProbeCmd holds the demo's workloads: `probe hog` eats memory until it
// is killed, `probe busy D` spins one CPU for D of wall time.
func newProbeCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "probe",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "hog":
				var keep [][]byte
				for {
					b := make([]byte, 1<<20)
					for i := range b {
						b[i] = 1
					}
					keep = append(keep, b)
				}
			case "busy":
				d := 2 * time.Second
				if len(args) > 1 {
					d, _ = time.ParseDuration(args[1])
				}
				for start := time.Now(); time.Since(start) < d; {
				}
				return nil
			}
			return fmt.Errorf("unknown probe %q", args[0])
		},
	}
}
