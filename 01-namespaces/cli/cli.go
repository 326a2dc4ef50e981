// Package cli holds the command-line pieces of lesson 01 that every later
// lesson's program reuses: Docker-style exit statuses, the `run` flags that
// fill the namespace part of the spec, and the `ns` and `doctor` commands.
// Each lesson's main.go adds its own flags and wires what exists up to it.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"minibox/01-namespaces/namespaces"
	"minibox/internal/doctor"
)

// Execute runs the command line and returns the status to exit with.
// Errors of the program itself exit 125, as Docker's do, so that they cannot
// be mistaken for the status of the command that ran in the container.
func Execute(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var es *ExitStatus
	if errors.As(err, &es) {
		if es.Err != nil {
			fmt.Fprintf(stderr, "minibox: %v\n", es.Err)
		}
		return es.Code
	}
	fmt.Fprintf(stderr, "minibox: %v\nSee '%s --help'.\n", err, root.Name())
	return 125
}

// ExitStatus is an error that carries the status the program exits with.
type ExitStatus struct {
	Code int
	Err  error // nil: exit quietly
}

func (e *ExitStatus) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Fail is a failure of minibox itself: status 125 with a message.
func Fail(err error) error { return &ExitStatus{125, err} }

// Status ends the program quietly with code, the container's exit status.
func Status(code int) error { return &ExitStatus{Code: code} }

// FromRun turns what namespaces.Run (or a later lesson's run) returned into
// the program's exit: the command's status, 126/127 when it could not start,
// 125 for anything else.
func FromRun(code int, err error) error {
	var se *namespaces.StartError
	if errors.As(err, &se) {
		return &ExitStatus{se.Code, se}
	}
	if err != nil {
		return Fail(err)
	}
	return Status(code)
}

// RequireRoot fails unless we run as root.
func RequireRoot() error {
	if os.Geteuid() != 0 {
		return Fail(errors.New("needs root (try sudo): creating namespaces needs CAP_SYS_ADMIN"))
	}
	return nil
}

// NoCommand is what `run` without a command does: usage and status 125.
func NoCommand(cmd *cobra.Command) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "minibox: no command given: say what to run after --\n\n%s", cmd.UsageString())
	return &ExitStatus{Code: 125}
}

// RunFlags are lesson 01's flags of `run`.
type RunFlags struct {
	Hostname string
	Init     bool
	UserNS   string
	userNSOn func() bool
}

// Add registers the flags on cmd. Everything after the command is the
// command's own (`run sh -c 'x'` must not read -c as one of our flags), so
// flags stop at the first argument.
func (f *RunFlags) Add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.StringVar(&f.Hostname, "hostname", "", "container host name (default: a random ID)")
	fs.BoolVar(&f.Init, "init", false, "run a small init as PID 1 that reaps zombies and forwards signals")
	fs.StringVar(&f.UserNS, "userns", "", "add a user namespace: root inside is HOSTID outside; MAP is HOSTID[:SIZE] or CONTAINERID:HOSTID:SIZE")
	fs.Lookup("userns").NoOptDefVal = fmt.Sprintf("%d:%d", namespaces.DefaultUserNS.HostID, namespaces.DefaultUserNS.Size)
	f.userNSOn = func() bool { return fs.Changed("userns") }
}

// Spec builds the spec for args from the flags: the command runs in the
// caller's working directory with the caller's environment, since a
// lesson-01 container shares the host's files.
func (f *RunFlags) Spec(args []string) (*specs.Spec, error) {
	c := namespaces.Config{Args: args, Env: os.Environ(), Hostname: f.Hostname, Init: f.Init}
	if f.userNSOn != nil && f.userNSOn() {
		m, err := namespaces.ParseIDMap(f.UserNS)
		if err != nil {
			return nil, err
		}
		c.UserNS = &m
	}
	if cwd, err := os.Getwd(); err == nil {
		c.Cwd = cwd
	}
	return namespaces.NewSpec(c)
}

// NSCmd is `ns [PID]`: the namespaces of PID next to the caller's, or every
// namespace on the machine like lsns.
func NSCmd() *cobra.Command {
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
					return Fail(err)
				}
				fmt.Fprintln(w, "NS\tTYPE\tNPROCS\tPID\tCOMMAND")
				for _, s := range list {
					fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%s\n", s.Inode, s.Type, s.NProcs, s.LowPID, s.Command)
				}
				return nil
			}
			pid, err := strconv.Atoi(args[0])
			if err != nil || pid <= 0 {
				return Fail(fmt.Errorf("invalid PID %q: give a process ID such as 1", args[0]))
			}
			list, err := namespaces.Inspect(pid)
			if err != nil {
				if errors.Is(err, os.ErrPermission) && os.Geteuid() != 0 {
					err = fmt.Errorf("%w (reading another user's namespaces needs sudo)", err)
				}
				return Fail(err)
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

// DoctorCmd is `doctor`: it runs checks and exits 1 when one failed.
func DoctorCmd(checks func() []doctor.Check) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can run the lab, and say how to fix what is missing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if failed := doctor.Run(cmd.OutOrStdout(), checks()); failed > 0 {
				return Status(1)
			}
			return nil
		},
	}
}
