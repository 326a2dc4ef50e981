// Command 03-rootfs is minibox as of lesson 03: lessons 01 and 02 (new
// namespaces, cgroup limits) plus a root filesystem of the container's own,
// Docker's mounts, masked and read-only paths, a user from the image,
// capabilities, rlimits and no_new_privs.
//
//	sudo go run ./03-rootfs run --rootfs ./busybox -it -- sh
//	sudo go run ./03-rootfs run --rootfs ./busybox -u 1000:1000 -w /work -e A=1 -- id
//	sudo go run ./03-rootfs run --rootfs ./busybox --read-only --tmpfs /tmp -v /srv:/srv:ro -- sh -c 'ls /srv'
//	sudo go run ./03-rootfs demo
//	sudo go run ./03-rootfs doctor
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
	"minibox/03-rootfs/oci"
	"minibox/03-rootfs/ocicli"
	"minibox/03-rootfs/runflags"
	"minibox/internal/doctor"
)

func main() {
	// The container's init (and an exec's process) is this binary run
	// again: it becomes that and never returns (see ocicli.MaybeInit).
	ocicli.MaybeInit()
	root := &cobra.Command{Use: "03-rootfs", Short: "minibox lesson 03: a root filesystem, capabilities and users; an OCI runtime"}
	var g ocicli.Flags
	g.AddFlags(root)
	checks := func() []doctor.Check { return append(doctor.Base(), cgroups.DoctorChecks()...) }
	root.AddCommand(newRunCmd(&g), cli.NSCmd(), newDemoCmd(), newMkrootfsCmd(), cli.DoctorCmd(checks))
	root.AddCommand(ocicli.Commands(&g)...)
	os.Exit(cli.Execute(root, os.Args[1:], os.Stdout, os.Stderr))
}

func newRunCmd(g *ocicli.Flags) *cobra.Command {
	var (
		flags  cli.RunFlags
		limits cgroups.Flags
		opts   runflags.Flags
		stats  bool
		oo     oci.CreateOptions
	)
	cmd := &cobra.Command{
		Use:   "run --rootfs DIR [OPTIONS] [--] COMMAND [ARG...]\n  03-rootfs run [--bundle DIR] [--pid-file FILE] ID",
		Short: "Run a command in a root filesystem of its own, in new namespaces and a cgroup; or run a bundle as runc does",
		Example: `  sudo 03-rootfs run --rootfs ./busybox -it -- sh
  sudo 03-rootfs run --rootfs ./busybox -u nobody -e GREETING=hi -w /work -- sh -c 'id; pwd; env'
  sudo 03-rootfs run --rootfs ./busybox --read-only --tmpfs /tmp -- touch /tmp/ok /nope
  sudo 03-rootfs run --rootfs ./busybox --cap-drop ALL -- grep Cap /proc/self/status
  sudo 03-rootfs run --rootfs ./busybox -v /srv/data:/data:ro --ulimit nofile=512:1024 -- sh`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if ocicli.IsBundleRun(opts.Rootfs, oo.Bundle, args) {
				return ocicli.RunBundle(g, cmd, args, oo)
			}
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
			if err := opts.Apply(spec); err != nil {
				return cli.Fail(err)
			}
			term, err := ocicli.NewTerminal(opts.TTY, opts.Interactive)
			if err != nil {
				return cli.Fail(err)
			}
			if err := cli.RequireRoot(); err != nil {
				term.Close()
				return err
			}
			res.Devices = opts.DeviceRules()
			return run(spec, res, term, stats, cmd.ErrOrStderr())
		},
	}
	flags.Add(cmd)
	limits.AddFlags(cmd.Flags())
	opts.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&oo.Bundle, "bundle", "b", "", "run the OCI bundle in this directory (config.json and its root), as `runc run`")
	cmd.Flags().StringVar(&oo.PidFile, "pid-file", "", "with --bundle: write the container's PID to this file")
	cmd.Flags().BoolVar(&stats, "stats", false, "print what the container used when it exits: peak memory, CPU time, peak pids, OOM kills")
	return cmd
}

// run puts the limits into the spec, runs it in a new cgroup with the
// terminal's streams and reports like Docker would.
func run(spec *specs.Spec, res *specs.LinuxResources, term *ocicli.Terminal, stats bool, stderr io.Writer) error {
	spec.Linux.Resources = res
	spec.Linux.CgroupsPath = cgroups.Prefix + "/" + namespaces.RandomID()
	result, err := cgroups.Run(spec, term.Stdio(), cgroups.Options{
		Warn:  func(msg string) { fmt.Fprintf(stderr, "WARNING: %s\n", msg) },
		Hooks: term.Hooks(spec),
	})
	term.Close()
	if result != nil {
		result.Report(stderr, stats && err == nil)
	}
	if err != nil {
		return cli.FromRun(0, err)
	}
	return cli.Status(result.ExitCode)
}
