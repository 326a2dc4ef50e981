package ocicli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/namespaces"
	"minibox/03-rootfs/oci"
)

// Flags are runc's global flags, which containerd passes before the
// command: `03-rootfs --root /run/x --log log.json --log-format json create ...`.
type Flags struct {
	Root, Log, LogFormat string
}

// AddFlags registers --root, --log and --log-format as persistent flags of
// cmd: the program's root command, or a `runtime` command that mounts
// Commands under it.
func (g *Flags) AddFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&g.Root, "root", oci.DefaultRoot, "directory for the state of containers (create, start, state, kill, delete, list, exec)")
	f.StringVar(&g.Log, "log", "", "also write errors to this file (containerd reads it)")
	f.StringVar(&g.LogFormat, "log-format", "text", "format of --log: text or json")
}

// Runtime checks the flags and returns the OCI runtime they describe.
func (g *Flags) Runtime(stderr io.Writer) (*oci.Runtime, error) {
	if g.LogFormat != "text" && g.LogFormat != "json" {
		return nil, fmt.Errorf("--log-format %q: use text or json", g.LogFormat)
	}
	return &oci.Runtime{
		Store: oci.Store{Root: g.Root},
		Warn:  func(msg string) { g.write(stderr, "warning", msg) },
	}, nil
}

// Fail reports an error of an OCI command: on stderr, in the --log file,
// and as exit status 1, as runc does.
func (g *Flags) Fail(stderr io.Writer, err error) error {
	return g.failWith(stderr, err, 1)
}

// failWith is Fail with another exit status (exec: 126, 127).
func (g *Flags) failWith(stderr io.Writer, err error, code int) error {
	if err == nil {
		return nil
	}
	g.write(stderr, "error", err.Error())
	return &cli.ExitStatus{Code: code}
}

// write prints a message on stderr and appends it to the --log file.
func (g *Flags) write(stderr io.Writer, level, msg string) {
	fmt.Fprintf(stderr, "minibox: %s%s\n", map[string]string{"warning": "warning: "}[level], msg)
	if g.Log == "" {
		return
	}
	f, err := os.OpenFile(g.Log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintf(stderr, "minibox: open the log file: %v\n", err)
		return
	}
	defer f.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if g.LogFormat == "json" {
		line, _ := json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
		fmt.Fprintf(f, "%s\n", line)
	} else {
		fmt.Fprintf(f, "time=%q level=%s msg=%q\n", now, level, msg)
	}
}

// Commands are runc's commands over bundles: create, start, state, kill,
// delete, list, spec and exec (runc's `run` shares its name with Docker's
// in a lesson's program: see RunBundle). A program adds them to its root
// command, or to a hidden `runtime` command (`minibox runtime --root X
// create ...`), with g registered there by AddFlags.
func Commands(g *Flags) []*cobra.Command {
	return []*cobra.Command{newCreateCmd(g), newStartCmd(g), newStateCmd(g), newKillCmd(g), newDeleteCmd(g), newListCmd(g), newSpecCmd(), newExecCmd(g)}
}

// ociCmd builds a command that takes exactly one container ID.
func ociCmd(g *Flags, use, short string, run func(rt *oci.Runtime, cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			rt, err := g.Runtime(stderr)
			if err == nil {
				err = run(rt, cmd, args)
			}
			return g.Fail(stderr, err)
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

func newCreateCmd(g *Flags) *cobra.Command {
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

func newStartCmd(g *Flags) *cobra.Command {
	return ociCmd(g, "start ID", "Start the program of a created container",
		func(rt *oci.Runtime, cmd *cobra.Command, args []string) error {
			if err := oneID(args, 1, cmd.Use); err != nil {
				return err
			}
			return rt.Start(args[0])
		})
}

func newStateCmd(g *Flags) *cobra.Command {
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

func newKillCmd(g *Flags) *cobra.Command {
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

func newDeleteCmd(g *Flags) *cobra.Command {
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

func newListCmd(g *Flags) *cobra.Command {
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

func newExecCmd(g *Flags) *cobra.Command {
	var (
		o                     oci.ExecOptions
		processFile, cwd, usr string
		env, caps             []string
		gids                  []uint
		tty, noNewPrivs       bool
	)
	cmd := &cobra.Command{
		Use:   "exec [--process FILE] [-t] [-d] [--pid-file FILE] [-e K=V]... [--cwd DIR] [-u UID[:GID]] [--cap CAP]... ID [COMMAND [ARG...]]",
		Short: "Run another process in a running container, in all of its namespaces and its cgroup",
		Example: `  sudo 03-rootfs exec web ps
  sudo 03-rootfs exec -t --console-socket /run/console.sock web sh
  sudo 03-rootfs exec -d --pid-file /run/web-exec.pid -u 1000:1000 -e A=1 --cwd /tmp web sleep 100`,
		RunE: func(cmd *cobra.Command, args []string) error {
			stderr := cmd.ErrOrStderr()
			if len(args) == 0 {
				return g.Fail(stderr, fmt.Errorf("usage: %s", cmd.Use))
			}
			if err := oci.CheckID(args[0]); err != nil {
				return g.Fail(stderr, err)
			}
			if err := cli.RequireRoot(); err != nil {
				return err
			}
			rt, err := g.Runtime(stderr)
			if err != nil {
				return g.Fail(stderr, err)
			}
			if processFile != "" {
				o.Process, err = readProcess(processFile)
			} else {
				o.Process, err = rt.ProcessFor(args[0], args[1:])
			}
			if err != nil {
				return g.Fail(stderr, err)
			}
			if processFile == "" {
				if err := applyExecFlags(cmd, o.Process, execFlags{cwd, usr, env, caps, gids, tty, noNewPrivs}); err != nil {
					return g.Fail(stderr, err)
				}
			}
			o.Stdio = namespaces.HostStdio()
			if !o.Detach {
				o.Console = AttachConsole
			}
			code, err := rt.Exec(args[0], o)
			var se *namespaces.StartError
			if errors.As(err, &se) {
				return g.failWith(stderr, err, se.Code)
			}
			if err != nil {
				return g.Fail(stderr, err)
			}
			return cli.Status(code)
		},
	}
	// Flags after the ID belong to the command: `exec web ls -l`.
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVarP(&processFile, "process", "p", "", "a JSON file with the process to run (an OCI spec's \"process\"); the other process flags are then ignored")
	f.BoolVarP(&tty, "tty", "t", false, "give the process a pseudo-terminal (its master goes to --console-socket, or without one to our terminal)")
	f.StringVar(&o.ConsoleSocket, "console-socket", "", "unix socket that receives the pty master (with -t)")
	f.BoolVarP(&o.Detach, "detach", "d", false, "return once the process runs, instead of waiting for it")
	f.StringVar(&o.PidFile, "pid-file", "", "write the process's PID (as the host sees it) to this file")
	f.StringArrayVarP(&env, "env", "e", nil, "add an environment variable (KEY=VALUE)")
	f.StringVar(&cwd, "cwd", "", "the working directory inside the container")
	f.StringVarP(&usr, "user", "u", "", "the user as UID[:GID] (numbers, as runc takes them)")
	f.UintSliceVarP(&gids, "additional-gids", "g", nil, "supplementary groups (GIDs)")
	f.StringArrayVarP(&caps, "cap", "c", nil, "add a capability (CAP_NET_ADMIN) to the process's bounding, effective and permitted sets")
	f.BoolVar(&noNewPrivs, "no-new-privs", false, "set no_new_privs for the process")
	return cmd
}

// execFlags are the flags of `exec` that change the container's process.
type execFlags struct {
	cwd, user  string
	env, caps  []string
	gids       []uint
	tty, noNew bool
}

// applyExecFlags changes p as runc's exec flags do: the cwd and user
// replace, env and caps add, -t and --no-new-privs set when given.
func applyExecFlags(cmd *cobra.Command, p *specs.Process, f execFlags) error {
	if f.cwd != "" {
		p.Cwd = f.cwd
	}
	p.Env = append(append([]string(nil), p.Env...), f.env...)
	if cmd.Flags().Changed("tty") {
		p.Terminal = f.tty
	}
	if cmd.Flags().Changed("no-new-privs") {
		p.NoNewPrivileges = f.noNew
	}
	if f.user != "" {
		uid, gid, hasGid := strings.Cut(f.user, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return fmt.Errorf("--user %q: give UID[:GID] as numbers", f.user)
		}
		p.User.UID = uint32(u)
		if hasGid {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return fmt.Errorf("--user %q: give UID[:GID] as numbers", f.user)
			}
			p.User.GID = uint32(g)
		}
	}
	if len(f.gids) > 0 {
		p.User.AdditionalGids = nil
		for _, g := range f.gids {
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
		}
	}
	if len(f.caps) > 0 {
		c := &specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			cp := *p.Capabilities
			c = &cp
		}
		for _, name := range f.caps {
			name = strings.ToUpper(name)
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			c.Bounding = append(append([]string(nil), c.Bounding...), name)
			c.Effective = append(append([]string(nil), c.Effective...), name)
			c.Permitted = append(append([]string(nil), c.Permitted...), name)
			// Ambient needs inheritable: only where the spec has some.
			if c.Inheritable != nil {
				c.Ambient = append(append([]string(nil), c.Ambient...), name)
			}
		}
		p.Capabilities = c
	}
	return nil
}

// readProcess reads exec's --process file: the "process" of an OCI spec.
func readProcess(path string) (*specs.Process, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--process: %w", err)
	}
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("--process %s: %w", path, err)
	}
	if len(p.Args) == 0 {
		return nil, fmt.Errorf("--process %s: args is empty: name the program to run", path)
	}
	return &p, nil
}
