package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
	"minibox/01-namespaces/namespaces"
	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/rootfs"
)

// exec: a second process in a running container (runc exec, docker exec).
//
// The container exists already: its namespaces are the init's, reachable
// as /proc/PID/ns/*, and its cgroup is on disk. A new process enters them
// with setns(2), one namespace at a time, then takes the process's user,
// capabilities, rlimits and seccomp filter as the init did, and executes
// the command. Three rules of the kernel decide who does what:
//
//   - setns(2) acts on the calling thread. For the PID namespace it changes
//     only where the thread's *children* go (the caller's own PID cannot
//     change), so the process that runs the command must be cloned after
//     the PID join. The runtime joins pid, net, ipc, uts and cgroup on a
//     locked thread and clones the exec process from it, as Start does to
//     join a namespace by path (namespaces/join_linux.go).
//   - Entering a mount namespace is refused (EINVAL) while the thread shares
//     its filesystem information (root, cwd, umask: fs_struct) with other
//     threads, which every thread of a Go program does. unshare(CLONE_FS)
//     gives the thread its own copy, and then setns(CLONE_NEWNS) is
//     allowed. The exec process does that first thing, on the thread that
//     will execve(2). The kernel then sets the thread's root and cwd to the
//     namespace's root, which after the init's pivot_root is the
//     container's root filesystem: no chroot is needed.
//   - A user namespace can be entered only by a single-threaded process
//     (setns(2): "A multithreaded process may not change user namespace").
//     A Go program never is one; runc enters it in C (nsexec) before the Go
//     runtime starts. So exec refuses a container with a user namespace.
//
// The exec process is our own binary, re-executed through /proc/self/exe
// while the runtime is still in the host's mount namespace: once inside the
// container, the binary's path means nothing.

// ExecOptions are the flags of `exec`.
type ExecOptions struct {
	// Process is the process to run: the caller builds it from the
	// container's config (ProcessFor) or from --process. Exec fills only
	// nil capabilities, with the container's (as runc does); rlimits and
	// the rest it leaves empty are empty.
	Process *specs.Process
	// ConsoleSocket receives the pty master when Process.Terminal is set.
	ConsoleSocket string
	// Console, when ConsoleSocket is empty and Process.Terminal is set,
	// gets the pty master (not detached: we copy it to our terminal).
	Console func(master *os.File) (stop func(), err error)
	Detach  bool
	PidFile string
	Stdio   namespaces.Stdio
}

// ProcessFor is the process `exec` runs when no --process file is given:
// the container's own process from its saved config, with args instead of
// its command and no terminal, as runc's exec builds it.
func (r *Runtime) ProcessFor(id string, args []string) (*specs.Process, error) {
	if _, err := r.Store.Load(id); err != nil {
		return nil, err
	}
	spec, err := r.config(id)
	if err != nil {
		return nil, err
	}
	p := specs.Process{}
	if spec.Process != nil {
		p = *spec.Process
	}
	p.Args = args
	p.Terminal = false
	p.ConsoleSize = nil
	return &p, nil
}

// Exec runs o.Process in the running container id. Without o.Detach it
// waits and returns the process's exit status (128+N for a signal); with
// it, it returns once the command runs. An error of type
// *namespaces.StartError carries the shell's 126 or 127.
func (r *Runtime) Exec(id string, o ExecOptions) (int, error) {
	p := o.Process
	if p == nil || len(p.Args) == 0 {
		return 0, errors.New("exec: no command given: name the program to run after the container ID")
	}
	if p.Cwd != "" && !filepath.IsAbs(p.Cwd) {
		return 0, fmt.Errorf("exec: cwd %q must be an absolute path", p.Cwd)
	}
	st, err := r.Store.Load(id)
	if err != nil {
		return 0, err
	}
	if st.Status != specs.StateRunning && st.Status != specs.StateCreated {
		return 0, fmt.Errorf("cannot exec in container %q: it is %s, not running", id, st.Status)
	}
	spec, err := r.config(id)
	if err != nil {
		return 0, err
	}
	switch {
	case p.Terminal && o.ConsoleSocket == "" && (o.Detach || o.Console == nil):
		return 0, errors.New("exec: a terminal (-t) with --detach needs a --console-socket to hand the pty to")
	case !p.Terminal && o.ConsoleSocket != "":
		return 0, errors.New("exec: --console-socket was given without a terminal (-t)")
	}
	ns, err := openNamespaces(st)
	if err != nil {
		return 0, fmt.Errorf("exec in container %q: %w", id, err)
	}
	defer ns.close()
	// The descriptors are open: if the init is still the one state.json
	// names, they are its namespaces, even should it die now.
	if !st.alive() {
		return 0, fmt.Errorf("cannot exec in container %q: it stopped", id)
	}
	var mgr cgroups.Manager
	if st.Cgroup != "" {
		if mgr, err = cgroups.New("", st.Cgroup); err != nil {
			return 0, fmt.Errorf("exec in container %q: %w", id, err)
		}
	}

	if spec.Linux == nil {
		return 0, fmt.Errorf("exec in container %q: its config has no \"linux\" section: no namespaces to join", id)
	}
	// A --process file without capabilities gets the container's, as
	// runc's does: nil would leave the exec process all of root's
	// capabilities and a full bounding set, more than the container has.
	if p.Capabilities == nil && spec.Process != nil && spec.Process.Capabilities != nil {
		cp := *p
		cp.Capabilities = spec.Process.Capabilities
		p = &cp
	}
	// What the exec process needs of the spec: its process, the seccomp
	// filter and the namespaces (to know which exist).
	exe := &specs.Spec{Version: spec.Version, Process: p, Linux: &specs.Linux{Namespaces: spec.Linux.Namespaces, Seccomp: spec.Linux.Seccomp}}
	console, ours, err := execConsole(o, p.Terminal)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, f := range []*os.File{console, ours} {
			if f != nil {
				f.Close()
			}
		}
	}()
	pid, specW, errR, err := forkExecProcess(ns, o.Stdio, console)
	if err != nil {
		return 0, fmt.Errorf("exec in container %q: %w", id, err)
	}
	defer errR.Close()
	kill := func(err error) (int, error) {
		specW.Close()
		_ = unix.Kill(pid, unix.SIGKILL)
		_, _ = wait(pid)
		return 0, err
	}
	// Into the container's cgroup before it runs anything: the process
	// waits for the spec until then.
	if mgr != nil {
		if err := mgr.Join(pid); err != nil {
			return kill(fmt.Errorf("exec in container %q: join its cgroup: %w", id, err))
		}
	}
	err = json.NewEncoder(specW).Encode(exe)
	specW.Close()
	if err != nil {
		return kill(fmt.Errorf("exec in container %q: send the process: %w", id, err))
	}
	// EOF: the execve(2) worked and closed the pipe. A report: it failed.
	msg, err := io.ReadAll(errR)
	if err != nil {
		return kill(fmt.Errorf("exec in container %q: read the process's report: %w", id, err))
	}
	if len(msg) > 0 {
		var se namespaces.StartError
		if jerr := json.Unmarshal(msg, &se); jerr != nil {
			se = namespaces.StartError{Code: 125, Message: strings.TrimSpace(string(msg))}
		}
		_, _ = wait(pid)
		return 0, &se
	}
	if o.PidFile != "" {
		if err := writeAtomic(o.PidFile, []byte(strconv.Itoa(pid))); err != nil {
			return kill(fmt.Errorf("write the pid file: %w", err))
		}
	}
	stopConsole := func() {}
	if ours != nil {
		master, err := ReceiveConsole(ours)
		if err != nil {
			return kill(err)
		}
		if stopConsole, err = o.Console(master); err != nil {
			master.Close()
			return kill(err)
		}
	}
	if o.Detach {
		// Not waited for. When we exit, the kernel gives the orphan to
		// the nearest "child subreaper" among our ancestors (a shim, the
		// engine's monitor), else to the host's PID 1: the reaper is
		// looked for in the PID namespace of the parent that died, ours,
		// not in the container's (see PR_SET_CHILD_SUBREAPER, prctl(2)).
		return 0, nil
	}
	stopSignals := forwardSignals(pid)
	code, err := wait(pid)
	stopSignals()
	stopConsole()
	return code, err
}

// execNamespaces are the init's namespaces that the exec process joins.
type execNamespaces struct {
	joins []nsFile // joined by the runtime's thread before the clone
	mnt   *os.File // joined by the exec process itself
}

type nsFile struct {
	name string
	typ  specs.LinuxNamespaceType
	f    *os.File
}

func (n *execNamespaces) close() {
	for _, j := range n.joins {
		j.f.Close()
	}
	if n.mnt != nil {
		n.mnt.Close()
	}
}

// openNamespaces opens the init's namespaces that differ from ours (a
// container may share the host's network, say: nothing to join then).
func openNamespaces(st *State) (*execNamespaces, error) {
	ns := &execNamespaces{}
	differs := func(name string) (bool, error) {
		theirs, err := os.Stat(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, name))
		if err != nil {
			return false, fmt.Errorf("the init's %s namespace: %w", name, err)
		}
		ours, err := os.Stat("/proc/thread-self/ns/" + name)
		if err != nil {
			return false, fmt.Errorf("our own %s namespace: %w", name, err)
		}
		return !os.SameFile(theirs, ours), nil
	}
	if d, err := differs("user"); err != nil || d {
		if err == nil {
			err = errors.New("it has a user namespace, and the kernel lets only a single-threaded process enter one (setns(2)), which a Go program never is")
		}
		return nil, err
	}
	open := func(name string) (*os.File, error) {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", st.Pid, name))
		if err != nil {
			return nil, fmt.Errorf("open the init's %s namespace: %w", name, err)
		}
		return f, nil
	}
	for _, t := range []struct {
		name string
		typ  specs.LinuxNamespaceType
	}{{"pid", specs.PIDNamespace}, {"net", specs.NetworkNamespace}, {"ipc", specs.IPCNamespace}, {"uts", specs.UTSNamespace}, {"cgroup", specs.CgroupNamespace}} {
		d, err := differs(t.name)
		if err != nil {
			ns.close()
			return nil, err
		}
		if !d {
			continue
		}
		f, err := open(t.name)
		if err != nil {
			ns.close()
			return nil, err
		}
		ns.joins = append(ns.joins, nsFile{t.name, t.typ, f})
	}
	if d, err := differs("mnt"); err != nil {
		ns.close()
		return nil, err
	} else if d {
		if ns.mnt, err = open("mnt"); err != nil {
			ns.close()
			return nil, err
		}
	}
	return ns, nil
}

// execConsole is what the exec process gets to send its pty master over:
// the caller's console socket, or one end of a socket pair whose other end
// (ours) we read it from.
func execConsole(o ExecOptions, terminal bool) (console, ours *os.File, err error) {
	switch {
	case !terminal:
		return nil, nil, nil
	case o.ConsoleSocket != "":
		conn, err := net.Dial("unix", o.ConsoleSocket)
		if err != nil {
			return nil, nil, fmt.Errorf("exec: connect to the console socket: %w", err)
		}
		defer conn.Close()
		f, err := conn.(*net.UnixConn).File()
		if err != nil {
			return nil, nil, fmt.Errorf("exec: console socket: %w", err)
		}
		return f, nil, nil
	default:
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("exec: make the console socket pair: %w", err)
		}
		return os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console"), nil
	}
}

// How the runtime and the exec process find each other: the marker in the
// environment, and these descriptors after stdio.
const (
	execEnv    = "_MINIBOX_EXEC"
	execArg    = "init" // as the init's: a test binary knows it (testkit.MainProgram)
	execSpecFd = 3      // the spec, JSON, then EOF
	execErrFd  = 4      // a namespaces.StartError on failure; EOF at execve
	execMntFd  = 5      // the init's mount namespace (-1: the host's is theirs)
	// consoleFd (7) is the console socket, as for the init (Console).
)

// forkExecProcess clones the exec process from a thread that joined ns,
// then brings the thread back into our namespaces.
func forkExecProcess(ns *execNamespaces, stdio namespaces.Stdio, console *os.File) (pid int, specW, errR *os.File, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, nil, nil, fmt.Errorf("find our own binary: %w", err)
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return 0, nil, nil, err
	}
	defer specR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		specW.Close()
		return 0, nil, nil, err
	}
	defer errW.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		specW.Close()
		errR.Close()
		return 0, nil, nil, err
	}
	defer devNull.Close()
	fd := func(f *os.File, def *os.File) uintptr {
		if f == nil {
			f = def
		}
		return f.Fd()
	}
	files := []uintptr{fd(stdio.Stdin, devNull), fd(stdio.Stdout, devNull), fd(stdio.Stderr, devNull), specR.Fd(), errW.Fd(), ^uintptr(0), ^uintptr(0)}
	env := []string{execEnv + "=1", "PATH=" + namespaces.DefaultPath}
	if ns.mnt != nil {
		files[execMntFd] = ns.mnt.Fd()
		env = append(env, execEnv+"_MNT=1")
	}
	if console != nil {
		files = append(files, console.Fd())
		env = append(env, extraFilesEnvFor(consoleFd))
	}
	attr := &syscall.ProcAttr{Env: env, Files: files}

	// Each namespace by the descriptor we hold (/proc/self/fd/N opens the
	// same namespace again), not by the init's PID, which may be reused.
	joins := make([]specs.LinuxNamespace, 0, len(ns.joins))
	for _, j := range ns.joins {
		joins = append(joins, specs.LinuxNamespace{Type: j.typ, Path: fmt.Sprintf("/proc/self/fd/%d", j.f.Fd())})
	}
	pid, err = namespaces.ForkExecJoined(joins, exe, []string{"minibox-exec", execArg}, attr)
	if err != nil {
		specW.Close()
		errR.Close()
		return 0, nil, nil, fmt.Errorf("start the exec process: %w", err)
	}
	return pid, specW, errR, nil
}

// extraFilesEnvFor tells Console (initproto.ExtraFile) that fd was handed
// over, in the variable initproto reads (initproto.WithFiles sets it for
// the init).
func extraFilesEnvFor(fd int) string { return "_MINIBOX_EXTRA_FDS=" + strconv.Itoa(fd) }

// wait reaps pid and returns its exit status as a shell reports it.
func wait(pid int) (int, error) {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait for the exec process (PID %d): %w", pid, err)
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ws.ExitStatus(), nil
	}
}

// forwardSignals passes the signals a terminal or a shim sends us on to
// the exec process, as runc exec does. The returned stop ends it.
func forwardSignals(pid int) (stop func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				_ = unix.Kill(pid, s.(unix.Signal))
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// IsExecInit reports whether this process is an exec process that Exec
// started. A program calls it first thing in main, then ExecInit.
func IsExecInit() bool {
	return len(os.Args) > 1 && os.Args[1] == execArg && os.Getenv(execEnv) == "1"
}

// ExecInit is the exec process's side of Exec: it already is in the
// container's PID, network, IPC, UTS and cgroup namespaces and cgroup. It
// enters the mount namespace, sets up the process as the init did for its
// own (console, rlimits, capabilities, user, no_new_privs, seccomp) and
// executes the command. It never returns.
func ExecInit() {
	errPipe := os.NewFile(execErrFd, "error-pipe")
	fail := func(code int, err error) {
		msg, _ := json.Marshal(namespaces.StartError{Code: code, Message: err.Error()})
		if _, werr := errPipe.Write(msg); werr != nil {
			fmt.Fprintf(os.Stderr, "minibox-exec: %v\n", err)
		}
		os.Exit(code)
	}
	// First thing: we are the host's binary, in the container's PID
	// namespace, with root's capabilities until Finish. Dumpable, a root
	// process of the container could open /proc/PID/exe (our binary, for
	// writing: CVE-2019-5736) or /proc/PID/root (the host's root until the
	// mount-namespace join). Non-dumpable, /proc/PID/* needs CAP_SYS_PTRACE,
	// which containers lack. execve(2) of the command sets it back to 1
	// (unless setuid or unreadable; see PR_SET_DUMPABLE in prctl(2)).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fail(125, fmt.Errorf("exec: prctl PR_SET_DUMPABLE: %w", err))
	}
	// Everything happens on this thread, which finally executes the
	// command: the mount namespace, credentials, capabilities and the
	// seccomp filter are all the thread's own.
	runtime.LockOSThread()
	// Close-on-exec: the error pipe reports a successful execve as EOF,
	// and no descriptor of ours reaches the command.
	if err := initproto.CloseOnExecFrom(3); err != nil {
		fail(125, fmt.Errorf("exec: %w", err))
	}
	spec, err := readExecSpec()
	if err != nil {
		fail(125, err)
	}
	if os.Getenv(execEnv+"_MNT") == "1" {
		if err := joinMountNamespace(execMntFd); err != nil {
			fail(125, err)
		}
	}
	if err := Console(spec); err != nil {
		fail(125, fmt.Errorf("exec: %w", err))
	}
	if err := rootfs.Finish(spec); err != nil {
		fail(125, fmt.Errorf("exec: %w", err))
	}
	if cwd := spec.Process.Cwd; cwd != "" {
		if err := unix.Chdir(cwd); err != nil {
			fail(125, fmt.Errorf("exec: change to the working directory %s: %w", cwd, err))
		}
	}
	path, code, err := namespaces.LookPath(spec.Process.Args[0], spec.Process.Env)
	if err != nil {
		fail(code, err)
	}
	if err := rootfs.LateRlimits(spec, nil); err != nil {
		fail(125, fmt.Errorf("exec: %w", err))
	}
	err = initproto.Exec(path, spec.Process.Args, spec.Process.Env)
	code = 126
	if errors.Is(err, unix.ENOENT) {
		code = 127
	}
	fail(code, fmt.Errorf("exec: %q: %w", spec.Process.Args[0], err))
}

// readExecSpec reads what Exec sent: a spec with the process to run.
func readExecSpec() (*specs.Spec, error) {
	f := os.NewFile(execSpecFd, "spec-pipe")
	defer f.Close()
	var spec specs.Spec
	if err := json.NewDecoder(f).Decode(&spec); err != nil {
		return nil, fmt.Errorf("exec: read the process from the runtime: %w", err)
	}
	if spec.Process == nil || len(spec.Process.Args) == 0 {
		return nil, errors.New("exec: the runtime sent no process")
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	return &spec, nil
}

// joinMountNamespace enters the mount namespace fd on this thread (see the
// top of this file for why CLONE_FS first).
func joinMountNamespace(fd int) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("exec: unshare(CLONE_FS): %w", err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("exec: join the container's mount namespace (setns CLONE_NEWNS): %w", err)
	}
	unix.Close(fd)
	// setns put our root and cwd at the namespace's root: after the
	// init's pivot_root, the container's root filesystem.
	return unix.Chdir("/")
}
