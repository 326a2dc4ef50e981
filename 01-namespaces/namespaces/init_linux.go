package namespaces

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
)

// IsInit reports whether this process is a container's init started by
// Start. A program calls it first thing in main and then calls Init.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == initArg && os.Getenv(initEnv) == "1"
}

// Init is the container's side of Start. It runs as PID 1 of the new PID
// namespace, waits for the spec, sets the namespaces up from the inside and
// then replaces itself with the command (or, with --init, runs it as a child
// and reaps). It never returns. The steps are a later lesson's setup, run
// after lesson 01's (see package initproto).
func Init(steps ...initproto.Step) { InitWithGate(nil, steps...) }

// InitWithGate is Init with a later lesson's gate right before the command
// (see initproto.Gate).
func InitWithGate(gate initproto.Gate, steps ...initproto.Step) {
	errPipe := os.NewFile(errFd, "error-pipe")
	released := false // the runtime was told the setup worked: it no longer reads errPipe
	fail := func(code int, err error) {
		if !released {
			// The runtime's Release reads the report and tells the user.
			msg, _ := json.Marshal(StartError{Code: code, Message: err.Error()}) // two plain fields: cannot fail
			_, werr := errPipe.Write(msg)
			if werr == nil {
				os.Exit(code)
			}
			fmt.Fprintf(os.Stderr, "minibox-init: report the failure to the runtime: %v\n", werr)
		}
		fmt.Fprintf(os.Stderr, "minibox-init: %v\n", err)
		os.Exit(code)
	}
	// We are the host's binary, already PID 1 of the container's PID
	// namespace: a process that `exec` puts there before the command runs
	// could open /proc/1/exe (our binary, CVE-2019-5736) while we are
	// dumpable. Non-dumpable, /proc/1/* needs CAP_SYS_PTRACE. execve(2) of
	// the command sets it back to 1 (unless setuid or unreadable; see
	// PR_SET_DUMPABLE in prctl(2)), as runc's init relies on too.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fail(125, fmt.Errorf("init: prctl PR_SET_DUMPABLE: %w", err))
	}
	// Every descriptor above stdio is for the init alone. Close-on-exec
	// makes errPipe report a successful execve as EOF, and keeps every
	// other one (the spec pipe, a later lesson's start FIFO and console
	// socket, any the runtime's caller left open) from reaching a hook or
	// the container's program: a directory descriptor of the host inside
	// the container would be a way out of it. (runc does the same.)
	if err := initproto.CloseOnExecFrom(3); err != nil {
		fail(125, fmt.Errorf("init: %w", err))
	}
	// The kernel already executes us: our binary's descriptor is not needed.
	if err := unix.Close(initExeFd); err != nil {
		fail(125, fmt.Errorf("init: close our binary's descriptor: %w", err))
	}

	spec, err := readSpec()
	if err != nil {
		fail(125, err)
	}
	if err := setup(spec); err != nil {
		fail(125, err)
	}
	// Before the later lessons' steps: the last of them drops
	// CAP_SYS_ADMIN, which unshare(CLONE_NEWCGROUP) needs, and a cgroup
	// mount made by a step then already shows the namespaced view. The init
	// is in its cgroup by now: Release comes after lesson 02 placed it.
	if err := unshareCgroupNS(spec); err != nil {
		fail(125, err)
	}
	for _, step := range steps {
		if err := step(spec); err != nil {
			fail(125, err)
		}
	}
	if err := chdir(spec); err != nil {
		fail(125, err)
	}
	path, code, err := LookPath(spec.Process.Args[0], spec.Process.Env)
	if err != nil {
		fail(code, err)
	}
	if gate != nil {
		ready := func() { released = true; errPipe.Close() }
		if err := gate(spec, ready); err != nil {
			fail(125, err)
		}
	}
	if spec.Annotations[InitAnnotation] == "true" {
		code, err := runAsInit(path, spec, errPipe)
		if err != nil {
			fail(code, err)
		}
		os.Exit(code)
	}
	// execve(2) replaces this Go program with the command, keeping the PID:
	// the command becomes PID 1. On success errPipe closes (close-on-exec)
	// and the parent reads EOF; on failure we are still here to report it.
	// (initproto.Exec is unix.Exec unless a later lesson registered
	// something to do right before it.)
	err = initproto.Exec(path, spec.Process.Args, spec.Process.Env)
	fail(execFailureCode(err), fmt.Errorf("exec %q: %w", spec.Process.Args[0], err))
}

// readSpec reads the spec that Release writes into the pipe.
func readSpec() (*specs.Spec, error) {
	f := os.NewFile(specFd, "spec-pipe")
	defer f.Close()
	spec, err := initproto.ReadSpec(f)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if spec.Process == nil || len(spec.Process.Args) == 0 {
		return nil, errors.New("init: the spec has no process")
	}
	return spec, nil
}

// setup does, from inside the new namespaces, what cannot be done from
// outside: name the host, get a /proc that matches the PID namespace, and
// bring up the loopback link of the new network namespace.
func setup(spec *specs.Spec) error {
	if spec.Hostname != "" {
		if !HasNamespace(spec, specs.UTSNamespace) {
			return errors.New("init: a hostname needs its own UTS namespace")
		}
		// The UTS namespace is ours alone: the host keeps its name.
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("init: sethostname %q: %w", spec.Hostname, err)
		}
	}
	if err := mountProc(spec); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if ns := findNamespace(spec, specs.NetworkNamespace); ns != nil && ns.Path == "" {
		// A new network namespace has only `lo`, and it starts down.
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	return nil
}

// mountProc gives the container a /proc of its own PID namespace. Without
// it, /proc is still the host's: `ps` would list every host process even
// though the container cannot signal them.
func mountProc(spec *specs.Spec) error {
	// LAB 01.2 BEGIN: make mounts private, then mount a fresh /proc
	if !HasNamespace(spec, specs.MountNamespace) {
		return nil
	}
	// The new mount namespace starts as a copy of the host's, and on hosts
	// run by systemd `/` is a *shared* mount: a mount we make here would
	// propagate back to the host. MS_REC|MS_PRIVATE cuts that link for every
	// mount at once, before we mount anything.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private (mount MS_REC|MS_PRIVATE): %w", err)
	}
	if !HasNamespace(spec, specs.PIDNamespace) {
		return nil
	}
	// A proc filesystem shows the PID namespace of whoever mounts it.
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("proc", "/proc", "proc", flags, ""); err != nil {
		return fmt.Errorf("mount proc on /proc (MS_NOSUID|MS_NODEV|MS_NOEXEC): %w", err)
	}
	return nil
	// LAB 01.2 END
	// LAB 01.2 STUB: lab.Warn("01.2")
	// LAB 01.2 STUB: return nil
}

// loopbackUp sets the `lo` link of our network namespace up (ip link set lo up).
func loopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find the loopback link: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// unshareCgroupNS gives the command a cgroup namespace rooted at the cgroup
// it is in now, so that it sees its own cgroup as "/". unshare(2) of a cgroup
// namespace affects only the calling thread, so the goroutine stays locked to
// this thread: the execve(2) or fork that follows happens from it, and the
// command inherits the namespace. The thread is never unlocked; the process
// is replaced or becomes the reaper.
func unshareCgroupNS(spec *specs.Spec) error {
	if ns := findNamespace(spec, specs.CgroupNamespace); ns == nil || ns.Path != "" {
		return nil
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("init: unshare the cgroup namespace (CLONE_NEWCGROUP): %w", err)
	}
	return nil
}

// chdir enters the command's working directory. It runs after the later
// lessons' steps, which may have changed the root.
func chdir(spec *specs.Spec) error {
	cwd := spec.Process.Cwd
	if cwd == "" {
		return nil
	}
	if err := os.Chdir(cwd); err != nil {
		if HasNamespace(spec, specs.UserNamespace) && errors.Is(err, unix.EACCES) {
			return fmt.Errorf("init: change to the working directory: %w (root in a user namespace is an unprivileged user on the host and may not enter it: cd to a directory everyone may read, such as /tmp)", err)
		}
		return fmt.Errorf("init: change to the working directory: %w", err)
	}
	return nil
}

// DefaultPath is the PATH a command is looked up in when the spec sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookPath finds name like a shell does: as given when it holds a slash,
// else in the PATH of env. It returns the exit status a shell uses when it
// cannot run a command: 127 for not found, 126 for not executable.
func LookPath(name string, env []string) (string, int, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", err.Code, err
		}
		return name, 0, nil
	}
	path := DefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if checkExecutable(p) == nil {
			return p, 0, nil
		}
	}
	return "", 127, fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func checkExecutable(p string) *StartError {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return &StartError{Code: 127, Message: fmt.Sprintf("exec: %q: %v", p, errors.Unwrap(err))}
	case fi.IsDir():
		return &StartError{Code: 126, Message: fmt.Sprintf("exec: %q: is a directory", p)}
	case fi.Mode()&0o111 == 0:
		return &StartError{Code: 126, Message: fmt.Sprintf("exec: %q: permission denied", p)}
	}
	return nil
}

// execFailureCode maps an execve(2) error to the shell's exit status.
func execFailureCode(err error) int {
	if errors.Is(err, unix.ENOENT) {
		return 127
	}
	return 126
}
