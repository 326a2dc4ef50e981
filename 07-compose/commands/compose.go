package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"minibox/01-namespaces/cli"
	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	lesson06 "minibox/06-image/commands"
	"minibox/07-compose/loader"
	"minibox/07-compose/model"
)

// Lesson07 makes the engine of lesson 07: lesson 06's. Restart policies
// and healthchecks live in the engine's monitor (lesson 04's engine, grown
// for this lesson), and compose itself is a client of the engine, as
// docker compose is a client of dockerd: it needs nothing new below it.
func Lesson07(g lesson04.Globals) (*engine.Engine, error) { return lesson06.Lesson06(g) }

// CLI is lesson 07's commands over lesson 04's CLI.
type CLI struct {
	c *lesson04.CLI
	// Environ is the environment the compose files are read in (tests);
	// nil means os.Environ().
	Environ []string
}

// Install makes lesson 07's commands; the program's main calls it before
// commands.MainCLI, as lessons 05 and 06 install theirs.
func Install() *CLI { return &CLI{} }

// Commands are lesson 07's commands for the program's CLI: `compose`.
func (x *CLI) Commands(c *lesson04.CLI) []*cobra.Command {
	x.c = c
	return []*cobra.Command{x.outerCmd(c)}
}

// outerCmd is `compose` in the program's tree. Its arguments go unparsed
// to compose's own tree (see the package doc), which also knows the
// program's global flags, so `--data-root` works after `compose` too.
func (x *CLI) outerCmd(c *lesson04.CLI) *cobra.Command {
	return &cobra.Command{
		Use:                "compose [OPTIONS] COMMAND",
		Short:              "Define and run multi-container applications (docker compose)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			t := x.tree(c)
			t.SetArgs(append([]string{"compose"}, args...))
			t.SetIn(cmd.InOrStdin())
			t.SetOut(cmd.OutOrStdout())
			t.SetErr(cmd.ErrOrStderr())
			t.SilenceErrors, t.SilenceUsage = true, true
			return t.ExecuteContext(cmd.Context())
		},
	}
}

// projectOptions are compose's project flags.
type projectOptions struct {
	files      []string
	name       string
	envFiles   []string
	profiles   []string
	projectDir string
	ansi       string
}

// tree is compose's command tree, made afresh for every run (cobra keeps
// flag values in the variables they are bound to), under a root of the
// program's name so that help says `minibox compose up`.
func (x *CLI) tree(c *lesson04.CLI) *cobra.Command {
	name := "minibox"
	if c != nil {
		name = c.Root.Name()
	}
	top := &cobra.Command{
		Use: name, TraverseChildren: true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	o := &projectOptions{}
	root := &cobra.Command{
		Use:   "compose [OPTIONS] COMMAND",
		Short: "Define and run multi-container applications (docker compose)",
		Long: `Define and run multi-container applications, as docker compose v2 does.

The project is the compose file (compose.yaml, compose.yml, docker-compose.yml
or docker-compose.yaml in this directory or a parent; -f to name others) and
its name (-p, COMPOSE_PROJECT_NAME, the file's name: key, or its directory).
Everything it makes carries compose's com.docker.compose.* labels.`,
		// Flags are parsed command by command, so that the project's -f
		// and logs' -f do not meet.
		TraverseChildren: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown docker command: %q", "compose "+args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	f := root.Flags()
	f.StringArrayVarP(&o.files, "file", "f", nil, "Compose configuration files")
	f.StringVarP(&o.name, "project-name", "p", "", "Project name")
	f.StringArrayVar(&o.envFiles, "env-file", nil, "Specify an alternate environment file")
	f.StringArrayVar(&o.profiles, "profile", nil, "Specify a profile to enable")
	f.StringVar(&o.projectDir, "project-directory", "", "Specify an alternate working directory\n(default: the path of the, first specified, Compose file)")
	f.StringVar(&o.ansi, "ansi", "auto", `Control when to print ANSI control characters ("never"|"always"|"auto")`)
	if c != nil {
		top.PersistentFlags().AddFlagSet(c.Root.PersistentFlags())
	}
	s := &session{x: x, c: c, o: o}
	root.AddCommand(s.upCmd(), s.downCmd(), s.psCmd(), s.logsCmd(), s.buildCmd(), s.pullCmd(), s.pushCmd(),
		s.configCmd(), s.execCmd(), s.runCmd(), s.startCmd(), s.stopCmd(), s.restartCmd(), s.rmCmd(),
		s.imagesCmd(), s.topCmd(), s.portCmd(), s.versionCmd())
	top.AddCommand(root)
	return top
}

// session is one run of compose's tree: its flags and what it loaded.
type session struct {
	x *CLI
	c *lesson04.CLI
	o *projectOptions
}

func (s *session) environ() []string {
	if s.x.Environ != nil {
		return s.x.Environ
	}
	return os.Environ()
}

// getenv reads the environment the project is loaded in.
func (s *session) getenv(key string) string {
	for _, kv := range s.environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// load reads the project's files; warnings (`version` is obsolete) go to
// stderr.
func (s *session) load(ctx context.Context, stderr io.Writer) (*model.Project, error) {
	return loader.Load(ctx, loader.Options{
		WorkingDir:  s.o.projectDir,
		Files:       s.o.files,
		ProjectName: s.o.name,
		EnvFiles:    s.o.envFiles,
		Profiles:    s.o.profiles,
		Environ:     s.environ(),
		Stderr:      stderr,
	})
}

// projectOrName is compose's projectOrName: the project if its files
// load, or only its name from -p or COMPOSE_PROJECT_NAME when there is no
// file (`docker compose -p demo ps` works anywhere). Commands that only
// look at containers use it.
func (s *session) projectOrName(ctx context.Context, stderr io.Writer) (*model.Project, string, error) {
	p, err := s.load(ctx, stderr)
	if err == nil {
		return p, p.Name, nil
	}
	name := s.o.name
	if name == "" {
		name = s.getenv("COMPOSE_PROJECT_NAME")
	}
	if name != "" && loader.IsNoConfig(err) {
		if loader.NormalizeName(name) != name {
			return nil, "", fmt.Errorf("invalid project name %q: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number", name)
		}
		return nil, name, nil
	}
	return nil, "", err
}

// engine is the program's engine (lesson 04's CLI makes it once).
func (s *session) engine() (*engine.Engine, error) {
	if s.c == nil {
		return nil, errors.New("lesson 07's commands are not installed")
	}
	return s.c.Engine()
}

// run wraps a command's body: compose prints its errors bare (no program
// name, no "See --help") and exits with status 1; an exit status a command
// chose (exec's, run's) passes through.
func run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd, args)
		if err == nil {
			return nil
		}
		var es *cli.ExitStatus
		if errors.As(err, &es) {
			return err
		}
		fmt.Fprintln(cmd.ErrOrStderr(), err)
		return &cli.ExitStatus{Code: 1}
	}
}

// checkServices is compose's "no such service: x" for names the project
// does not have (a disabled profile's service is named so too).
func checkServices(p *model.Project, names []string) error {
	if p == nil {
		return nil
	}
	for _, n := range names {
		if _, ok := p.Service(n); !ok {
			return fmt.Errorf("no such service: %s", n)
		}
	}
	return nil
}

func (s *session) versionCmd() *cobra.Command {
	var short bool
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Docker Compose version information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if short {
				fmt.Fprintln(cmd.OutOrStdout(), model.Version)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "minibox compose version %s\n", model.Version)
			return nil
		},
	}
	cmd.Flags().BoolVar(&short, "short", false, "Shows only Compose's version number")
	return cmd
}
