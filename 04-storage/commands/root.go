// Package commands is minibox's command line, as Docker's: `run`, `ps`,
// `logs`, `stop`, `rm` and the rest over the engine. Each lesson's program
// makes a CLI and registers the commands that exist as of that lesson;
// later lessons add theirs (network, build, compose) with Add.
package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
)

// Globals are the global flags (dockerd's names), read before any command.
type Globals struct {
	DataRoot       string   // --data-root, $MINIBOX_DATA_ROOT
	ExecRoot       string   // --exec-root, $MINIBOX_EXEC_ROOT
	AddRuntimes    []string // --add-runtime NAME=PATH
	DefaultRuntime string   // --default-runtime
	StorageDriver  string   // --storage-driver: overlay or vfs, for containers that name none
}

// Runtimes turns --add-runtime into the engine's map.
func (g Globals) Runtimes() (map[string]engine.Runtime, error) {
	out := map[string]engine.Runtime{}
	for _, r := range g.AddRuntimes {
		name, path, ok := strings.Cut(r, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--add-runtime %q: use NAME=PATH", r)
		}
		out[name] = engine.Runtime{Name: name, Path: path}
	}
	return out, nil
}

// NewEngine builds the engine for the global flags: the program's wiring.
type NewEngine func(Globals) (*engine.Engine, error)

// CLI is the program's command tree.
type CLI struct {
	Root    *cobra.Command
	Globals Globals
	// Adjust, when set, changes the request this tree's create and run
	// make from their flags, before the container is created: lesson 07's
	// compose sets there what no flag can say (an entrypoint of several
	// words).
	Adjust func(req *engine.CreateRequest) error

	name, short string
	wire        NewEngine
	eng         *engine.Engine
	more        func(c *CLI) []*cobra.Command
}

// New makes the root command with the global flags and lesson 04's commands.
func New(name, short string, wire NewEngine) *CLI {
	c := &CLI{wire: wire, name: name, short: short}
	c.Root = &cobra.Command{
		Use:   name,
		Short: short,
		// Docker's usage line and its help for every command.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	f := c.Root.PersistentFlags()
	f.StringVar(&c.Globals.DataRoot, "data-root", envOr("MINIBOX_DATA_ROOT", engine.DefaultDataRoot), "root directory of persistent state (containers, images, volumes)")
	f.StringVar(&c.Globals.ExecRoot, "exec-root", envOr("MINIBOX_EXEC_ROOT", engine.DefaultExecRoot), "root directory of execution state (bundles, sockets)")
	f.StringArrayVar(&c.Globals.AddRuntimes, "add-runtime", nil, "register an OCI runtime: NAME=PATH (repeatable)")
	f.StringVar(&c.Globals.DefaultRuntime, "default-runtime", engine.DefaultRuntime, "the OCI runtime of containers without --runtime")
	f.StringVar(&c.Globals.StorageDriver, "storage-driver", envOr("MINIBOX_STORAGE_DRIVER", ""), "the storage driver of new containers: overlay or vfs (default overlay)")
	c.Add(c.runCmd(), c.createCmd(), c.startCmd(), c.psCmd(), c.logsCmd(), c.stopCmd(), c.killCmd(),
		c.rmCmd(), c.waitCmd(), c.inspectCmd(), c.restartCmd(), c.renameCmd(), c.attachCmd(), c.topCmd(), c.execCmd(), c.cpCmd(),
		c.importCmd(), c.imagesCmd(), c.TagCmd(), c.RmiCmd("rmi"), c.diffCmd(), c.commitCmd(), c.exportCmd(), c.volumeCmd(),
		c.containerCmd(), c.systemCmd(), c.infoCmd(), c.versionCmd())
	c.completeAll(c.Root.Commands())
	return c
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Add registers commands (a later lesson's too).
func (c *CLI) Add(cmds ...*cobra.Command) { c.Root.AddCommand(cmds...) }

// AddLessons registers the commands more makes for this CLI (the later
// lessons'), and keeps more so that Fresh can make them again.
func (c *CLI) AddLessons(more func(c *CLI) []*cobra.Command) {
	c.more = more
	c.Add(more(c)...)
}

// Fresh is a new command tree like this one (the same globals, engine and
// later lessons' commands). A cobra command keeps its flags' values after
// it ran, so a program that runs its own commands more than once (compose
// runs `create` for each container) needs a fresh tree for each.
func (c *CLI) Fresh() *CLI {
	f := New(c.name, c.short, c.wire)
	f.Globals = c.Globals
	f.eng = c.eng
	if c.more != nil {
		f.AddLessons(c.more)
	}
	return f
}

// Run runs one command line (without the program's name) on a fresh tree
// and returns its exit status; adjust, if not nil, is the tree's Adjust.
func (c *CLI) Run(args []string, stdout, stderr io.Writer, adjust func(*engine.CreateRequest) error) int {
	if _, err := c.Engine(); err != nil { // one engine for every tree
		fmt.Fprintf(stderr, "minibox: %v\n", err)
		return 125
	}
	f := c.Fresh()
	f.Adjust = adjust
	return f.Execute(args, stdout, stderr)
}

// Engine builds the engine once, after the flags are parsed.
func (c *CLI) Engine() (*engine.Engine, error) {
	if c.eng != nil {
		return c.eng, nil
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root (try sudo): containers need namespaces, mounts and cgroups")
	}
	e, err := c.wire(c.Globals)
	if err != nil {
		// A read-only or full data root is said in words, with the remedy.
		return nil, engine.ExplainStorage(c.Globals.DataRoot, err)
	}
	c.eng = e
	return e, nil
}

// Execute runs the command line and returns the exit status.
func (c *CLI) Execute(args []string, stdout, stderr io.Writer) int {
	return cli.Execute(c.Root, args, stdout, stderr)
}

// DaemonErr is daemonErr for later lessons' commands.
func DaemonErr(err error, code int) error { return daemonErr(err, code) }

// daemonErr is how Docker's CLI reports an engine error: "Error response
// from daemon: ...", with status 1 (run and create use 125).
func daemonErr(err error, code int) error {
	if err == nil {
		return nil
	}
	var es *cli.ExitStatus
	if errors.As(err, &es) {
		return err
	}
	return &cli.ExitStatus{Code: code, Err: fmt.Errorf("Error response from daemon: %s", message(err))}
}

// message is Docker's wording of an engine error.
func message(err error) string {
	if errors.Is(err, engine.ErrNotFound) {
		s := err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 {
			return "No such container: " + s[i+2:]
		}
		return "No such container"
	}
	return err.Error()
}

// each runs fn for every argument, printing the argument when it worked
// (as docker stop/rm/kill do) and the errors after; status 1 if any failed.
func each(cmd *cobra.Command, args []string, fn func(ref string) error) error {
	var failed bool
	for _, ref := range args {
		if err := fn(ref); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "Error response from daemon: %s\n", message(err))
			failed = true
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), ref)
	}
	if failed {
		return &cli.ExitStatus{Code: 1}
	}
	return nil
}

// completeContainers completes container names (cobra's shell completion).
func (c *CLI) completeContainers(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	e, err := c.Engine()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, err := e.List()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, in := range list {
		if strings.HasPrefix(in.Name, toComplete) {
			names = append(names, in.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeAll gives every command that takes containers its completion.
func (c *CLI) completeAll(cmds []*cobra.Command) {
	for _, cmd := range cmds {
		switch cmd.Name() {
		case "start", "stop", "kill", "rm", "wait", "inspect", "restart", "rename", "attach", "top", "logs", "exec":
			if cmd.ValidArgsFunction == nil {
				cmd.ValidArgsFunction = c.completeContainers
			}
		case "container":
			c.completeAll(cmd.Commands())
		}
	}
}
