package seccomp

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

// The root tests run the test binary again as a probe:
//
//	TESTBINARY seccomp-probe exec PROFILE CHECK...   Apply, then execve the checks
//	TESTBINARY seccomp-probe here PROFILE CHECK...   Apply, then run the checks in place
//	TESTBINARY seccomp-probe check CHECK...          run the checks
//
// PROFILE is "default", "default+sysadmin" or the path of a JSON profile.
// "exec" does what rootfs.Finish does: lock the thread, install the
// filter, execve from that thread; the checks then run in a new program
// that has the filter on all its threads. Each check prints one line,
// "NAME ok" or "NAME ERRNO" (EPERM, EACCES, ...).
const probeArg = "seccomp-probe"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == probeArg {
		os.Exit(runProbe(os.Args[2], os.Args[3:]))
	}
	testkit.Main(m)
}

func runProbe(mode string, args []string) int {
	// A KILL action must not leave a core file behind.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	if mode == "check" {
		for _, c := range args {
			fmt.Println(runCheck(c))
		}
		return 0
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "probe: profile missing")
		return 2
	}
	var s *specs.LinuxSeccomp
	switch args[0] {
	case "default":
		s = Default()
	case "default+sysadmin":
		s = DefaultFor(append(DockerDefaultCapabilities(), "CAP_SYS_ADMIN"))
	default:
		var err error
		if s, err = Load(args[0]); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			return 2
		}
	}
	runtime.LockOSThread() // never unlocked: the filter is this thread's
	if err := Apply(s); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 2
	}
	switch mode {
	case "here":
		for _, c := range args[1:] {
			fmt.Println(runCheck(c))
		}
		return 0
	case "exec":
		argv := append([]string{"/proc/self/exe", probeArg, "check"}, args[1:]...)
		err := unix.Exec("/proc/self/exe", argv, os.Environ())
		fmt.Fprintln(os.Stderr, "probe: execve:", err)
		return 2
	}
	fmt.Fprintln(os.Stderr, "probe: unknown mode", mode)
	return 2
}

// runCheck tries one thing; a check may take an argument after '='.
func runCheck(check string) string {
	name, arg, _ := strings.Cut(check, "=")
	result := func(err error) string {
		var errno unix.Errno
		switch {
		case err == nil:
			return name + " ok"
		case errors.As(err, &errno):
			return name + " " + unix.ErrnoName(errno)
		}
		return name + " error " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	rawErr := func(_, _ uintptr, e unix.Errno) error {
		if e != 0 {
			return e
		}
		return nil
	}
	switch name {
	case "getpid":
		if unix.Getpid() <= 0 {
			return name + " error no pid"
		}
		return result(nil)
	case "write":
		_, err := unix.Write(1, []byte("# written to stdout\n"))
		return result(err)
	case "file-io": // create, write, read back and remove a file in arg
		p := filepath.Join(arg, "file")
		if err := os.WriteFile(p, []byte("data"), 0o600); err != nil {
			return result(err)
		}
		b, err := os.ReadFile(p)
		if err == nil && string(b) != "data" {
			err = errors.New("read back " + string(b))
		}
		if err == nil {
			err = os.Remove(p)
		}
		return result(err)
	case "mkdir": // the old mkdir(2), as a C program calls it
		p, _ := unix.BytePtrFromString(filepath.Join(arg, "dir-mkdir"))
		err := rawErr(unix.Syscall(unix.SYS_MKDIR, uintptr(unsafe.Pointer(p)), 0o755, 0))
		if err == nil {
			err = unix.Rmdir(filepath.Join(arg, "dir-mkdir"))
		}
		return result(err)
	case "mkdirat": // what Go's os.Mkdir calls
		err := os.Mkdir(filepath.Join(arg, "dir-mkdirat"), 0o755)
		if err == nil {
			err = os.Remove(filepath.Join(arg, "dir-mkdirat"))
		}
		return result(err)
	case "unshare-uts": // only this probe's own namespace, and it exits soon
		return result(unix.Unshare(unix.CLONE_NEWUTS))
	case "mount": // ENOENT if allowed: the target does not exist
		return result(unix.Mount("none", "/nonexistent-minibox-seccomp", "tmpfs", 0, ""))
	case "keyctl": // read the session keyring's id, without creating it
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		return result(err)
	case "kcmp": // a ptrace-class call: compare our own fd 0 with itself
		pid := uintptr(unix.Getpid())
		return result(rawErr(unix.Syscall6(unix.SYS_KCMP, pid, pid, 0 /* KCMP_FILE */, 0, 0, 0)))
	case "fork": // clone(2) without namespace flags: run ourselves again
		out, err := exec.Command("/proc/self/exe", probeArg, "check", "status").Output()
		if err != nil {
			return result(err)
		}
		return name + " ok " + strings.Join(strings.Fields(string(out)), " ")
	case "clone-newuts": // clone(2) with CLONE_NEWUTS
		pid, err := syscall.ForkExec("/proc/self/exe", []string{"/proc/self/exe", probeArg, "check"},
			&syscall.ProcAttr{Sys: &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}})
		if err == nil {
			_, _ = syscall.Wait4(pid, nil, 0, nil)
		}
		return result(err)
	case "status": // the filter mode, no_new_privs and the threads we run
		// thread-self: a filter and no_new_privs belong to the thread
		// that installed them, which need not be the main thread that
		// /proc/self/status describes.
		b, err := os.ReadFile("/proc/thread-self/status")
		if err != nil {
			return result(err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(l, ":")
			if k == "Seccomp" || k == "NoNewPrivs" || k == "Threads" {
				out = append(out, k+"="+strings.TrimSpace(v))
			}
		}
		return name + " " + strings.Join(out, " ")
	}
	return name + " error unknown check"
}
