package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/cli"
	"minibox/04-storage/engine"
	"minibox/07-compose/model"
	"minibox/07-compose/project"
)

// compose is the project's reconciler over minibox's real backend;
// compose prints its progress lines on stderr.
func (s *session) compose(p *model.Project, stderr io.Writer) *project.Compose {
	return &project.Compose{Project: p, Backend: project.NewBackend(s.c), Out: stderr, Err: stderr}
}

// loadFor loads the project and checks the service names.
func (s *session) loadFor(cmd *cobra.Command, services []string) (*model.Project, error) {
	p, err := s.load(cmd.Context(), cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	if err := checkServices(p, services); err != nil {
		return nil, err
	}
	return p, nil
}

// timeoutFlag is -t/--timeout: nil when not given.
type timeoutFlag struct {
	v   int
	cmd *cobra.Command
}

func (t *timeoutFlag) add(cmd *cobra.Command, usage string) {
	t.cmd = cmd
	cmd.Flags().IntVarP(&t.v, "timeout", "t", 0, usage)
}

func (t *timeoutFlag) get() *int {
	if t.cmd.Flags().Changed("timeout") {
		v := t.v
		return &v
	}
	return nil
}

// upFlags are up's flags.
type upFlags struct {
	project.UpOptions
	waitTimeout        int
	noColor, noPrefix  bool
	timestamps         bool
	timeout            timeoutFlag
	abortOnExit, quiet bool
}

// check is compose's refusals of flags that contradict each other.
func (o *upFlags) check() error {
	switch {
	case o.Build && o.NoBuild:
		return fmt.Errorf("--build and --no-build are incompatible")
	case o.ForceRecreate && o.NoRecreate:
		return fmt.Errorf("--force-recreate and --no-recreate are incompatible")
	case o.Detach && o.abortOnExit:
		return fmt.Errorf("--abort-on-container-exit and --detach are incompatible")
	case o.Wait && o.abortOnExit:
		return fmt.Errorf("--wait and --abort-on-container-exit are incompatible")
	}
	return nil
}

func (s *session) upCmd() *cobra.Command {
	o := &upFlags{}
	cmd := &cobra.Command{
		Use:   "up [OPTIONS] [SERVICE...]",
		Short: "Create and start containers",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			p, err := s.loadFor(cmd, args)
			if err != nil {
				return err
			}
			o.Services = args
			if o.Wait {
				o.Detach = true // compose: --wait implies detached mode
			}
			if o.waitTimeout > 0 {
				o.WaitTimeout = time.Duration(o.waitTimeout) * time.Second
			}
			o.Timeout = o.timeout.get()
			c := s.compose(p, cmd.ErrOrStderr())
			ctx, stop := signal.NotifyContext(cmd.Context(), unix.SIGINT, unix.SIGTERM)
			defer stop()
			started := time.Now()
			if err := c.Up(ctx, o.UpOptions); err != nil {
				return err
			}
			if o.Detach {
				return nil
			}
			return s.attach(cmd, c, p, args, o, started)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Detach, "detach", "d", false, "Detached mode: Run containers in the background")
	f.BoolVar(&o.Build, "build", false, "Build images before starting containers")
	f.BoolVar(&o.NoBuild, "no-build", false, "Don't build an image, even if it's policy")
	f.BoolVar(&o.ForceRecreate, "force-recreate", false, "Recreate containers even if their configuration and image haven't changed")
	f.BoolVar(&o.NoRecreate, "no-recreate", false, "If containers already exist, don't recreate them. Incompatible with --force-recreate.")
	f.BoolVar(&o.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	f.BoolVar(&o.NoDeps, "no-deps", false, "Don't start linked services")
	f.BoolVar(&o.Wait, "wait", false, "Wait for services to be running|healthy. Implies detached mode.")
	f.IntVar(&o.waitTimeout, "wait-timeout", 0, "Maximum duration in seconds to wait for the project to be running|healthy")
	f.BoolVar(&o.abortOnExit, "abort-on-container-exit", false, "Stops all containers if any container was stopped. Incompatible with -d")
	f.BoolVar(&o.noColor, "no-color", false, "Produce monochrome output")
	f.BoolVar(&o.noPrefix, "no-log-prefix", false, "Don't print prefix in logs")
	f.BoolVar(&o.timestamps, "timestamps", false, "Show timestamps")
	o.timeout.add(cmd, "Use this timeout in seconds for container shutdown when attached or when containers are already running")
	return cmd
}

// attach is `up` without -d: the services' output with compose's
// prefixes until every container has exited (each one's "exited with
// code N" said), or until Ctrl-C, which stops the services as compose
// does ("Gracefully stopping..."); a second Ctrl-C kills them.
func (s *session) attach(cmd *cobra.Command, c *project.Compose, p *model.Project, services []string, o *upFlags, since time.Time) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	list, err := s.containers(selection{Project: p.Name, Services: services, All: true})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	lc := newLogConsumer(out, cmd.ErrOrStderr(), s.colour(out, o.noColor), !o.noPrefix)
	var names []string
	for _, in := range list {
		n := shortName(p.Name, in.Name)
		lc.register(n)
		names = append(names, n)
	}
	fmt.Fprintf(out, "Attaching to %s\n", joinNames(names))
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	exited := make(chan struct{}, len(list))
	var wg sync.WaitGroup
	for _, in := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := shortName(p.Name, in.Name)
			stdout, stderr := lc.writers(n)
			e.Logs(in.ID, engine.LogOptions{Follow: true, Tail: -1, Since: since, Timestamps: o.timestamps}, stdout, stderr)
			stdout.Close()
			stderr.Close()
			if st, err := e.Inspect(in.ID); err == nil && !st.State.Running {
				lc.status(n, fmt.Sprintf("exited with code %d", st.State.ExitCode))
			}
			exited <- struct{}{}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	var stopping bool
	var stopErr error
	for {
		select {
		case <-done:
			return stopErr
		case <-exited:
			if o.abortOnExit && !stopping {
				stopping = true
				fmt.Fprintln(cmd.ErrOrStderr(), "Aborting on container exit...")
				go func() { stopErr = c.Stop(context.Background(), services, o.Timeout) }()
			}
		case <-sigs:
			if stopping {
				// The second Ctrl-C: compose kills what is left.
				fmt.Fprintln(cmd.ErrOrStderr(), "Killing...")
				for _, in := range list {
					e.Kill(in.ID, "KILL")
				}
				<-done
				return &cli.ExitStatus{Code: 130}
			}
			stopping = true
			fmt.Fprintln(cmd.ErrOrStderr(), "Gracefully stopping... (press Ctrl+C again to force)")
			go func() { stopErr = c.Stop(context.Background(), services, o.Timeout) }()
		}
	}
}

func (s *session) downCmd() *cobra.Command {
	var o project.DownOptions
	var t timeoutFlag
	cmd := &cobra.Command{
		Use:   "down [OPTIONS] [SERVICES]",
		Short: "Stop and remove containers, networks",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if o.RMI != "" && o.RMI != "all" && o.RMI != "local" {
				return fmt.Errorf("invalid value for --rmi: %q", o.RMI)
			}
			p, name, err := s.projectOrName(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if p == nil {
				p = &model.Project{Name: name} // no file: what the labels say is all there is
			}
			o.Timeout = t.get()
			return s.compose(p, cmd.ErrOrStderr()).Down(cmd.Context(), o)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Volumes, "volumes", "v", false, "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers")
	f.StringVar(&o.RMI, "rmi", "", `Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")`)
	f.BoolVar(&o.RemoveOrphans, "remove-orphans", false, "Remove containers for services not defined in the Compose file")
	t.add(cmd, "Specify a shutdown timeout in seconds")
	return cmd
}

// simple is a command over the services that only needs the project:
// start, pull, push.
func (s *session) simple(use, short string, fn func(ctx context.Context, c *project.Compose, services []string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			p, err := s.loadFor(cmd, args)
			if err != nil {
				return err
			}
			return fn(cmd.Context(), s.compose(p, cmd.ErrOrStderr()), args)
		}),
	}
}

func (s *session) startCmd() *cobra.Command {
	return s.simple("start [SERVICE...]", "Start services", func(ctx context.Context, c *project.Compose, services []string) error {
		return c.Start(ctx, services)
	})
}

func (s *session) pullCmd() *cobra.Command {
	return s.simple("pull [OPTIONS] [SERVICE...]", "Pull service images", func(ctx context.Context, c *project.Compose, services []string) error {
		return c.Pull(ctx, services)
	})
}

func (s *session) pushCmd() *cobra.Command {
	return s.simple("push [OPTIONS] [SERVICE...]", "Push service images", func(ctx context.Context, c *project.Compose, services []string) error {
		return c.Push(ctx, services)
	})
}

func (s *session) stopCmd() *cobra.Command {
	var t timeoutFlag
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] [SERVICE...]",
		Short: "Stop services",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			p, err := s.loadFor(cmd, args)
			if err != nil {
				return err
			}
			return s.compose(p, cmd.ErrOrStderr()).Stop(cmd.Context(), args, t.get())
		}),
	}
	t.add(cmd, "Specify a shutdown timeout in seconds")
	return cmd
}

func (s *session) restartCmd() *cobra.Command {
	var t timeoutFlag
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] [SERVICE...]",
		Short: "Restart service containers",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			p, err := s.loadFor(cmd, args)
			if err != nil {
				return err
			}
			return s.compose(p, cmd.ErrOrStderr()).Restart(cmd.Context(), args, t.get())
		}),
	}
	t.add(cmd, "Specify a shutdown timeout in seconds")
	return cmd
}

func (s *session) rmCmd() *cobra.Command {
	var force, stop, volumes bool
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] [SERVICE...]",
		Short: "Removes stopped service containers",
		Long: `Removes stopped service containers.

By default, anonymous volumes attached to containers are not removed. You
can override this with -v.`,
		RunE: run(func(cmd *cobra.Command, args []string) error {
			p, err := s.loadFor(cmd, args)
			if err != nil {
				return err
			}
			return s.compose(p, cmd.ErrOrStderr()).Remove(cmd.Context(), args, force, stop, volumes)
		}),
	}
	f := cmd.Flags()
	f.BoolVarP(&force, "force", "f", false, "Don't ask to confirm removal")
	f.BoolVarP(&stop, "stop", "s", false, "Stop the containers, if required, before removing")
	f.BoolVarP(&volumes, "volumes", "v", false, "Remove any anonymous volumes attached to containers")
	return cmd
}

func (s *session) buildCmd() *cobra.Command {
	var noCache, pull, quiet bool
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] [SERVICE...]",
		Short: "Build or rebuild services",
		RunE: run(func(cmd *cobra.Command, args []string) error {
			p, err := s.loadFor(cmd, args)
			if err != nil {
				return err
			}
			c := s.compose(p, cmd.ErrOrStderr())
			if quiet {
				c.Out = io.Discard
			}
			return c.Build(cmd.Context(), args, noCache, pull)
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&noCache, "no-cache", false, "Do not use cache when building the image")
	f.BoolVar(&pull, "pull", false, "Always attempt to pull a newer version of the image")
	f.BoolVarP(&quiet, "quiet", "q", false, "Don't print anything to STDOUT")
	return cmd
}

func (s *session) runCmd() *cobra.Command {
	var o project.RunOptions
	var entrypoint string
	var interactive bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
		Short: "Run a one-off command on a service",
		Args:  cobra.MinimumNArgs(1),
		RunE: run(func(cmd *cobra.Command, args []string) error {
			if o.Detach && o.Rm {
				return fmt.Errorf("--rm and --detach cannot be combined")
			}
			p, err := s.loadFor(cmd, args[:1])
			if err != nil {
				return err
			}
			if len(args) > 1 {
				o.Command = args[1:]
			}
			if cmd.Flags().Changed("entrypoint") {
				o.Entrypoint = &entrypoint
			}
			if !isTerminal(os.Stdin) || !isTerminal(os.Stdout) {
				o.NoTTY = true
			}
			if interactive {
				o.Stdin = cmd.InOrStdin()
			}
			o.Stdout, o.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			code, err := s.compose(p, cmd.ErrOrStderr()).RunOneoff(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			if code != 0 {
				return cli.Status(code)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.Detach, "detach", "d", false, "Run container in background and print container ID")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "Set environment variables")
	f.StringVar(&o.Name, "name", "", "Assign a name to the container")
	f.StringVar(&entrypoint, "entrypoint", "", "Override the entrypoint of the image")
	f.BoolVar(&o.Rm, "rm", false, "Automatically remove the container when it exits")
	f.BoolVar(&o.NoDeps, "no-deps", false, "Don't start linked services")
	f.BoolVarP(&o.NoTTY, "no-TTY", "T", false, "Disable pseudo-TTY allocation (default: auto-detected)")
	f.BoolVarP(&interactive, "interactive", "i", true, "Keep STDIN open even if not attached")
	f.StringVarP(&o.User, "user", "u", "", "Run as specified username or uid")
	f.StringVarP(&o.WorkDir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}
