package initproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A Step is setup that a later lesson runs inside the container after lesson
// 01's (hostname, /proc, lo) and before the command starts (lesson 03 adds
// the root filesystem this way). An error stops the container with status
// 125.
type Step func(spec *specs.Spec) error

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

// ExtraFd is the first descriptor WithFiles hands to the init. Lesson 01's
// own descriptors end right below it.
const ExtraFd = 6

// extraFilesEnv lists, in the init's environment, which descriptors
// WithFiles gave: an open descriptor proves nothing, since the Go runtime
// opens its own (epoll, cgroup files) at the lowest free numbers.
const extraFilesEnv = "_MINIBOX_EXTRA_FDS"

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

// CloseExtraFiles closes, inside the init, the descriptors WithFiles handed
// over, as an execve(2) would close them (they are close-on-exec). The init
// calls it when it stays PID 1 (`run --init`) and starts the command as a
// child instead: an open start FIFO would keep the OCI `start` waiting.
func CloseExtraFiles() error {
	var errs []error
	for _, fd := range extraFiles() {
		if err := unix.Close(fd); err != nil && !errors.Is(err, unix.EBADF) {
			errs = append(errs, fmt.Errorf("close descriptor %d: %w", fd, err))
		}
	}
	return errors.Join(errs...)
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

// CloseOnExecFrom marks every descriptor from fd up close-on-exec:
// close_range(2) where the kernel has it (5.11), else one by one from
// /proc/self/fd.
func CloseOnExecFrom(fd int) error {
	if err := unix.CloseRange(uint(fd), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err == nil {
		return nil
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list our descriptors: %w", err)
	}
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n < fd {
			continue
		}
		// EBADF: the descriptor ReadDir read the directory through, closed by now.
		if _, err := unix.FcntlInt(uintptr(n), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("mark descriptor %d close-on-exec: %w", n, err)
		}
	}
	return nil
}

// SendSpec writes, on the runtime's side, the spec and then extra (when not
// nil) to the init as JSON values.
func SendSpec(w io.Writer, spec *specs.Spec, extra any) error {
	enc := json.NewEncoder(w)
	if err := enc.Encode(spec); err != nil {
		return err
	}
	if extra != nil {
		return enc.Encode(extra)
	}
	return nil
}

// ReadSpec reads, inside the init, what SendSpec wrote: it returns the spec
// and keeps the value that follows it for Extra.
func ReadSpec(r io.Reader) (*specs.Spec, error) {
	var spec specs.Spec
	dec := json.NewDecoder(r)
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("read the spec from the runtime: %w", err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err == nil {
		received = extra
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read what the runtime sent after the spec: %w", err)
	}
	return &spec, nil
}

// received is the value the runtime sent after the spec.
var received json.RawMessage

// Extra decodes, inside the init, the value the runtime set as
// namespaces.Container.Extra. It reports false when the runtime sent none.
func Extra(v any) (bool, error) {
	if received == nil {
		return false, nil
	}
	if err := json.Unmarshal(received, v); err != nil {
		return false, fmt.Errorf("init: decode what the runtime sent after the spec: %w", err)
	}
	return true, nil
}

// atExec is what AtExec registered.
var atExec func() error

// AtExec registers, inside the init, fn to run right before execve(2),
// after everything execve needs is in place. fn must not allocate: lesson
// 03 lowers RLIMIT_AS there, below what the Go runtime has already
// reserved, and from then on the Go heap cannot grow.
func AtExec(fn func() error) { atExec = fn }

// Exec is execve(2), the init's last step: unix.Exec, except that with
// AtExec the arguments are prepared first, then fn runs, then the raw
// execve: nothing allocates between. (The raw call skips one courtesy of
// unix.Exec: giving back the soft RLIMIT_NOFILE the Go runtime raised at
// start. A spec that sets RLIMIT_NOFILE, as runc's and Docker's do, is not
// affected.)
func Exec(path string, args, env []string) error {
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
