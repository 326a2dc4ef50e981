package namespaces

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
)

// PID 1 is special in two ways, and this file is what `run --init` adds for
// both (Docker's --init does the same with tini):
//
//   - Orphans are re-parented to PID 1 of their namespace. When they exit
//     they stay zombies (an entry in the process table holding the exit
//     status) until PID 1 calls wait(2). A shell or a server as PID 1 rarely
//     does, so zombies pile up. Our init waits for every child.
//   - The kernel gives PID 1 no default signal actions: a SIGTERM or SIGINT
//     that PID 1 has no handler for is simply dropped. `sleep` as PID 1
//     ignores `kill -TERM`. Our init handles every signal and passes it on to
//     the command, which, not being PID 1, gets the normal behaviour.

// runAsInit starts the command as our child, tells the runtime it runs, then
// forwards signals to it and reaps every process that ends up as our child
// until the command itself exits. It returns the command's exit status.
func runAsInit(path string, spec *specs.Spec, errPipe *os.File) (int, error) {
	// Catch signals before the child exists so none is lost in between.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	pid, err := syscall.ForkExec(path, spec.Process.Args, &syscall.ProcAttr{
		Env:   spec.Process.Env,
		Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		return execFailureCode(err), fmt.Errorf("exec %q: %w", spec.Process.Args[0], err)
	}
	errPipe.Close() // EOF tells the runtime that the command runs
	// Like an execve would: a later lesson's descriptors close now.
	if err := initproto.CloseExtraFiles(); err != nil {
		fmt.Fprintf(os.Stderr, "minibox-init: %v\n", err)
	}
	return supervise(pid, sigs)
}

// InitProgram is the name under which this binary is the container's init
// when the runtime is not ours (runc knows nothing of our annotation): the
// engine bind-mounts the binary at /sbin/minibox-tini and runs
// `/sbin/minibox-tini -- CMD...` as PID 1, as Docker does with docker-init
// (tini). The binary must then be statically linked: the image has no Go
// runtime's libraries, and often no libc at all.
const InitProgram = "minibox-tini"

// IsInitProgram reports whether this process was started as InitProgram.
func IsInitProgram() bool { return filepath.Base(os.Args[0]) == InitProgram }

// InitProgramMain is PID 1 as InitProgram: it runs `-- CMD ARGS...` (looked
// up in $PATH) as its child, forwards signals, reaps orphans and exits with
// the command's status. It does not return.
func InitProgramMain() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintf(os.Stderr, "%s: usage: %s -- COMMAND [ARG...]\n", InitProgram, InitProgram)
		os.Exit(125)
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", InitProgram, err)
		if errors.Is(err, exec.ErrNotFound) {
			os.Exit(127)
		}
		os.Exit(execFailureCode(err))
	}
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: exec %q: %v\n", InitProgram, args[0], err)
		os.Exit(execFailureCode(err))
	}
	code, err := supervise(pid, sigs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", InitProgram, err)
	}
	os.Exit(code)
}

// supervise passes every signal that reaches us on to the command (PID
// pid) and reaps children until the command exits.
func supervise(pid int, sigs chan os.Signal) (int, error) {
	go func() {
		for sig := range sigs {
			if s := sig.(syscall.Signal); forwarded(s) {
				// ESRCH: the command has just exited; reap sees to it.
				if err := unix.Kill(pid, s); err != nil && !errors.Is(err, unix.ESRCH) {
					fmt.Fprintf(os.Stderr, "minibox-init: pass %v on to the command: %v\n", s, err)
				}
			}
		}
	}()
	return reap(pid)
}

// reap waits for children until the command (PID child) has exited, and
// returns its exit status. Every other child it collects is an orphan that
// the kernel re-parented to us.
func reap(child int) (int, error) {
	// LAB 01.4 BEGIN: wait for any child; stop when the command itself exits
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 125, fmt.Errorf("init: wait for children: %w", err)
		}
		if pid == child {
			return ExitCode(ws), nil
		}
	}
	// LAB 01.4 END
	// LAB 01.4 STUB: return 125, lab.Todo("01.4")
}
