package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
	"minibox/01-namespaces/namespaces"
	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/hooks"
)

// Runtime runs the OCI lifecycle over one state directory.
type Runtime struct {
	Store Store
	Warn  func(msg string) // failed poststart/poststop hooks, unapplied limits
}

// CreateOptions are the flags of `create` (and `run`).
type CreateOptions struct {
	Bundle  string // "" means the current directory, as runc
	PidFile string
	// ConsoleSocket is the path of a unix socket that receives the master
	// end of the container's pty (process.terminal), as runc sends it.
	ConsoleSocket string
	Stdio         namespaces.Stdio
}

// Create sets the container up and leaves it waiting for Start: the init
// runs in its namespaces and cgroup, inside its root filesystem, with its
// final user and capabilities, blocked on the exec FIFO. It survives this
// process.
func (r *Runtime) Create(id string, o CreateOptions) error {
	_, _, err := r.create(id, o, true, nil)
	return err
}

// Start releases a created container: its init executes the program.
func (r *Runtime) Start(id string) error {
	st, err := r.Store.Load(id)
	if err != nil {
		return err
	}
	if st.Status != specs.StateCreated {
		return fmt.Errorf("cannot start container %q: it is %s, not created", id, st.Status)
	}
	// The init holds the FIFO's read end. Opening the write end without
	// blocking fails with ENXIO when there is no reader: the init is gone.
	fd, err := unix.Open(r.Store.fifo(id), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("start container %q: its init is no longer waiting (it stopped before start); delete it", id)
	}
	if err != nil {
		return fmt.Errorf("start container %q: open its exec FIFO: %w", id, err)
	}
	_, err = unix.Write(fd, []byte{'0'})
	if err == nil {
		err = waitForExec(fd)
	}
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("start container %q: %w", id, err)
	}
	if err := os.Remove(r.Store.fifo(id)); err != nil {
		return fmt.Errorf("start container %q: %w", id, err)
	}
	st.Status = specs.StateRunning
	if err := r.Store.Save(st); err != nil {
		return err
	}
	spec, err := r.config(id)
	if err != nil {
		return err
	}
	if spec.Hooks != nil {
		for _, err := range hooks.RunAll("poststart", spec.Hooks.Poststart, &st.State) {
			r.warn(err.Error())
		}
	}
	return nil
}

// waitForExec waits until the init has executed the program. The init
// keeps the FIFO's read end open, close-on-exec, after it woke up: when the
// execve(2) closes it (or the init dies), the FIFO has no reader left, and
// poll(2) reports POLLERR on our write end. Only then may poststart run.
func waitForExec(fd int) error {
	fds := []unix.PollFd{{Fd: int32(fd)}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for the program to start: %w", err)
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			return nil
		}
	}
}

// State returns the container's state as the spec defines it.
func (r *Runtime) State(id string) (*State, error) { return r.Store.Load(id) }

// Kill sends sig to the container's init. Only a created or running
// container can be signalled.
func (r *Runtime) Kill(id string, sig unix.Signal) error {
	st, err := r.Store.Load(id)
	if err != nil {
		return err
	}
	if st.Status != specs.StateCreated && st.Status != specs.StateRunning {
		return fmt.Errorf("cannot kill container %q: it is %s", id, st.Status)
	}
	return st.signal(sig)
}

// Delete removes a stopped container: whatever is left in its cgroup, the
// cgroup, its state; then it runs the poststop hooks. With force it first
// kills a container that still runs.
func (r *Runtime) Delete(id string, force bool) error {
	st, err := r.Store.Load(id)
	if err != nil && force {
		if st, ok := r.incomplete(id); ok {
			return r.remove(st, false)
		}
	}
	if err != nil {
		return err
	}
	if st.Status != specs.StateStopped {
		if !force {
			return fmt.Errorf("cannot delete container %q that is not stopped: it is %s (stop it, or use delete --force)", id, st.Status)
		}
		_ = st.signal(unix.SIGKILL)
		if !st.waitGone(5 * time.Second) {
			return fmt.Errorf("delete container %q: its init (PID %d) did not die after SIGKILL", id, st.Pid)
		}
	}
	return r.remove(st, true)
}

// incomplete finds a state directory that a create killed half-way left
// without state.json. Its cgroup is left alone: nothing proves that the
// cgroup at its path is its own and not another container's.
func (r *Runtime) incomplete(id string) (*State, bool) {
	if CheckID(id) != nil {
		return nil, false
	}
	if _, err := os.Stat(filepath.Join(r.Store.Dir(id), "state.json")); !errors.Is(err, os.ErrNotExist) {
		return nil, false
	}
	if fi, err := os.Stat(r.Store.Dir(id)); err != nil || !fi.IsDir() {
		return nil, false
	}
	return &State{State: specs.State{ID: id}}, true
}

// remove takes down what a container left and, after a real delete, runs
// its poststop hooks (not after a create that failed).
func (r *Runtime) remove(st *State, poststop bool) error {
	spec, specErr := r.config(st.ID)
	if st.Cgroup != "" {
		mgr, err := cgroups.New("", st.Cgroup)
		if err == nil {
			err = mgr.Destroy()
		}
		if err != nil {
			return fmt.Errorf("delete container %q: remove its cgroup: %w", st.ID, err)
		}
	}
	if err := os.RemoveAll(r.Store.Dir(st.ID)); err != nil {
		return fmt.Errorf("delete container %q: %w", st.ID, err)
	}
	if poststop && specErr == nil && spec.Hooks != nil {
		st.Status = specs.StateStopped
		for _, err := range hooks.RunAll("poststop", spec.Hooks.Poststop, &st.State) {
			r.warn(err.Error())
		}
	}
	return nil
}

// Run is create, start, wait and delete in one: the container's exit
// status is returned. console, when not nil, gets the pty master of a
// container whose process.terminal is set.
func (r *Runtime) Run(id string, o CreateOptions, console func(master *os.File) (stop func(), err error)) (int, error) {
	c, st, err := r.create(id, o, false, console)
	if err != nil {
		return 0, err
	}
	stopConsole := func() {}
	if c.Console != nil {
		if stopConsole, err = console(c.Console); err != nil {
			_ = r.Delete(id, true)
			return 0, err
		}
	}
	stopSignals := c.Container.ForwardSignals()
	err = r.Start(id)
	if err != nil {
		stopSignals()
		stopConsole()
		_ = r.Delete(id, true)
		return 0, err
	}
	code, err := c.Container.Wait()
	stopSignals()
	stopConsole()
	if derr := r.remove(st, true); err == nil {
		err = derr
	}
	return code, err
}

// created is a container that create made, with what Run needs of it.
type created struct {
	Container *namespaces.Container
	Console   *os.File // the pty master, when Run asked for one
}

// create does the work of Create; detached says whether the init must
// outlive us.
func (r *Runtime) create(id string, o CreateOptions, detached bool, console func(*os.File) (func(), error)) (_ *created, _ *State, err error) {
	if err := CheckID(id); err != nil {
		return nil, nil, err
	}
	if o.Bundle == "" {
		o.Bundle = "."
	}
	bundle, spec, err := LoadBundle(o.Bundle)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case spec.Process.Terminal && o.ConsoleSocket == "" && (detached || console == nil):
		return nil, nil, errors.New("process.terminal is true but no --console-socket was given: a detached container's terminal must be handed to someone (or set terminal to false)")
	case !spec.Process.Terminal && o.ConsoleSocket != "":
		return nil, nil, errors.New("--console-socket was given but process.terminal is false: there is no terminal to send")
	}
	if err := os.MkdirAll(r.Store.Root, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create the state directory: %w", err)
	}
	dir := r.Store.Dir(id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, nil, fmt.Errorf("container %q already exists: delete it first, or choose another ID", id)
		}
		return nil, nil, fmt.Errorf("create the state directory of %q: %w", id, err)
	}
	st := &State{
		State:   specs.State{Version: spec.Version, ID: id, Status: specs.StateCreating, Bundle: bundle, Annotations: spec.Annotations},
		Rootfs:  spec.Root.Path,
		Created: time.Now().UTC(),
	}
	// st.Cgroup is set once this create made the cgroup: a failed create
	// must not remove (and kill) a cgroup that was there before.
	cgroupPath := spec.Linux.CgroupsPath
	if cgroupPath == "" {
		cgroupPath = id
	}
	var c *namespaces.Container
	defer func() {
		if err != nil {
			if c != nil {
				err = errors.Join(err, c.Kill())
			}
			_ = r.remove(st, false)
		}
	}()
	if err := writeJSON(filepath.Join(dir, "config.json"), spec); err != nil {
		return nil, nil, err
	}
	files, err := r.gateFiles(id, o, console != nil && spec.Process.Terminal)
	if err != nil {
		return nil, nil, err
	}
	defer files.close()

	mgr, err := cgroups.New("", cgroupPath)
	if err != nil {
		return nil, nil, err
	}
	// Another container's cgroup must not be shared. Create makes the
	// cgroup's own directory with one mkdir(2), which fails if it exists:
	// of two creates with the same cgroupsPath exactly one wins. (A stat
	// first would let both pass.) A failed Create removed what it made.
	warnings, err := mgr.Create(withDefaultDevices(spec))
	if errors.Is(err, os.ErrExist) {
		return nil, nil, fmt.Errorf("%w (choose another linux.cgroupsPath, or delete that container)", err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cgroup %s: %w", mgr.Path(), err)
	}
	st.Cgroup = cgroupPath
	for _, w := range warnings {
		r.warn(w)
	}
	opts := []initproto.StartOption{initproto.WithFiles(files.fifo, files.console), initproto.InDir(bundle)}
	if detached {
		opts = append(opts, initproto.Detached())
	}
	c, err = cgroups.StartIn(mgr, spec, o.Stdio, opts...)
	if err != nil {
		return nil, nil, err
	}
	st.Pid = c.Pid
	if st.InitStart, _, err = procStart(c.Pid); err != nil {
		return nil, nil, fmt.Errorf("read the init's start time: %w", err)
	}
	if err := r.Store.Save(st); err != nil {
		return nil, nil, err
	}
	// The namespaces exist, nothing of the container is set up yet: the
	// moment for hooks that prepare it from outside (a network, say). The
	// spec's lifecycle puts them after "the runtime environment has been
	// created" (step 2), so the state they read says created.
	hookState := st.State
	hookState.Status = specs.StateCreated
	if spec.Hooks != nil {
		if err := hooks.Run("prestart", spec.Hooks.Prestart, &hookState); err != nil { //nolint:staticcheck // deprecated in the spec, still used
			return nil, nil, err
		}
		if err := hooks.Run("createRuntime", spec.Hooks.CreateRuntime, &hookState); err != nil {
			return nil, nil, err
		}
	}
	c.Extra = hookState // for the createContainer and startContainer hooks inside
	if err := c.Release(); err != nil {
		var se *namespaces.StartError
		if errors.As(err, &se) {
			// The init exits right after its report: reap it.
			_, werr := c.Wait()
			err = errors.Join(err, werr)
			c = nil
		}
		return nil, nil, err
	}
	st.Status = specs.StateCreated
	if err := r.Store.Save(st); err != nil {
		return nil, nil, err
	}
	if o.PidFile != "" {
		if err := writeAtomic(o.PidFile, []byte(strconv.Itoa(st.Pid))); err != nil {
			return nil, nil, fmt.Errorf("write the pid file: %w", err)
		}
	}
	out := &created{Container: c}
	if files.consoleOurs != nil {
		if out.Console, err = ReceiveConsole(files.consoleOurs); err != nil {
			return nil, nil, err
		}
	}
	return out, st, nil
}

// withDefaultDevices is the spec's resources with the device rules of a
// runc container: deny every device first (a bundle without rules must not
// reach the host's disks), then the bundle's own rules, then the nodes every
// container has in /dev, and the devices the bundle lists in linux.devices
// (listing one means using it).
func withDefaultDevices(spec *specs.Spec) *specs.LinuxResources {
	var res specs.LinuxResources
	if spec.Linux.Resources != nil {
		res = *spec.Linux.Resources
	}
	rules := []specs.LinuxDeviceCgroup{cgroups.DenyAllDevices()}
	rules = append(rules, res.Devices...)
	rules = append(rules, cgroups.DefaultDevices()...)
	for _, d := range spec.Linux.Devices {
		major, minor := d.Major, d.Minor
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		if typ == "p" {
			continue // a FIFO is no device
		}
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: "rwm"})
	}
	res.Devices = rules
	return &res
}

// gateFiles are the descriptors create hands the init: the FIFO's read
// end (the gate) and the console socket.
type gateFiles struct {
	fifo, console *os.File
	consoleOurs   *os.File // our end of the socket pair, when Run wants the pty itself
}

func (g *gateFiles) close() {
	for _, f := range []*os.File{g.fifo, g.console, g.consoleOurs} {
		if f != nil {
			f.Close()
		}
	}
}

func (r *Runtime) gateFiles(id string, o CreateOptions, wantConsole bool) (*gateFiles, error) {
	g := &gateFiles{}
	path := r.Store.fifo(id)
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("make the exec FIFO %s: %w", path, err)
	}
	// Opening a FIFO for reading normally blocks until a writer comes;
	// O_NONBLOCK returns at once. The init then poll(2)s it: poll reports
	// nothing until a writer has written (see AwaitStart).
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the exec FIFO: %w", err)
	}
	g.fifo = os.NewFile(uintptr(fd), path)
	switch {
	case o.ConsoleSocket != "":
		conn, err := net.Dial("unix", o.ConsoleSocket)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("connect to the console socket: %w", err)
		}
		g.console, err = conn.(*net.UnixConn).File()
		conn.Close()
		if err != nil {
			g.close()
			return nil, fmt.Errorf("console socket: %w", err)
		}
	case wantConsole:
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("make the console socket pair: %w", err)
		}
		g.console, g.consoleOurs = os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console")
	}
	return g, nil
}

// config reads the spec that create saved.
func (r *Runtime) config(id string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(r.Store.Dir(id), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read the saved config of %q: %w", id, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("the saved config of %q is damaged: %w", id, err)
	}
	return &spec, nil
}

func (r *Runtime) warn(msg string) {
	if r.Warn != nil {
		r.Warn(msg)
	}
}
