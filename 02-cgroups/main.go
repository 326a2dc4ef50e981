// Command 02-cgroups is minibox as of lesson 02: lesson 01's namespaces plus
// resource limits with control groups, on cgroup v1 and v2.
//
//	sudo go run ./02-cgroups run -m 32m --pids-limit 50 --cpus 0.5 -- sh
//	sudo go run ./02-cgroups run -m 32m --stats -- sh -c 'tail /dev/zero'
//	sudo go run ./02-cgroups demo
//	sudo go run ./02-cgroups doctor
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/namespaces"
	"minibox/02-cgroups/cgroups"
	"minibox/internal/doctor"
)

func main() {
	if namespaces.IsInit() {
		namespaces.Init()
	}
	root := &cobra.Command{Use: "02-cgroups", Short: "minibox lesson 02: namespaces and cgroup limits"}
	checks := func() []doctor.Check { return append(doctor.Base(), cgroups.DoctorChecks()...) }
	root.AddCommand(newRunCmd(), cli.NSCmd(), newDemoCmd(), cli.DoctorCmd(checks), newProbeCmd())
	os.Exit(cli.Execute(root, os.Args[1:], os.Stdout, os.Stderr))
}

func newRunCmd() *cobra.Command {
	var (
		flags  cli.RunFlags
		limits cgroups.Flags
		stats  bool
	)
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] [--] COMMAND [ARG...]",
		Short: "Run a command in new namespaces, inside a cgroup with the given limits",
		Example: `  sudo 02-cgroups run -m 32m -- sh
  sudo 02-cgroups run --cpus 0.5 --stats -- sh -c 'timeout 2 sh -c "while :; do :; done"'
  sudo 02-cgroups run --pids-limit 10 -- sh -c 'for i in $(seq 20); do sleep 5 & done; wait'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.NoCommand(cmd)
			}
			res, err := limits.Resources(runtime.NumCPU())
			if err != nil {
				return cli.Fail(err)
			}
			spec, err := flags.Spec(args)
			if err != nil {
				return cli.Fail(err)
			}
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			return run(spec, res, stats, cmd.ErrOrStderr())
		},
	}
	flags.Add(cmd)
	limits.AddFlags(cmd.Flags())
	cmd.Flags().BoolVar(&stats, "stats", false, "print what the container used when it exits: peak memory, CPU time, peak pids, OOM kills")
	return cmd
}

// run puts the limits into the spec, runs it and reports like Docker would.
func run(spec *specs.Spec, res *specs.LinuxResources, stats bool, stderr io.Writer) error {
	spec.Linux.Resources = res
	spec.Linux.CgroupsPath = cgroups.Prefix + "/" + namespaces.RandomID()
	result, err := cgroups.Run(spec, namespaces.HostStdio(), cgroups.Options{
		Warn: func(msg string) { fmt.Fprintf(stderr, "WARNING: %s\n", msg) },
	})
	if result != nil {
		result.Report(stderr, stats && err == nil)
	}
	if err != nil {
		return cli.FromRun(0, err)
	}
	return cli.Status(result.ExitCode)
}
