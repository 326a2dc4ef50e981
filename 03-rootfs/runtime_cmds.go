package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/namespaces"
	"minibox/03-rootfs/oci"
)

// runtimeFlags are runc's global flags, which containerd passes before the
// command: `03-rootfs --root /run/x --log log.json --log-format json create ...`.
type runtimeFlags struct {
	root, log, logFormat string
}

func (g *runtimeFlags) add(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", oci.DefaultRoot, "directory for the state of containers (create, start, state, kill, delete, list)")
	f.StringVar(&g.log, "log", "", "also write errors to this file (containerd reads it)")
	f.StringVar(&g.logFormat, "log-format", "text", "format of --log: text or json")
}

// runtime checks the flags and returns the OCI runtime they describe.
func (g *runtimeFlags) runtime(stderr io.Writer) (*oci.Runtime, error) {
	if g.logFormat != "text" && g.logFormat != "json" {
		return nil, fmt.Errorf("--log-format %q: use text or json", g.logFormat)
	}
	return &oci.Runtime{
		Store: oci.Store{Root: g.root},
		Warn:  func(msg string) { g.write(stderr, "warning", msg) },
	}, nil
}

// fail reports an error of an OCI command: on stderr, in the --log file,
// and as exit status 1, as runc does.
func (g *runtimeFlags) fail(stderr io.Writer, err error) error {
	if err == nil {
		return nil
	}
	g.write(stderr, "error", err.Error())
	return &cli.ExitStatus{Code: 1}
}

// write prints a message on stderr and appends it to the --log file.
func (g *runtimeFlags) write(stderr io.Writer, level, msg string) {
	fmt.Fprintf(stderr, "minibox: %s%s\n", map[string]string{"warning": "warning: "}[level], msg)
	if g.log == "" {
		return
	}
	f, err := os.OpenFile(g.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "minibox: open the log file: %v\n", err)
		return
	}
	defer f.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if g.logFormat == "json" {
		line, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		fmt.Fprintf(f, "%s\n", line)
	} else {
		fmt.Fprintf(f, "time=%q level=%s msg=%q\n", now, level, msg)
	}
}

// ociCommands are runc's lifecycle commands over bundles.
func ociCommands(g *runtimeFlags) []*cobra.Command {
	return []*cobra.Command{newCreateCmd(g), newStartCmd(g), newStateCmd(g), newKillCmd(g), newDeleteCmd(g), newListCmd(g), newSpecCmd()}
}

// ociCmd builds a command that takes exactly one container ID.
func ociCmd(g *runtimeFlags, use, short string, run func(rt *oci.Runtime, cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			rt, err := g.runtime(stderr)
			if err == nil {
				err = run(rt, cmd, args)
			}
			return g.fail(stderr, err)
		},
	}
}

// oneID checks that args is one container ID (and maybe more, up to max).
func oneID(args []string, max int, usage string) error {
	if len(args) == 0 || len(args) > max {
		return fmt.Errorf("usage: %s", usage)
	}
	return oci.CheckID(args[0])
}

func newCreateCmd(g *runtimeFlags) *cobra.Command {
	var o oci.CreateOptions
	cmd := ociCmd(g, "create [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID",
		"Create a container from a bundle and leave it waiting for start",
		func(rt *oci.Runtime, cmd *cobra.Command, args []string) error {
			if err := oneID(args, 1, cmd.Use); err != nil {
				return err
			}
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			o.Stdio = namespaces.HostStdio()
			return rt.Create(args[0], o)
		})
	addCreateFlags(cmd, &o)
	return cmd
}

func addCreateFlags(cmd *cobra.Command, o *oci.CreateOptions) {
	f := cmd.Flags()
	f.StringVarP(&o.Bundle, "bundle", "b", "", "the bundle directory: config.json and the root filesystem (default: the current directory)")
	f.StringVar(&o.PidFile, "pid-file", "", "write the container's PID (as the host sees it) to this file")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket that receives the pty master of a container with process.terminal")
	f.Bool("no-pivot", false, "accepted for runc compatibility; minibox always uses pivot_root")
	f.Bool("no-new-keyring", false, "accepted for runc compatibility; minibox never creates a session keyring")
}

func newStartCmd(g *runtimeFlags) *cobra.Command {
	return ociCmd(g, "start ID", "Start the program of a created container",
		func(rt *oci.Runtime, cmd *cobra.Command, args []string) error {
			if err := oneID(args, 1, cmd.Use); err != nil {
				return err
			}
			return rt.Start(args[0])
		})
}

func newStateCmd(g *runtimeFlags) *cobra.Command {
	return ociCmd(g, "state ID", "Print the state of a container as JSON",
		func(rt *oci.Runtime, cmd *cobra.Command, args []string) error {
			if err := oneID(args, 1, cmd.Use); err != nil {
				return err
			}
			st, err := rt.State(args[0])
			if err != nil {
				return err
			}
			out, err := json.MarshalIndent(st, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", out)
			return nil
		})
}

func newKillCmd(g *runtimeFlags) *cobra.Command {
	cmd := ociCmd(g, "kill ID [SIGNAL]", "Send a signal (default SIGTERM) to a container's init",
		func(rt *oci.Runtime, cmd *cobra.Command, args []string) error {
			if err := oneID(args, 2, cmd.Use); err != nil {
				return err
			}
			sig := unix.SIGTERM
			if len(args) == 2 {
				var err error
				if sig, err = oci.ParseSignal(args[1]); err != nil {
					return err
				}
			}
			return rt.Kill(args[0], sig)
		})
	cmd.Flags().BoolP("all", "a", false, "accepted for runc compatibility: the init gets the signal; in a PID namespace its death ends the rest")
	return cmd
}

func newDeleteCmd(g *runtimeFlags) *cobra.Command {
	var force bool
	cmd := ociCmd(g, "delete [--force] ID", "Remove a stopped container (with --force: kill it first)",
		func(rt *oci.Runtime, cmd *cobra.Command, args []string) error {
			if err := oneID(args, 1, cmd.Use); err != nil {
				return err
			}
			return rt.Delete(args[0], force)
		})
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a container that still runs, then delete it")
	return cmd
}

func newListCmd(g *runtimeFlags) *cobra.Command {
	var quiet bool
	var format string
	cmd := ociCmd(g, "list", "List the containers in the state directory",
		func(rt *oci.Runtime, cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("usage: list [-q] [--format table|json]")
			}
			states, err := rt.Store.List()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch {
			case quiet:
				for _, st := range states {
					fmt.Fprintln(out, st.ID)
				}
			case format == "json":
				if states == nil {
					states = []*oci.State{}
				}
				data, _ := json.Marshal(states)
				fmt.Fprintf(out, "%s\n", data)
			case format == "table":
				w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED")
				for _, st := range states {
					pid := st.Pid
					if st.Status == "stopped" {
						pid = 0
					}
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", st.ID, pid, st.Status, st.Bundle, st.Created.Format(time.RFC3339Nano))
				}
				return w.Flush()
			default:
				return fmt.Errorf("--format %q: use table or json", format)
			}
			return nil
		})
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print the IDs only")
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or json")
	return cmd
}

func newSpecCmd() *cobra.Command {
	var bundle string
	cmd := &cobra.Command{
		Use:   "spec [--bundle DIR]",
		Short: "Write a starting config.json for a bundle, as `runc spec` does",
		Example: `  mkdir -p web/rootfs && cd web && 03-rootfs spec
  # put a root filesystem into rootfs/, edit config.json, then:
  sudo 03-rootfs run web`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := filepath.Join(bundle, "config.json")
			data, err := json.MarshalIndent(oci.DefaultSpec(), "", "\t")
			if err != nil {
				return cli.Fail(err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				if errors.Is(err, os.ErrExist) {
					return &cli.ExitStatus{Code: 1, Err: fmt.Errorf("%s exists already: remove it first", path)}
				}
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			_, err = f.Write(append(data, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return &cli.ExitStatus{Code: 1, Err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", ".", "the bundle directory to write config.json into")
	return cmd
}
