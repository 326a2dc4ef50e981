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
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/namespaces"
	"minibox/internal/doctor"
)

func main() {
	// The container's init is this same binary, re-executed by the runtime.
	// It must be recognised before anything else runs.
	if namespaces.IsInit() {
		namespaces.Init()
	}
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// exitStatus is an error that carries the status the program exits with.
type exitStatus struct {
	code int
	err  error // nil: exit quietly
}

func (e *exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

// execute runs the command line and returns the exit status. Errors of the
// program itself exit 125, as Docker's do, so that they cannot be mistaken for
// the status of the command that ran in the container.
func execute(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var es *exitStatus
	if errors.As(err, &es) {
		if es.err != nil {
			fmt.Fprintf(stderr, "minibox: %v\n", es.err)
		}
		return es.code
	}
	fmt.Fprintf(stderr, "minibox: %v\nSee '%s --help'.\n", err, root.Name())
	return 125
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "01-namespaces",
		Short:         "minibox lesson 01: run a command in new namespaces",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newNSCmd(), newDemoCmd(), newDoctorCmd(), newShowCmd())
	return root
}

func newRunCmd() *cobra.Command {
	var (
		hostname string
		init     bool
		userns   string
	)
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] [--] COMMAND [ARG...]",
		Short: "Run a command in new PID, UTS, IPC, mount, network and cgroup namespaces",
		Example: `  sudo 01-namespaces run --hostname box -- sh
  sudo 01-namespaces run -- ps
  sudo 01-namespaces run --init -- sh -c 'sleep 100 & exec sleep 1'
  sudo 01-namespaces run --userns -- id`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "minibox: no command given: say what to run after --\n\n%s", cmd.UsageString())
				return &exitStatus{code: 125}
			}
			c := namespaces.Config{Args: args, Env: os.Environ(), Hostname: hostname, Init: init}
			if cmd.Flags().Changed("userns") {
				m, err := namespaces.ParseIDMap(userns)
				if err != nil {
					return &exitStatus{125, err}
				}
				c.UserNS = &m
			}
			if cwd, err := os.Getwd(); err == nil {
				c.Cwd = cwd
			}
			spec, err := namespaces.NewSpec(c)
			if err != nil {
				return &exitStatus{125, err}
			}
			if err := requireRoot(); err != nil {
				return err
			}
			code, err := namespaces.Run(spec, namespaces.HostStdio())
			var se *namespaces.StartError
			if errors.As(err, &se) {
				return &exitStatus{se.Code, se}
			}
			if err != nil {
				return &exitStatus{125, err}
			}
			return &exitStatus{code: code}
		},
	}
	// Everything after the command is the command's own: `run sh -c 'x'`
	// must not read -c as one of our flags.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&hostname, "hostname", "", "container host name (default: a random ID)")
	cmd.Flags().BoolVar(&init, "init", false, "run a small init as PID 1 that reaps zombies and forwards signals")
	cmd.Flags().StringVar(&userns, "userns", "", "add a user namespace: root inside is HOSTID outside; MAP is HOSTID[:SIZE] or CONTAINERID:HOSTID:SIZE")
	cmd.Flags().Lookup("userns").NoOptDefVal = fmt.Sprintf("%d:%d", namespaces.DefaultUserNS.HostID, namespaces.DefaultUserNS.Size)
	return cmd
}

func requireRoot() error {
	if os.Geteuid() != 0 {
		return &exitStatus{125, errors.New("needs root (try sudo): creating namespaces needs CAP_SYS_ADMIN")}
	}
	return nil
}

func newNSCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ns [PID]",
		Short: "Show the namespaces of PID next to yours, or list every namespace like lsns",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			defer w.Flush()
			if len(args) == 0 {
				list, err := namespaces.List()
				if err != nil {
					return &exitStatus{125, err}
				}
				fmt.Fprintln(w, "NS\tTYPE\tNPROCS\tPID\tCOMMAND")
				for _, s := range list {
					fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%s\n", s.Inode, s.Type, s.NProcs, s.LowPID, s.Command)
				}
				return nil
			}
			pid, err := strconv.Atoi(args[0])
			if err != nil || pid <= 0 {
				return &exitStatus{125, fmt.Errorf("invalid PID %q: give a process ID such as 1", args[0])}
			}
			list, err := namespaces.Inspect(pid)
			if err != nil {
				if errors.Is(err, os.ErrPermission) && os.Geteuid() != 0 {
					err = fmt.Errorf("%w (reading another user's namespaces needs sudo)", err)
				}
				return &exitStatus{125, err}
			}
			fmt.Fprintf(w, "TYPE\tNS\tSHARED WITH YOU (PID %d)\n", os.Getpid())
			for _, ns := range list {
				shared := "no: its own"
				if ns.Shared {
					shared = "yes"
				}
				fmt.Fprintf(w, "%s\t%d\t%s\n", ns.Type, ns.Inode, shared)
			}
			return nil
		},
	}
}

func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can run the lab, and say how to fix what is missing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if failed := doctor.Run(cmd.OutOrStdout(), doctor.Base()); failed > 0 {
				return &exitStatus{code: 1}
			}
			return nil
		},
	}
}
