package namespaces

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Joining a namespace that already exists (a spec namespace with a path,
// such as /proc/4242/ns/net or /run/netns/blue) is setns(2), not clone(2).
// setns changes the namespaces of the calling *thread*, and a clone(2) from
// that thread hands them to the child. So Start locks a thread, joins on it,
// clones the init there, and puts the thread back into our own namespaces
// before it lets it go (Go would otherwise run other goroutines on a thread
// that lives in a container's network namespace).
//
// The mount and user namespaces cannot be joined this way: the kernel lets
// only a single-threaded process enter them (a Go program never is; runc
// does it in C before the Go runtime starts), so a path for them is refused.

// nsJoin is one namespace to enter before clone.
type nsJoin struct {
	typ  specs.LinuxNamespaceType
	path string // the namespace to join
	ours string // our own namespace of the type, to come back to
	flag int    // its CLONE_NEW* flag, which setns(2) takes as the type
}

// splitJoins separates the namespaces to join (those with a path) from the
// ones to create, and returns a copy of spec that lists only the latter.
func splitJoins(spec *specs.Spec) (*specs.Spec, []nsJoin, error) {
	if spec.Linux == nil {
		return spec, nil, nil
	}
	var joins []nsJoin
	var create []specs.LinuxNamespace
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			create = append(create, ns)
			continue
		}
		j, err := joinOf(ns)
		if err != nil {
			return nil, nil, err
		}
		joins = append(joins, j)
	}
	if len(joins) == 0 {
		return spec, nil, nil
	}
	cp := *spec
	linux := *spec.Linux
	linux.Namespaces = create
	cp.Linux = &linux
	return &cp, joins, nil
}

// joinOf is how to enter ns, a namespace with a path.
func joinOf(ns specs.LinuxNamespace) (nsJoin, error) {
	t, ok := nsFlags[ns.Type]
	if !ok {
		return nsJoin{}, fmt.Errorf("namespace %q: not supported (use pid, uts, ipc, network or cgroup to join one by path)", ns.Type)
	}
	if t.joinFile == "" {
		return nsJoin{}, fmt.Errorf("namespace %q: joining an existing one (%s) is not supported: the kernel lets only a single-threaded process enter a %s namespace", ns.Type, ns.Path, ns.Type)
	}
	return nsJoin{typ: ns.Type, path: ns.Path, ours: "/proc/thread-self/ns/" + t.joinFile, flag: int(t.flag)}, nil
}

// ForkExecJoined is syscall.ForkExec from a thread that first entered the
// namespaces nss (each with its Path), as Start does for a spec's
// namespaces with paths. A later lesson's `exec` uses it to start a
// process in a running container.
func ForkExecJoined(nss []specs.LinuxNamespace, argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	joins := make([]nsJoin, 0, len(nss))
	for _, ns := range nss {
		j, err := joinOf(ns)
		if err != nil {
			return 0, err
		}
		joins = append(joins, j)
	}
	return forkExecJoined(joins, argv0, argv, attr)
}

// forkExecJoined is syscall.ForkExec from a thread that first joined the
// namespaces in joins.
func forkExecJoined(joins []nsJoin, argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	type result struct {
		pid int
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		pid, err, restored := forkExecOnThisThread(joins, argv0, argv, attr)
		if restored {
			// Back in our own namespaces: the thread may be reused.
			runtime.UnlockOSThread()
		} else if err == nil {
			// The thread stays locked, and Go ends it when this
			// goroutine returns: the child's parent-death signal would
			// fire. End the child now, and say why.
			err = errors.New("join namespaces: could not return the runtime's thread to its own namespaces")
			if kerr := unix.Kill(pid, unix.SIGKILL); kerr != nil {
				err = errors.Join(err, fmt.Errorf("kill the init (PID %d): %w", pid, kerr))
			} else if _, werr := unix.Wait4(pid, nil, 0, nil); werr != nil {
				err = errors.Join(err, fmt.Errorf("reap the init (PID %d): %w", pid, werr))
			}
			pid = 0
		}
		done <- result{pid, err}
	}()
	r := <-done
	return r.pid, r.err
}

// forkExecOnThisThread joins, clones and returns to our namespaces, on the
// locked thread. restored says whether the thread is back in them.
func forkExecOnThisThread(joins []nsJoin, argv0 string, argv []string, attr *syscall.ProcAttr) (pid int, err error, restored bool) {
	// Our own namespaces, to come back to.
	var ours []*os.File
	defer func() {
		for _, f := range ours {
			f.Close()
		}
	}()
	for _, j := range joins {
		f, err := os.Open(j.ours)
		if err != nil {
			return 0, fmt.Errorf("open our own %s namespace: %w", j.typ, err), true
		}
		ours = append(ours, f)
	}
	restore := func() bool {
		ok := true
		for i, j := range joins {
			if unix.Setns(int(ours[i].Fd()), j.flag) != nil {
				ok = false
			}
		}
		return ok
	}
	for _, j := range joins {
		f, err := os.Open(j.path)
		if err != nil {
			return 0, fmt.Errorf("namespace %q: %w", j.typ, err), restore()
		}
		err = unix.Setns(int(f.Fd()), j.flag)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("join the %s namespace %s (setns): %w", j.typ, j.path, err), restore()
		}
	}
	pid, err = syscall.ForkExec(argv0, argv, attr)
	return pid, err, restore()
}
