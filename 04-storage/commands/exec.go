package commands

import (
	"errors"
	"io"
	"os"
	"os/signal"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
)

func (c *CLI) execCmd() *cobra.Command {
	var o engine.ExecOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			o.Args = args[1:]
			o.Stdin, o.Stdout, o.Stderr = os.Stdin, os.Stdout, os.Stderr
			if o.Tty && o.Interactive && !term.IsTerminal(int(os.Stdin.Fd())) {
				return cli.Fail(errors.New("the input device is not a TTY"))
			}
			if o.Tty {
				o.Console = func(master *os.File) { RelayConsole(master, o.Interactive) }
			}
			code, err := e.Exec(args[0], o)
			if err != nil {
				var se *engine.StartError
				if errors.As(err, &se) {
					return &cli.ExitStatus{Code: se.Code, Err: err}
				}
				return daemonErr(err, 1)
			}
			if code != 0 {
				return cli.Status(code)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&o.Tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&o.Detach, "detach", "d", false, "run the command in the background")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set environment variables")
	f.StringVarP(&o.User, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	f.StringVarP(&o.Workdir, "workdir", "w", "", "working directory inside the container")
	return cmd
}

// RelayConsole copies between our terminal (raw while it runs) and a pty
// master until the process closes its side.
func RelayConsole(master *os.File, interactive bool) {
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		if old, err := term.MakeRaw(fd); err == nil {
			defer term.Restore(fd, old)
		}
		resize := func() {
			if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(w), Row: uint16(h)})
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				resize()
			}
		}()
	}
	if interactive {
		go io.Copy(master, os.Stdin)
	}
	io.Copy(os.Stdout, master) // ends with EIO when the process is gone
}
