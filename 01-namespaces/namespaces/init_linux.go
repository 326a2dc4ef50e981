package namespaces

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// How Start and Init find each other: the init is this binary run as
// `minibox-init init` with _MINIBOX_INIT=1 in its environment, and these
// descriptors open.
const (
	initArg   = "init"
	initEnv   = "_MINIBOX_INIT"
	specFd    = 3 // read end of the spec pipe: the init blocks here until Release
	errFd     = 4 // write end of the error pipe, close-on-exec
	initExeFd = 5 // our own binary, which the init was executed from

	// ExtraFd is the first descriptor WithFiles hands to the init.
	ExtraFd = 6
	// extraFilesEnv lists, in the init's environment, which of them were
	// given: an open descriptor proves nothing, since the Go runtime opens
	// its own (epoll, cgroup files) at the lowest free numbers.
	extraFilesEnv = "_MINIBOX_EXTRA_FDS"
)

// ExtraFile reports, inside the init, whether the runtime handed over
// descriptor fd with WithFiles.
func ExtraFile(fd int) bool {
	for _, f := range extraFiles() {
		if f == fd {
			return true
		}
	}
	return false
}

// closeExecFrom marks every descriptor from fd up close-on-exec:
// close_range(2) where the kernel has it (5.11), else one by one from
// /proc/self/fd.
func closeExecFrom(fd int) error {
	if err := unix.CloseRange(uint(fd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("init: list our descriptors: %w", err)
	}
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil && n >= fd {
			unix.CloseOnExec(n)
		}
	}
	return nil
}

// extraFiles lists the descriptors the runtime handed over with WithFiles.
func extraFiles() []int {
	var fds []int
	for _, s := range strings.Split(os.Getenv(extraFilesEnv), ",") {
		if fd, err := strconv.Atoi(s); err == nil && fd >= ExtraFd {
			fds = append(fds, fd)
		}
	}
	return fds
}

// Step is extra setup that a later lesson runs inside the container after
// the namespaces are ready and before the command starts (lesson 03 adds the
// root filesystem this way). An error stops the container with status 125.
type Step func(spec *specs.Spec) error

// IsInit reports whether this process is a container's init started by
// Start. A program calls it first thing in main and then calls Init.
func IsInit() bool {
	return len(os.Args) > 1 && os.Args[1] == initArg && os.Getenv(initEnv) == "1"
}

// Init is the container's side of Start. It runs as PID 1 of the new PID
// namespace, waits for the spec, sets the namespaces up from the inside and
// then replaces itself with the command (or, with --init, runs it as a child
// and reaps). It never returns.
func Init(steps ...Step) { InitWithGate(nil, steps...) }

// A Gate runs in the init after every step, once the command has been
// found, right before it is executed. Lesson 03 waits there for the OCI
// `start`: the runtime's `create` must return with the container set up and
// waiting. A gate that is going to wait calls ready first, which tells the
// runtime that the setup worked (Release returns). An error ends the
// container with status 125.
type Gate func(spec *specs.Spec, ready func()) error

// Gates runs gates one after the other, as one gate.
func Gates(gates ...Gate) Gate {
	return func(spec *specs.Spec, ready func()) error {
		for _, g := range gates {
			if err := g(spec, ready); err != nil {
				return err
			}
		}
		return nil
	}
}

// InitWithGate is Init with a gate before the command.
func InitWithGate(gate Gate, steps ...Step) {
	// Every descriptor above stdio is for the init alone: neither the
	// runtime's (the spec and error pipes, the start FIFO, the console
	// socket) nor any the caller of the runtime left open without
	// close-on-exec may reach a hook or the container's program. A
	// directory descriptor of the host inside the container would be a
	// way out of it; a hook's background child holding the start FIFO
	// would keep `start` waiting. (runc does the same.)
	if err := closeExecFrom(3); err != nil {
		fmt.Fprintf(os.Stderr, "minibox-init: %v\n", err)
		os.Exit(125)
	}
	_ = unix.Close(initExeFd) // the kernel already executes us; the fd is not needed
	errPipe := os.NewFile(errFd, "error-pipe")
	released := false // the runtime was told the setup worked: it no longer reads errPipe
	fail := func(code int, err error) {
		if released {
			fmt.Fprintf(os.Stderr, "minibox-init: %v\n", err)
			os.Exit(code)
		}
		msg, _ := json.Marshal(StartError{Code: code, Message: err.Error()})
		_, _ = errPipe.Write(msg)
		os.Exit(code)
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
	path, code, err := lookPath(spec.Process.Args[0], spec.Process.Env)
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
	err = execve(path, spec.Process.Args, spec.Process.Env)
	fail(execFailureCode(err), fmt.Errorf("exec %q: %w", spec.Process.Args[0], err))
}

// atExec is what AtExec registered.
var atExec func() error

// AtExec registers, inside the init, fn to run right before execve(2),
// after everything execve needs is in place. fn must not allocate: lesson
// 03 lowers RLIMIT_AS there, below what the Go runtime has already
// reserved, and from then on the Go heap cannot grow.
func AtExec(fn func() error) { atExec = fn }

// execve is unix.Exec, except that with AtExec the arguments are prepared
// first, then fn runs, then the raw execve(2): nothing allocates between.
// (The raw call skips one courtesy of unix.Exec: giving back the soft
// RLIMIT_NOFILE the Go runtime raised at start. A spec that sets
// RLIMIT_NOFILE, as runc's and Docker's do, is not affected.)
func execve(path string, args, env []string) error {
	if atExec == nil {
		return unix.Exec(path, args, env)
	}
	pathp, err := syscall.BytePtrFromString(path)
	if err != nil {
		return err
	}
	argvp, err := syscall.SlicePtrFromStrings(args)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	if err := atExec(); err != nil {
		return err
	}
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(pathp)),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	return errno
}

// unshareCgroupNS gives the command a cgroup namespace rooted at the cgroup
// it is in now, so that it sees its own cgroup as "/". unshare(2) of a cgroup
// namespace affects only the calling thread, so the goroutine stays locked to
// this thread: the execve(2) or fork that follows happens from it, and the
// command inherits the namespace. The thread is never unlocked; the process
// is replaced or becomes the reaper.
func unshareCgroupNS(spec *specs.Spec) error {
	if !newNamespace(spec, specs.CgroupNamespace) {
		return nil
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("init: unshare the cgroup namespace (CLONE_NEWCGROUP): %w", err)
	}
	return nil
}

// readSpec reads the spec that Release writes into the pipe, and keeps
// what follows it for InitExtra.
func readSpec() (*specs.Spec, error) {
	f := os.NewFile(specFd, "spec-pipe")
	defer f.Close()
	var spec specs.Spec
	dec := json.NewDecoder(f)
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("init: read the spec from the runtime: %w", err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err == nil {
		initExtra = extra
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("init: read what the runtime sent after the spec: %w", err)
	}
	if spec.Process == nil || len(spec.Process.Args) == 0 {
		return nil, errors.New("init: the spec has no process")
	}
	return &spec, nil
}

// initExtra is the value the runtime sent after the spec (Container.Extra).
var initExtra json.RawMessage

// InitExtra decodes, inside the init, the value the runtime set as
// Container.Extra. It reports false when the runtime sent none.
func InitExtra(v any) (bool, error) {
	if initExtra == nil {
		return false, nil
	}
	if err := json.Unmarshal(initExtra, v); err != nil {
		return false, fmt.Errorf("init: decode what the runtime sent after the spec: %w", err)
	}
	return true, nil
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
	if newNamespace(spec, specs.NetworkNamespace) {
		// A new network namespace has only `lo`, and it starts down.
		if err := loopbackUp(); err != nil {
			return fmt.Errorf("init: %w", err)
		}
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

// DefaultPath is the PATH a command is looked up in when the spec sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds name like a shell does: as given when it holds a slash,
// else in the PATH of env. It returns the exit status a shell uses when it
// cannot run a command: 127 for not found, 126 for not executable.
func lookPath(name string, env []string) (string, int, error) {
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
