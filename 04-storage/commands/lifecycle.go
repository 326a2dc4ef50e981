package commands

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
	"minibox/04-storage/volumes"
)

// withEngine wraps a command's body: the engine is made after the flags.
func (c *CLI) withEngine(fn func(cmd *cobra.Command, e *engine.Engine, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := c.Engine()
		if err != nil {
			return cli.Fail(err)
		}
		return fn(cmd, e, args)
	}
}

func (c *CLI) startCmd() *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			if attach || interactive {
				if len(args) != 1 {
					return cli.Fail(errors.New("you cannot start and attach multiple containers at once"))
				}
				in, err := e.Inspect(args[0])
				if err != nil {
					return daemonErr(err, 1)
				}
				return c.runAttached(cmd, e, in.Container, interactive && in.Config.OpenStdin, in.Config.Tty)
			}
			var failed []string
			for _, ref := range args {
				if err := e.Start(ref, nil); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "Error response from daemon: %s\n", message(err))
					failed = append(failed, ref)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), ref)
			}
			if len(failed) > 0 {
				return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("Error: failed to start containers: %s", strings.Join(failed, ", "))}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach stdout and stderr and pass on signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach the container's stdin")
	return cmd
}

func timeoutFlag(cmd *cobra.Command) func() *int {
	var t int
	cmd.Flags().IntVarP(&t, "time", "t", 10, "seconds to wait before killing the container")
	cmd.Flags().IntVar(&t, "timeout", 10, "seconds to wait before killing the container")
	cmd.Flags().MarkHidden("timeout")
	return func() *int {
		if cmd.Flags().Changed("time") || cmd.Flags().Changed("timeout") {
			return &t
		}
		return nil
	}
}

func (c *CLI) stopCmd() *cobra.Command {
	return c.timedCmd("stop [OPTIONS] CONTAINER [CONTAINER...]",
		"Stop one or more running containers (SIGTERM, then SIGKILL after a grace period)",
		(*engine.Engine).Stop)
}

func (c *CLI) restartCmd() *cobra.Command {
	return c.timedCmd("restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
		(*engine.Engine).Restart)
}

// timedCmd is a command over one or more containers with stop's grace
// period (-t): stop and restart.
func (c *CLI) timedCmd(use, short string, do func(e *engine.Engine, ref string, timeout *int) error) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.MinimumNArgs(1)}
	timeout := timeoutFlag(cmd)
	cmd.RunE = c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
		return each(cmd, args, func(ref string) error { return do(e, ref, timeout()) })
	})
	return cmd
}

func (c *CLI) killCmd() *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			return each(cmd, args, func(ref string) error { return e.Kill(ref, sig) })
		}),
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send")
	return cmd
}

func (c *CLI) rmCmd() *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Args:    cobra.MinimumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			return each(cmd, args, func(ref string) error { return e.Remove(ref, force, volumes) })
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove the anonymous volumes of the container")
	return cmd
}

func (c *CLI) waitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			var failed bool
			for _, ref := range args {
				code, err := e.Wait(ref, "not-running")
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "Error response from daemon: %s\n", message(err))
					failed = true
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), code)
			}
			if failed {
				return &cli.ExitStatus{Code: 1}
			}
			return nil
		}),
	}
}

func (c *CLI) renameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			return daemonErr(e.Rename(args[0], args[1]), 1)
		}),
	}
}

func (c *CLI) attachCmd() *cobra.Command {
	var noStdin bool
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			in, err := e.Inspect(args[0])
			if err != nil {
				return daemonErr(err, 1)
			}
			if !in.State.Running {
				return &cli.ExitStatus{Code: 1, Err: errors.New("You cannot attach to a stopped container, start it first")}
			}
			conn, err := e.Attach(in.ID)
			if err != nil {
				return daemonErr(err, 1)
			}
			return relay(cmd, e, in.ID, conn, !noStdin && in.Config.OpenStdin, in.Config.Tty)
		}),
	}
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach stdin")
	cmd.Flags().Bool("sig-proxy", true, "proxy all received signals to the process")
	return cmd
}

func (c *CLI) containerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "Manage containers"}
	var force bool
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			_ = force // no prompt: minibox never asks
			gone, err := e.Prune()
			if len(gone) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "Deleted Containers:")
				for _, id := range gone {
					fmt.Fprintln(cmd.OutOrStdout(), id)
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Total reclaimed space: 0B")
			return daemonErr(err, 1)
		}),
	}
	prune.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	cmd.AddCommand(prune)
	// `container ls`, `container rm` ... are the top-level commands again.
	for _, mk := range []func() *cobra.Command{c.runCmd, c.createCmd, c.startCmd, c.stopCmd, c.killCmd, c.rmCmd,
		c.waitCmd, c.inspectCmd, c.restartCmd, c.renameCmd, c.attachCmd, c.logsCmd, c.topCmd} {
		cmd.AddCommand(mk())
	}
	ls := c.psCmd()
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"list", "ps"}
	cmd.AddCommand(ls)
	return cmd
}

// systemPrune is `docker system prune`, in Docker's order and words:
// stopped containers, then (with --volumes) the anonymous volumes no
// container uses, then the dangling images (with -a every image no
// container uses); each list under its heading, then the space reclaimed.
// The volumes and images of the containers it removes are free by then.
func systemPrune(out io.Writer, e *engine.Engine, allImages, withVolumes bool) error {
	section := func(title string, lines []string) {
		if len(lines) > 0 {
			fmt.Fprintln(out, title)
			for _, l := range lines {
				fmt.Fprintln(out, l)
			}
			fmt.Fprintln(out)
		}
	}
	gone, err := e.Prune()
	section("Deleted Containers:", gone)
	if err != nil {
		return daemonErr(err, 1)
	}
	var reclaimed int64
	if withVolumes {
		vs, err := volumeStore(e)
		if err != nil {
			return daemonErr(err, 1)
		}
		names, freed, err := vs.Prune(volumes.Filter{}, false)
		section("Deleted Volumes:", names)
		reclaimed += freed
		if err != nil {
			return daemonErr(err, 1)
		}
	}
	if st, err := imageStore(e); err == nil {
		lines, freed, err := st.Prune(allImages)
		for i, l := range lines { // prune's lists are lowercase, as Docker's
			k, v, _ := strings.Cut(l, ": ")
			lines[i] = strings.ToLower(k) + ": " + v
		}
		section("Deleted Images:", lines)
		reclaimed += freed
		if err != nil {
			return daemonErr(err, 1)
		}
	}
	fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(reclaimed))
	return nil
}

func (c *CLI) systemCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage minibox"}
	var force, all, volumes bool
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove stopped containers and dangling images (-a: all unused images; --volumes: anonymous volumes)",
		Args:  cobra.NoArgs,
		RunE: c.withEngine(func(cmd *cobra.Command, e *engine.Engine, args []string) error {
			_ = force // no prompt: minibox never asks
			return systemPrune(cmd.OutOrStdout(), e, all, volumes)
		}),
	}
	prune.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	prune.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	prune.Flags().BoolVar(&volumes, "volumes", false, "prune anonymous volumes")
	cmd.AddCommand(prune, c.infoCmd(), c.bootCmd())
	return cmd
}
