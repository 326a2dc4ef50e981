package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"minibox/03-rootfs/rootfs"
	"minibox/03-rootfs/runflags"
)

// ExecOptions are `exec`'s flags.
type ExecOptions struct {
	Args        []string
	Env         []string // KEY=VALUE, over the container's
	User        string   // NAME|UID[:GROUP|GID], looked up in the container
	Workdir     string
	Tty         bool
	Interactive bool
	Detach      bool
	// The caller's streams (without Tty: the process uses them directly).
	Stdin          *os.File
	Stdout, Stderr *os.File
	// Console receives the pty master with Tty; the caller relays it and
	// returns when done.
	Console func(master *os.File)
}

// Exec runs a new process in a running container through the runtime's
// `exec` (a process.json of the container's process with the new command)
// and returns its exit code, or 0 at once with Detach.
func (e *Engine) Exec(ref string, o ExecOptions) (int, error) {
	in, err := e.Inspect(ref)
	if err != nil {
		return -1, err
	}
	if !in.State.Running || !alive(in.State.Pid, in.State.PidStart) {
		return -1, fmt.Errorf("container %s is not running", in.ID)
	}
	if len(o.Args) == 0 {
		return -1, errors.New("no command specified")
	}
	if in.Spec == nil || in.Spec.Process == nil {
		return -1, fmt.Errorf("container %s has no spec", short(in.ID))
	}
	p := *in.Spec.Process
	p.Args = o.Args
	p.Terminal = o.Tty
	p.ConsoleSize = nil
	p.Env = runflags.MergeEnv(append([]string{}, p.Env...), o.Env...)
	if o.Workdir != "" {
		p.Cwd = o.Workdir
	}
	if o.User != "" {
		// The container's own /etc/passwd, seen through its init.
		u, _, err := rootfs.LookupUser(fmt.Sprintf("/proc/%d/root", in.State.Pid), o.User)
		if err != nil {
			return -1, err
		}
		p.User = u
	}
	dir, err := os.MkdirTemp(e.execDir(in.ID), "exec-")
	if err != nil {
		return -1, fmt.Errorf("exec: %w", err)
	}
	defer os.RemoveAll(dir)
	procFile := filepath.Join(dir, "process.json")
	if err := writeJSON(procFile, &p); err != nil {
		return -1, err
	}
	rt, err := e.loadRuntime(in.ID)
	if err != nil {
		return -1, err
	}
	r := e.runtimeFor(in.ID, rt)
	r.log = filepath.Join(dir, "runtime.log")
	args := []string{"exec", "--process", procFile}
	pidFile := filepath.Join(dir, "pid")
	if o.Detach || o.Tty {
		// With a terminal the runtime hands the pty master to us over the
		// console socket, which runc allows only with --detach: the
		// process then is orphaned, and as a subreaper we become its
		// parent and can wait4(2) it, as containerd's shim does.
		args = append(args, "--detach", "--pid-file", pidFile)
		if !o.Detach {
			if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
				return -1, fmt.Errorf("exec: PR_SET_CHILD_SUBREAPER: %w", err)
			}
		}
	}
	cmd := r.command(args...)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return -1, err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, o.Stdout, o.Stderr
	if o.Interactive && o.Stdin != nil {
		cmd.Stdin = o.Stdin
	}
	if o.Detach {
		// Nobody reads a detached process's output (Docker gives it
		// /dev/null); holding our stdout would keep our reader waiting.
		cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	}
	var consoleDone chan struct{}
	if o.Tty {
		sock := filepath.Join(e.opts.ExecRoot, "sock", filepath.Base(dir)+".c")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			return -1, fmt.Errorf("exec: console socket: %w", err)
		}
		defer func() { ln.Close(); os.Remove(sock) }()
		cmd.Args = append(cmd.Args, "--console-socket", sock)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, o.Stderr
		consoleDone = make(chan struct{})
		go func() {
			defer close(consoleDone)
			master, err := receiveConsole(ln.(*net.UnixListener))
			if err != nil {
				return
			}
			defer master.Close()
			if o.Console != nil {
				o.Console(master)
			} else {
				io.Copy(o.Stdout, master)
			}
		}()
	}
	cmd.Args = append(cmd.Args, in.ID)
	err = cmd.Run()
	if err == nil && o.Tty && !o.Detach {
		code, err := waitPidFile(pidFile)
		<-consoleDone
		return code, err
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if msg := r.lastLogError(); msg != "" {
			return -1, &StartError{Code: startCode(msg), Message: "OCI runtime exec failed: " + msg}
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, fmt.Errorf("exec: %w", err)
	}
	return 0, nil
}

// waitPidFile waits for the process named in a runtime's pid file, our
// child by the subreaper rule, and returns its status as a shell would.
func waitPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return -1, fmt.Errorf("exec: the runtime's pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return -1, fmt.Errorf("exec: the runtime's pid file: %w", err)
	}
	var ws unix.WaitStatus
	for {
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR || err == nil && got != pid {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("exec: wait for %d: %w", pid, err)
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}
