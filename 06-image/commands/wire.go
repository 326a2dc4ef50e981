// Package commands is lesson 06's part of the command line: `build`,
// `pull`, `push`, `login`, `logout`, `history`, `save`, `load`, the
// `image` group, `system df`, `images --digests` and `-a`, and the
// `--pull` flag of run and create, whose missing image is now pulled
// ("Unable to find image 'X' locally", then the pull, as Docker does). It
// also holds the builder's Executor over the engine: each RUN step of a
// build is a real container of the engine, its diff the step's layer.
//
// Every flag parser here takes user input, so each has a table test and a
// fuzz target: a bad value is an error that names it, and changes nothing.
package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	lesson05 "minibox/05-network/commands"
	"minibox/06-image/auth"
	"minibox/06-image/distribution"
	"minibox/06-image/image"
	"minibox/06-image/registry"
)

// Lesson06 makes the engine of lesson 06: lesson 05's (storage, images,
// networks). The engine needs nothing new: pulls and builds are the CLI's
// work over the same image store, and a built step runs in an ordinary
// container.
func Lesson06(g lesson04.Globals) (*engine.Engine, error) { return lesson05.Lesson05(g) }

// Install hooks lesson 06 into lesson 04's run and create (after lesson
// 05's Install, whose flags it keeps): --pull, and the pull of a missing
// image. The program's main calls it before commands.MainCLI.
func Install() *CLI {
	x := &CLI{}
	inner := lesson04.Extend.Create
	lesson04.Extend.Create = func() lesson04.CreateExtension {
		p := &pullExt{cli: x}
		if inner != nil {
			p.inner = inner()
		}
		return p
	}
	return x
}

// CLI is lesson 06's commands over lesson 04's CLI.
type CLI struct {
	c *lesson04.CLI
	// ConfigPath overrides where login writes credentials (tests).
	ConfigPath string
}

// Commands are lesson 06's commands for the program's CLI. Lesson 04's
// `images` is replaced (it gains --digests, -a and --no-trunc), and
// `system` gains `df`.
func (x *CLI) Commands(c *lesson04.CLI) []*cobra.Command {
	x.c = c
	replace(c.Root, x.imagesCmd())
	if sys := find(c.Root, "system"); sys != nil {
		sys.AddCommand(x.dfCmd())
	}
	return []*cobra.Command{
		x.buildCmd(), x.pullCmd(), x.pushCmd(), x.loginCmd(), x.logoutCmd(),
		x.historyCmd(), x.saveCmd(), x.loadCmd(), x.imageCmd(),
	}
}

func find(root *cobra.Command, name string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// replace puts cmd in the place of root's command of the same name.
func replace(root *cobra.Command, cmd *cobra.Command) {
	if old := find(root, cmd.Name()); old != nil {
		root.RemoveCommand(old)
	}
	root.AddCommand(cmd)
}

// withEngine runs fn with the engine and its image store; failures to
// make them are minibox's own (status 125, as lesson 04's).
func (x *CLI) withEngine(fn func(cmd *cobra.Command, e *engine.Engine, st *images.Store, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, st, err := x.engine()
		if err != nil {
			return err
		}
		return fn(cmd, e, st, args)
	}
}

func (x *CLI) engine() (*engine.Engine, *images.Store, error) {
	if x.c == nil {
		return nil, nil, fmt.Errorf("lesson 06's commands are not installed")
	}
	e, err := x.c.Engine()
	if err != nil {
		return nil, nil, fail(err)
	}
	st, ok := e.Options().Images.(*images.Store)
	if !ok {
		return nil, nil, fail(fmt.Errorf("this engine has no local image store"))
	}
	return e, st, nil
}

// configPath is where login keeps credentials: $MINIBOX_CONFIG/config.json
// or ~/.minibox/config.json (Docker's own file is read, never written).
func (x *CLI) configPath() string {
	if x.ConfigPath != "" {
		return x.ConfigPath
	}
	if d := os.Getenv("MINIBOX_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".minibox", "config.json")
}

// dockerConfigPath is Docker's config.json, read for credentials too.
func dockerConfigPath() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// credentials loads the config files, ours first.
func (x *CLI) credentials() (*auth.File, error) {
	paths := []string{x.configPath()}
	if p := dockerConfigPath(); p != "" {
		paths = append(paths, p)
	}
	return auth.Load(paths...)
}

// client is the registry client with the credentials of the config files
// and Docker's certs.d.
func (x *CLI) client() (*registry.Client, error) {
	f, err := x.credentials()
	if err != nil {
		return nil, err
	}
	certs := os.Getenv("MINIBOX_CERTS_DIR")
	if certs == "" {
		certs = "/etc/docker/certs.d"
	}
	return registry.New(registry.Options{
		CertsDir:  certs,
		Insecure:  insecureRegistries(),
		UserAgent: "minibox/06 (" + runtime.GOOS + "/" + runtime.GOARCH + ")",
		Auth: func(host string) (registry.Auth, error) {
			a, _ := f.Get(host)
			return a, nil
		},
	}), nil
}

// insecureRegistries are $MINIBOX_INSECURE_REGISTRIES, comma-separated
// (dockerd's --insecure-registry, which minibox has no daemon for).
func insecureRegistries() []string {
	var out []string
	for _, s := range splitComma(os.Getenv("MINIBOX_INSECURE_REGISTRIES")) {
		out = append(out, s)
	}
	return out
}

func (x *CLI) puller(out io.Writer, st *images.Store) (*distribution.Puller, error) {
	c, err := x.client()
	if err != nil {
		return nil, err
	}
	return &distribution.Puller{Store: st, Client: c, Out: out, TTY: isTTY(out),
		Platform: image.Host()}, nil
}

// interruptible is a context that ends on SIGINT or SIGTERM: a pull, push
// or build stops cleanly and leaves no half blob or container.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
}
