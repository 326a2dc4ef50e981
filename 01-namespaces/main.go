// Command 01-namespaces is minibox as of lesson 01: it runs a command in new
// PID, UTS, IPC, mount, network and cgroup namespaces (and optionally a user
// namespace), and shows which namespaces a process is in.
//
//	sudo go run ./01-namespaces run --hostname box -- sh
//	sudo go run ./01-namespaces ns 1
//	sudo go run ./01-namespaces demo
//	sudo go run ./01-namespaces doctor
package main

import (
	"os"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/namespaces"
	"minibox/internal/doctor"
)

func main() {
	// The container's init is this same binary, re-executed by the runtime.
	// It must be recognised before anything else runs.
	if namespaces.IsInit() {
		namespaces.Init()
	}
	root := &cobra.Command{Use: "01-namespaces", Short: "minibox lesson 01: run a command in new namespaces"}
	root.AddCommand(newRunCmd(), cli.NSCmd(), newDemoCmd(), cli.DoctorCmd(doctor.Base), newShowCmd())
	os.Exit(cli.Execute(root, os.Args[1:], os.Stdout, os.Stderr))
}

func newRunCmd() *cobra.Command {
	var flags cli.RunFlags
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] [--] COMMAND [ARG...]",
		Short: "Run a command in new PID, UTS, IPC, mount, network and cgroup namespaces",
		Example: `  sudo 01-namespaces run --hostname box -- sh
  sudo 01-namespaces run -- ps
  sudo 01-namespaces run --init -- sh -c 'sleep 100 & exec sleep 1'
  sudo 01-namespaces run --userns -- id`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cli.NoCommand(cmd)
			}
			spec, err := flags.Spec(args)
			if err != nil {
				return cli.Fail(err)
			}
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			return cli.FromRun(namespaces.Run(spec, namespaces.HostStdio()))
		},
	}
	flags.Add(cmd)
	return cmd
}
