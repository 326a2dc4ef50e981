package ocicli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/initproto"
	"minibox/01-namespaces/namespaces"
	"minibox/03-rootfs/oci"
	"minibox/03-rootfs/rootfs"
)

// MaybeInit turns this process into what the runtime re-executed it as,
// and then never returns: the container's init (create, run) or the
// process that joins a running container (exec). Otherwise it returns at
// once. A program that hosts Commands calls it first thing in main.
func MaybeInit() {
	if oci.IsExecInit() {
		// exec: join the container's mount namespace, take the process's
		// console, user, capabilities and seccomp filter, execute it.
		oci.ExecInit()
	}
	if namespaces.IsInit() {
		// The container's init: lesson 03's steps give it its root
		// filesystem and then take away its powers, right before the
		// command starts. (With a terminal, the init opens its pty in
		// between.) AwaitStart holds the init, once all is set up, until
		// the OCI `start` (it does not wait for a plain `run`); the
		// rlimits that bind the init itself come last.
		namespaces.InitWithGate(initproto.Gates(oci.AwaitStart, rootfs.LateRlimits), rootfs.Setup, oci.Console, rootfs.Finish)
	}
}

// RunBundle is runc's `run`: create, start, wait and delete a bundle's
// container, with our stdio (or, for process.terminal, a pty we copy).
// args is the container ID.
func RunBundle(g *Flags, cmd *cobra.Command, args []string, o oci.CreateOptions) error {
	stderr := cmd.ErrOrStderr()
	if len(args) != 1 {
		return g.Fail(stderr, fmt.Errorf("usage: run [--bundle DIR] [--pid-file FILE] ID (or run --rootfs DIR -- COMMAND)"))
	}
	if err := cli.RequireRoot(); err != nil {
		return err
	}
	rt, err := g.Runtime(stderr)
	if err != nil {
		return g.Fail(stderr, err)
	}
	o.Stdio = namespaces.HostStdio()
	code, err := rt.Run(args[0], o, AttachConsole)
	if err != nil {
		return g.Fail(stderr, err)
	}
	return cli.Status(code)
}

// IsBundleRun tells runc's `run ID` from Docker's `run --rootfs DIR CMD`:
// no --rootfs, and a --bundle or a config.json in the current directory.
func IsBundleRun(rootfs, bundle string, args []string) bool {
	if rootfs != "" {
		return false
	}
	if bundle != "" {
		return true
	}
	_, err := os.Stat("config.json")
	return len(args) == 1 && err == nil
}
