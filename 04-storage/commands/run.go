package commands

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"minibox/01-namespaces/cli"
	"minibox/01-namespaces/namespaces"
	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/runflags"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/04-storage/mounts"
)

// createFlags are the flags `create` and `run` share: lesson 01's
// namespaces, lesson 02's resources, lesson 03's root filesystem and
// security flags, and the engine's own.
type createFlags struct {
	name       string
	labels     []string
	labelFiles []string
	entrypoint string
	hostname   string
	init       bool
	runtime    string
	userns     string
	network    string
	mounts     []string // --mount
	volsFrom   []string // --volumes-from
	sec        runflags.Flags
	limits     cgroups.Flags
	health     healthFlags // lesson 07's --health-* (health.go)
	restart    string      // --restart (restart.go)
	cmd        *cobra.Command
	ext        CreateExtension // a later lesson's flags (05: -p, --dns, ...)
}

// CreateExtension is what a later lesson adds to create and run: its
// flags (network names the --network value it must define) and what they
// make of the request, checked before anything is created.
type CreateExtension interface {
	AddFlags(fs *pflag.FlagSet, network *string)
	Apply(req *engine.CreateRequest) error
}

// Extend is where a later lesson's main hooks into lesson 04's commands
// before commands.Main runs, so that lesson 04 never imports it: Create
// makes the extension of each create or run command, Ports formats ps's
// PORTS column.
var Extend struct {
	Create func() CreateExtension
	Ports  func(c *engine.Container) string
}

func (f *createFlags) add(cmd *cobra.Command) {
	f.cmd = cmd
	fs := cmd.Flags()
	// Everything after the image is the command's: `run busybox sh -c x`.
	fs.SetInterspersed(false)
	fs.StringVar(&f.name, "name", "", "assign a name to the container")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "set metadata on the container: KEY=VALUE (repeatable)")
	fs.StringArrayVar(&f.labelFiles, "label-file", nil, "read labels from a file of KEY=VALUE lines")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the image's ENTRYPOINT")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "container host name (default: the first 12 digits of its ID)")
	fs.BoolVar(&f.init, "init", false, "run an init inside the container that forwards signals and reaps processes")
	fs.StringVar(&f.runtime, "runtime", "", "the OCI runtime to use for this container (minibox, runc, crun)")
	fs.StringVar(&f.userns, "userns", "", "user namespace: HOSTID[:SIZE] or CONTAINERID:HOSTID:SIZE")
	if Extend.Create != nil {
		f.ext = Extend.Create()
		f.ext.AddFlags(fs, &f.network)
	} else {
		fs.StringVar(&f.network, "network", "none", "connect the container to a network: none or host")
	}
	fs.StringArrayVar(&f.mounts, "mount", nil, "attach a file system mount: type=bind|volume|tmpfs,source=...,target=...[,readonly] (repeatable)")
	fs.StringArrayVar(&f.volsFrom, "volumes-from", nil, "mount the volumes of a container: CONTAINER[:ro|rw] (repeatable)")
	f.sec.AddFlags(fs)
	fs.MarkHidden("rootfs") // the image gives the root filesystem now
	// Lesson 03's -v knew bind mounts only; from lesson 04 on it takes volumes.
	fs.Lookup("volume").Usage = "bind mount a volume: NAME:/dir or /host/dir:/dir, with :ro or :rw; /dir alone makes an anonymous volume (repeatable)"
	f.limits.AddFlags(fs)
	f.health.add(fs)
	addRestartFlag(fs, &f.restart)
	// -h is --hostname in docker run; help keeps only its long form.
	cmd.Flags().BoolP("help", "", false, "help for "+cmd.Name())
}

// request turns the flags and the arguments (IMAGE [COMMAND [ARG...]])
// into the engine's request. Input errors come out here, before anything
// is made.
func (f *createFlags) request(args []string, autoRemove bool) (engine.CreateRequest, error) {
	var req engine.CreateRequest
	if len(args) == 0 {
		return req, errors.New(`"` + f.cmd.CommandPath() + `" requires at least 1 argument.` + "\nSee '" + f.cmd.CommandPath() + " --help'.")
	}
	if f.sec.TTY && f.sec.Interactive && !term.IsTerminal(int(os.Stdin.Fd())) && f.cmd.Name() == "run" && !f.detached() {
		return req, errors.New("the input device is not a TTY")
	}
	res, err := f.limits.Resources(runtime.NumCPU())
	if err != nil {
		return req, err
	}
	labels := map[string]string{}
	for _, file := range f.labelFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return req, fmt.Errorf("--label-file: %w", err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
				k, v, _ := strings.Cut(l, "=")
				labels[k] = v
			}
		}
	}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	if f.ext == nil {
		switch f.network {
		case "none", "host", "":
		default:
			return req, fmt.Errorf("network %s not found", f.network)
		}
	}
	req.Name = f.name
	req.Config = engine.Config{
		Image: args[0], Cmd: args[1:], Labels: labels, Tty: f.sec.TTY, OpenStdin: f.sec.Interactive,
		StdinOnce: f.sec.Interactive && !f.detached(), AttachStdin: f.sec.Interactive && !f.detached(),
		AttachStdout: !f.detached(), AttachStderr: !f.detached(), Hostname: f.hostname, User: f.sec.User,
		WorkingDir: f.sec.Workdir,
	}
	if req.Config.Healthcheck, err = f.health.config(); err != nil {
		return req, err
	}
	if f.cmd.Flags().Changed("entrypoint") {
		req.Config.Entrypoint = []string{f.entrypoint}
		if f.entrypoint == "" {
			req.Config.Entrypoint = []string{}
		}
	}
	h := engine.HostConfig{
		ReadonlyRootfs: f.sec.ReadOnly, AutoRemove: autoRemove,
		Runtime: f.runtime, Init: f.init, NetworkMode: f.network, Privileged: f.sec.Privileged,
		CapAdd: f.sec.CapAdd, CapDrop: f.sec.CapDrop, SecurityOpt: f.sec.SecurityOpt,
		CpusetCpus: f.limits.CpusetCpus, CpusetMems: f.limits.CpusetMems, CpuShares: f.limits.CPUShares,
		CpuPeriod: f.limits.CPUPeriod, CpuQuota: f.limits.CPUQuota,
	}
	// -v, --mount, --tmpfs and --volumes-from: checked here, made by the
	// storage when the container is created.
	storageFlags := mounts.Flags{Volumes: f.sec.Volumes, Mounts: f.mounts, Tmpfs: f.sec.Tmpfs, VolumesFrom: f.volsFrom}
	if err := storageFlags.Apply(&h); err != nil {
		return req, err
	}
	if m := res.Memory; m != nil {
		if m.Limit != nil {
			h.Memory = *m.Limit
		}
		if m.Swap != nil {
			h.MemorySwap = *m.Swap
		}
		if m.Reservation != nil {
			h.MemoryReservation = *m.Reservation
		}
	}
	if f.limits.CPUs != "" {
		var cpus float64
		fmt.Sscan(f.limits.CPUs, &cpus)
		h.NanoCpus = int64(cpus * 1e9)
	}
	if res.Pids != nil {
		n := res.Pids.Limit
		h.PidsLimit = n
	}
	if h.RestartPolicy, err = restartPolicy(f.restart, autoRemove); err != nil {
		return req, err
	}
	req.HostConfig = h
	if f.ext != nil {
		if err := f.ext.Apply(&req); err != nil {
			return req, err
		}
	}
	req.Spec = func(c *engine.Container, img *engine.Image, root string) (*specs.Spec, error) {
		return f.spec(c, img, root, res)
	}
	return req, nil
}

// createErr is how Docker's CLI reports a failed create: a missing image
// is first "Unable to find image 'REF' locally" (where Docker would then
// pull; minibox has no registry before lesson 06).
func createErr(cmd *cobra.Command, ref string, err error) error {
	if errors.Is(err, engine.ErrImageNotFound) {
		name := ref
		if r, perr := images.ParseReference(ref); perr == nil {
			name = r.FamiliarString()
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "Unable to find image '%s' locally\n", name)
	}
	return daemonErr(err, 125)
}

// SpecFromImage is the spec `run` gives a container of img with default
// flags, for a program that makes containers itself (lesson 06's builder
// runs each RUN step in one): the image's ENTRYPOINT and CMD under the
// container's, and its ENV, WORKDIR and USER under c.Config's Env,
// WorkingDir and User, as -e, -w and -u would set them.
func SpecFromImage(c *engine.Container, img *engine.Image, root string) (*specs.Spec, error) {
	var f createFlags
	cmd := &cobra.Command{Use: "run"}
	f.add(cmd)
	f.hostname = c.Config.Hostname
	f.sec.Env = append([]string(nil), c.Config.Env...)
	f.sec.Workdir = c.Config.WorkingDir
	f.sec.User = c.Config.User
	res, err := f.limits.Resources(runtime.NumCPU())
	if err != nil {
		return nil, err
	}
	return f.spec(c, img, root, res)
}

func (f *createFlags) detached() bool {
	d := f.cmd.Flags().Lookup("detach")
	return d == nil || d.Value.String() == "true"
}

// spec builds the OCI spec as lessons 01-03 do, from the image's config
// under the flags: ENTRYPOINT+CMD (or the arguments), ENV under -e,
// WORKDIR and USER unless -w and -u.
func (f *createFlags) spec(c *engine.Container, img *engine.Image, root string, res *specs.LinuxResources) (*specs.Spec, error) {
	ic := img.Config.Config
	entry := ic.Entrypoint
	cmd := c.Config.Cmd
	if c.Config.Entrypoint != nil {
		entry = c.Config.Entrypoint
		if len(entry) == 1 && entry[0] == "" {
			entry = nil
		}
	} else if len(cmd) == 0 {
		cmd = ic.Cmd
	}
	argv := append(append([]string{}, entry...), cmd...)
	if len(argv) == 0 {
		return nil, errors.New("no command specified")
	}
	c.Path, c.Args = argv[0], argv[1:]
	c.Config.Cmd, c.Config.Entrypoint = cmd, entry
	hostname := f.hostname
	if hostname == "" {
		hostname = c.ID[:12]
	}
	nc := namespaces.Config{Args: argv, Hostname: hostname, Init: f.init}
	if f.cmd.Flags().Changed("userns") {
		m, err := namespaces.ParseIDMap(f.userns)
		if err != nil {
			return nil, err
		}
		nc.UserNS = &m
	}
	spec, err := namespaces.NewSpec(nc)
	if err != nil {
		return nil, err
	}
	sec := f.sec
	sec.Rootfs = root
	sec.Volumes, sec.Tmpfs = nil, nil // the storage mounts those
	if sec.Workdir == "" {
		sec.Workdir = ic.WorkingDir
	}
	if sec.User == "" {
		sec.User = ic.User
	}
	if err := sec.Apply(spec); err != nil {
		return nil, err
	}
	spec.Process.Env = imageEnv(spec.Process.Env, ic.Env, f.userEnvKeys())
	if f.sec.TTY {
		if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			spec.Process.ConsoleSize = &specs.Box{Width: uint(w), Height: uint(h)}
		}
	}
	r := *res
	r.Devices = sec.DeviceRules()
	spec.Linux.Resources = &r
	c.Config.Env = spec.Process.Env
	c.Config.Hostname = hostname
	c.Config.WorkingDir = spec.Process.Cwd
	c.Config.User = sec.User
	if c.Config.StopSignal == "" { // the request's (compose's stop_signal) over the image's
		c.Config.StopSignal = ic.StopSignal
	}
	if len(ic.Volumes) > 0 {
		c.Config.Volumes = ic.Volumes
	}
	return spec, nil
}

// userEnvKeys are the variables -e and --env-file set: they win over the
// image's.
func (f *createFlags) userEnvKeys() map[string]bool {
	keys := map[string]bool{}
	for _, e := range f.sec.Env {
		k, _, _ := strings.Cut(e, "=")
		keys[k] = true
	}
	for _, name := range f.sec.EnvFiles {
		file, err := os.Open(name)
		if err != nil {
			continue
		}
		kvs, _ := runflags.ParseEnvFile(name, file, os.LookupEnv)
		file.Close()
		for _, kv := range kvs {
			k, _, _ := strings.Cut(kv, "=")
			keys[k] = true
		}
	}
	return keys
}

// imageEnv puts the image's ENV under what the user set.
func imageEnv(env, image []string, user map[string]bool) []string {
	for _, kv := range image {
		k, _, _ := strings.Cut(kv, "=")
		if !user[k] {
			env = runflags.MergeEnv(env, kv)
		}
	}
	return env
}

// create is the first half of create and run: the request from the flags,
// then the container, with Docker's exit statuses on failure.
func (c *CLI) create(cmd *cobra.Command, f *createFlags, args []string, rm bool) (*engine.Engine, *engine.Container, error) {
	req, err := f.request(args, rm)
	if err != nil {
		return nil, nil, cli.Fail(err)
	}
	if c.Adjust != nil {
		if err := c.Adjust(&req); err != nil {
			return nil, nil, cli.Fail(err)
		}
	}
	e, err := c.Engine()
	if err != nil {
		return nil, nil, cli.Fail(err)
	}
	ctr, err := e.Create(req)
	if err != nil {
		return nil, nil, createErr(cmd, req.Config.Image, err)
	}
	return e, ctr, nil
}

func (c *CLI) createCmd() *cobra.Command {
	var (
		f  createFlags
		rm bool
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		RunE: func(cmd *cobra.Command, args []string) error {
			_, ctr, err := c.create(cmd, &f, args, rm)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), ctr.ID)
			return nil
		},
	}
	cmd.Flags().BoolVar(&rm, "rm", false, "automatically remove the container when it exits")
	f.add(cmd)
	return cmd
}

func (c *CLI) runCmd() *cobra.Command {
	var f createFlags
	var detach, rm bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Example: `  minibox run --rm busybox echo hello
  minibox run -d --name web busybox httpd -f -p 8080
  minibox run -it --rm busybox sh
  minibox run --rm -e GREETING=hi -w /tmp -u nobody busybox sh -c 'id; pwd; echo $GREETING'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, ctr, err := c.create(cmd, &f, args, rm)
			if err != nil {
				return err
			}
			if detach {
				if err := e.Start(ctr.ID, nil); err != nil {
					return startFailed(e, ctr, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), ctr.ID)
				return nil
			}
			return c.runAttached(cmd, e, ctr, f.sec.Interactive, f.sec.TTY)
		},
	}
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the container in the background and print its ID")
	cmd.Flags().BoolVar(&rm, "rm", false, "automatically remove the container when it exits")
	f.add(cmd)
	return cmd
}

// startFailed reports a failed start with Docker's status: 127 for a
// command not found, 126 for one that cannot run, 125 otherwise. An --rm
// container goes.
func startFailed(e *engine.Engine, ctr *engine.Container, err error) error {
	if ctr.HostConfig.AutoRemove {
		e.Remove(ctr.ID, true, true)
	}
	code := 125
	var se *engine.StartError
	if errors.As(err, &se) && se.Code != 0 {
		code = se.Code
	}
	return &cli.ExitStatus{Code: code, Err: fmt.Errorf("Error response from daemon: %s", message(err))}
}

// runAttached (run without -d, start -a) starts the container with this
// CLI as its first attach client and relays until it ends: stdin (-i), stdout and stderr, signals
// (Ctrl-C reaches the container), and with -t a raw terminal with resize
// and Docker's Ctrl-P Ctrl-Q to detach.
func (c *CLI) runAttached(cmd *cobra.Command, e *engine.Engine, ctr *engine.Container, interactive, tty bool) error {
	ours, theirs, err := socketPair()
	if err != nil {
		return cli.Fail(err)
	}
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		theirs.Close()
		return cli.Fail(err)
	}
	err = e.Start(ctr.ID, theirs)
	theirs.Close()
	if err != nil {
		conn.Close()
		return startFailed(e, ctr, err)
	}
	return relay(cmd, e, ctr.ID, conn, interactive, tty)
}

// relay is the attached half of run, start -a and attach.
func relay(cmd *cobra.Command, e *engine.Engine, id string, conn net.Conn, interactive, tty bool) error {
	o := engine.AttachOptions{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
	if interactive {
		o.Stdin = cmd.InOrStdin()
	}
	stdinFd := int(os.Stdin.Fd())
	if tty && term.IsTerminal(stdinFd) {
		if old, err := term.MakeRaw(stdinFd); err == nil {
			defer term.Restore(stdinFd, old)
		}
		o.DetachKeys = []byte{0x10, 0x11} // Ctrl-P Ctrl-Q
		sizes := make(chan [2]uint16, 4)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		send := func() {
			if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				select {
				case sizes <- [2]uint16{uint16(w), uint16(h)}:
				default:
				}
			}
		}
		send()
		go func() {
			for range winch {
				send()
			}
		}()
		o.Resize = sizes
	} else if !tty {
		// Without a terminal, signals to us are the container's (Docker's
		// sig-proxy): Ctrl-C, kill -TERM of the CLI.
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				e.Kill(id, fmt.Sprint(int(s.(unix.Signal))))
			}
		}()
	}
	code, err := engine.Relay(conn, o)
	switch {
	case errors.Is(err, engine.ErrDetached):
		fmt.Fprintln(cmd.ErrOrStderr(), "\r\nread escape sequence")
		return nil
	case errors.Is(err, engine.ErrNoExitCode):
		code, err = e.Wait(id, "not-running")
		if err != nil {
			return daemonErr(err, 125)
		}
	}
	e.WaitMonitors(30 * 1e9)
	if code == 0 {
		return nil
	}
	return cli.Status(code)
}

func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "attach"), os.NewFile(uintptr(fds[1]), "attach"), nil
}
