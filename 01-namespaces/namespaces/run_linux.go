package namespaces

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
)

// Run starts the container that spec describes, forwards the signals this
// process receives to it, and waits for it. It returns the container's exit
// status, computed like a shell does: the code it exited with, or 128+N when
// signal N killed it. When the command could not even be started (not found,
// not executable) the error is a *StartError holding 127 or 126.
func Run(spec *specs.Spec, stdio Stdio) (int, error) {
	c, err := Start(spec, stdio)
	if err != nil {
		return 0, err
	}
	return c.Run(nil)
}

// Stdio is where the container's standard streams go. Passing *os.File
// values hands the very file descriptors to the container: no copying. A
// nil one is /dev/null.
type Stdio struct {
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
}

// HostStdio is the caller's own stdin, stdout and stderr.
func HostStdio() Stdio { return Stdio{os.Stdin, os.Stdout, os.Stderr} }

// Container is a started container whose init may still be waiting for Release.
type Container struct {
	Spec *specs.Spec
	Pid  int // the init's PID as the host sees it

	// Extra, when set before Release, is sent to the init after the spec
	// (lesson 03: the OCI state its hooks read); the init reads it with
	// initproto.Extra.
	Extra any

	specPipe *os.File // we write the spec here; the init waits on its other end
	errPipe  *os.File // the init reports a failed start here; EOF means the exec worked
}

// StartError says the container's command could not be started.
type StartError struct {
	Code    int    // 127: not found, 126: found but cannot be executed, 125: setup failed
	Message string // what the init reported
}

func (e *StartError) Error() string { return e.Message }

// How Start and Init find each other: the init is this binary run as
// `minibox-init init` with _MINIBOX_INIT=1 in its environment, and these
// descriptors open (after the container's stdio, 0-2).
const (
	initArg   = "init"
	initEnv   = "_MINIBOX_INIT"
	specFd    = 3 // read end of the spec pipe: the init blocks here until Release
	errFd     = 4 // write end of the error pipe, close-on-exec
	initExeFd = 5 // our own binary, which the init was executed from
)

// The files of a later lesson's initproto.WithFiles come right after ours:
// this line does not compile unless initproto.ExtraFd is initExeFd+1.
var _ = [1]struct{}{}[initproto.ExtraFd-(initExeFd+1)]

// Start creates the namespaces and the container's init process, and leaves
// the init blocked before it does anything: the caller may now act on it from
// outside (later lessons put it into a cgroup here) and then call Release.
// The options are a later lesson's (see package initproto).
func Start(spec *specs.Spec, stdio Stdio, opts ...initproto.StartOption) (*Container, error) {
	if spec.Process == nil || len(spec.Process.Args) == 0 {
		return nil, errors.New("spec has no process to run")
	}
	_, joins, err := splitJoins(spec)
	if err != nil {
		return nil, fmt.Errorf("namespaces: %w", err)
	}
	flags, err := cloneFlags(spec) // the whole list: a type both created and joined is an error
	if err != nil {
		return nil, fmt.Errorf("namespaces: %w", err)
	}
	// A new cgroup namespace takes as its root the cgroup its creator is in
	// at that moment. Made at clone time, that would be *our* cgroup, and a
	// later lesson moves the init into the container's own cgroup only
	// after clone. So the init makes it itself, after Release, once it is
	// in place.
	flags &^= unix.CLONE_NEWCGROUP
	// The init is this same program. We hand it over as an open file rather
	// than a path: with a user namespace the init runs as an unprivileged
	// host UID that may not be allowed to walk to our binary (go run and go
	// test build into 0700 directories), but an open descriptor needs no walk.
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open our own binary to re-execute it: %w", err)
	}
	defer self.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s for the container's stdio: %w", os.DevNull, err)
	}
	defer null.Close()
	fdOf := func(f *os.File) uintptr {
		if f == nil {
			f = null
		}
		return f.Fd()
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("make the spec pipe: %w", err)
	}
	defer specR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return nil, fmt.Errorf("make the error pipe: %w", err)
	}
	defer errW.Close()

	attr := &syscall.ProcAttr{
		Env: []string{initEnv + "=1"},
		// The position fixes each descriptor's number in the child:
		// 0-2 the container's stdio, then specFd, errFd and initExeFd.
		Files: []uintptr{fdOf(stdio.Stdin), fdOf(stdio.Stdout), fdOf(stdio.Stderr), specR.Fd(), errW.Fd(), self.Fd()},
		Sys: &syscall.SysProcAttr{
			Cloneflags: flags,
			// If this process dies, the kernel kills the container's init,
			// and with it its whole PID namespace: nothing is left behind.
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		// Go writes /proc/PID/uid_map and gid_map for us between clone and
		// exec. As real root we may allow setgroups(2) inside.
		attr.Sys.UidMappings = idMaps(spec.Linux.UIDMappings)
		attr.Sys.GidMappings = idMaps(spec.Linux.GIDMappings)
		attr.Sys.GidMappingsEnableSetgroups = true
		// Right after clone the child is still host root, a UID the new
		// namespace does not map, so it would hold no capabilities after
		// exec. Becoming UID 0 *inside* (host UID 100000 by default) makes
		// it the namespace's root, with every capability in it.
		attr.Sys.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	for _, o := range opts {
		o(attr)
	}
	// syscall.ForkExec is clone(2) followed by execve(2) in the child.
	argv0, argv := fmt.Sprintf("/proc/self/fd/%d", initExeFd), []string{"minibox-init", initArg}
	var pid int
	if len(joins) > 0 {
		pid, err = forkExecJoined(joins, argv0, argv, attr)
	} else {
		pid, err = syscall.ForkExec(argv0, argv, attr)
	}
	if err != nil {
		specW.Close()
		errR.Close()
		return nil, fmt.Errorf("clone the container's init (flags %s): %w", FlagNames(flags), err)
	}
	return &Container{Spec: spec, Pid: pid, specPipe: specW, errPipe: errR}, nil
}

// Release sends the spec to the waiting init, which sets up the namespaces
// and executes the command. It returns once the command runs (or, in lesson
// 03, waits at its gate), or with a *StartError when it could not be started.
func (c *Container) Release() error {
	defer c.errPipe.Close()
	err := initproto.SendSpec(c.specPipe, c.Spec, c.Extra)
	c.specPipe.Close()
	if err != nil {
		return fmt.Errorf("send the spec to the container's init: %w", err)
	}
	// The init's end of errPipe is close-on-exec: a successful execve
	// closes it and we read EOF. A failure arrives as one JSON message.
	msg, err := io.ReadAll(c.errPipe)
	if err != nil {
		return fmt.Errorf("read the container's start report: %w", err)
	}
	if len(msg) == 0 {
		return nil
	}
	var se StartError
	if err := json.Unmarshal(msg, &se); err != nil {
		return fmt.Errorf("the container's init failed and said %q", msg)
	}
	return &se
}

// Run runs a started container to its end: Release, then released (a later
// lesson's initproto.Hooks.Released; nil in lesson 01), then the wait,
// passing on the signals we receive meanwhile.
func (c *Container) Run(released func() error) (int, error) {
	stop := c.ForwardSignals()
	defer stop()
	if err := c.Release(); err != nil {
		var se *StartError
		if !errors.As(err, &se) {
			return 0, errors.Join(err, c.Kill())
		}
		// The init exits right after its report: reap it.
		if _, werr := c.Wait(); werr != nil {
			return 0, errors.Join(err, werr)
		}
		return 0, err
	}
	if released != nil {
		if err := released(); err != nil {
			return 0, errors.Join(err, c.Kill())
		}
	}
	return c.Wait()
}

// Wait waits for the init to exit and returns the container's exit status.
func (c *Container) Wait() (int, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(c.Pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for the container's init (PID %d): %w", c.Pid, err)
		}
		return ExitCode(ws), nil
	}
}

// Kill ends the container at once and reaps its init. Killing PID 1 of a PID
// namespace makes the kernel kill every other process in it too.
func (c *Container) Kill() error {
	// Until we reap it, the init is our child (at worst a zombie), so the
	// signal finds it.
	if err := unix.Kill(c.Pid, unix.SIGKILL); err != nil {
		return fmt.Errorf("kill the container's init (PID %d): %w", c.Pid, err)
	}
	_, err := c.Wait()
	return err
}

// ForwardSignals relays every signal this process receives to the
// container's init until the returned function is called. This is what makes
// Ctrl-C or `kill` aimed at the runtime reach the command inside. The third
// SIGINT kills the container.
func (c *Container) ForwardSignals() (stop func()) {
	ch := make(chan os.Signal, 32)
	signal.Notify(ch)
	go func() {
		interrupts := 0
		for sig := range ch {
			s := sig.(syscall.Signal)
			if !forwarded(s) {
				continue
			}
			// A PID 1 without a handler ignores SIGINT, so Ctrl-C alone
			// may never end the container. Like the docker CLI, give up
			// on the third one and kill it.
			if s == unix.SIGINT {
				if interrupts++; interrupts == 3 {
					fmt.Fprintln(os.Stderr, "minibox: third interrupt: killing the container")
					s = unix.SIGKILL
				}
			}
			// ESRCH: the init is gone already (reaped); nothing to pass on.
			if err := unix.Kill(c.Pid, s); err != nil && !errors.Is(err, unix.ESRCH) {
				fmt.Fprintf(os.Stderr, "minibox: pass %v on to the container (PID %d): %v\n", s, c.Pid, err)
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(ch)
	}
}

// ExitCode turns a wait status into the number a shell would show in $?.
func ExitCode(ws unix.WaitStatus) int {
	// LAB 01.3 BEGIN: exited -> its code; killed by signal N -> 128+N
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 255
	// LAB 01.3 END
	// LAB 01.3 STUB: return ws.ExitStatus() // right for a normal exit only
}

// forwarded says whether a signal is meant for the container: SIGCHLD is
// about our own child, SIGURG is the Go runtime's preemption signal, SIGPIPE
// concerns our own writes. Docker's sig-proxy skips the same ones.
func forwarded(s syscall.Signal) bool {
	switch s {
	case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
		return false
	}
	return true
}

// idMaps converts the spec's UID or GID mappings to what Go's clone writes
// into /proc/PID/uid_map and gid_map.
func idMaps(in []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(in))
	for i, m := range in {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}
