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
	"minibox/01-namespaces/initproto"
	"minibox/01-namespaces/namespaces"
	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/oci"
	"minibox/03-rootfs/rootfs"
	"minibox/03-rootfs/runflags"
	"minibox/internal/doctor"
)

func main() {
	// The container's init: lesson 03's steps give it its root filesystem
	// and then take away its powers, right before the command starts.
	// (With a terminal, the init opens its pty in between.)
	if namespaces.IsInit() {
		// AwaitStart holds the init, once all is set up, until the OCI
		// `start` (it does not wait for a plain `run`); the rlimits that
		// bind the init itself come last.
		namespaces.InitWithGate(initproto.Gates(oci.AwaitStart, rootfs.LateRlimits), rootfs.Setup, oci.Console, rootfs.Finish)
	}
	root := &cobra.Command{Use: "03-rootfs", Short: "minibox lesson 03: a root filesystem, capabilities and users; an OCI runtime"}
	var g runtimeFlags
	g.add(root)
	checks := func() []doctor.Check { return append(doctor.Base(), cgroups.DoctorChecks()...) }
	root.AddCommand(newRunCmd(&g), cli.NSCmd(), newDemoCmd(), newMkrootfsCmd(), cli.DoctorCmd(checks))
	root.AddCommand(ociCommands(&g)...)
	os.Exit(cli.Execute(root, os.Args[1:], os.Stdout, os.Stderr))
}

func newRunCmd(g *runtimeFlags) *cobra.Command {
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
			if isBundleRun(opts.Rootfs, oo.Bundle, args) {
				return runBundle(g, cmd, args, oo)
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
			term, err := newTerminal(opts.TTY, opts.Interactive)
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
func run(spec *specs.Spec, res *specs.LinuxResources, term *terminal, stats bool, stderr io.Writer) error {
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

// runBundle is runc's `run`: create, start, wait and delete a bundle's
// container, with our stdio (or, for process.terminal, a pty we copy).
func runBundle(g *runtimeFlags, cmd *cobra.Command, args []string, o oci.CreateOptions) error {
	stderr := cmd.ErrOrStderr()
	if len(args) != 1 {
		return g.fail(stderr, fmt.Errorf("usage: run [--bundle DIR] [--pid-file FILE] ID (or run --rootfs DIR -- COMMAND)"))
	}
	if err := cli.RequireRoot(); err != nil {
		return err
	}
	rt, err := g.runtime(stderr)
	if err != nil {
		return g.fail(stderr, err)
	}
	o.Stdio = namespaces.HostStdio()
	code, err := rt.Run(args[0], o, attachConsole)
	if err != nil {
		return g.fail(stderr, err)
	}
	return cli.Status(code)
}

// isBundleRun tells runc's `run ID` from Docker's `run --rootfs DIR CMD`:
// no --rootfs, and a --bundle or a config.json in the current directory.
func isBundleRun(rootfs, bundle string, args []string) bool {
	if rootfs != "" {
		return false
	}
	if bundle != "" {
		return true
	}
	_, err := os.Stat("config.json")
	return len(args) == 1 && err == nil
}
