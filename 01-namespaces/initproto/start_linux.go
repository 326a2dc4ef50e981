package initproto

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// A StartOption changes how namespaces.Start clones the init.
type StartOption func(*syscall.ProcAttr)

// Hooks are what a later lesson adds to a container's run from the outside.
type Hooks struct {
	// StartOptions change how the init is cloned (lesson 03: hand it the
	// console socket).
	StartOptions []StartOption
	// Released runs once the init has been released and set up, before the
	// runtime waits for it (lesson 03: take the pty master the init sent).
	// An error kills the container.
	Released func() error
}

// IntoCgroup makes clone(2) create the init directly inside the cgroup
// whose directory is open as fd (CLONE_INTO_CGROUP: Linux 5.7+, cgroup v2).
// The process then never exists outside its cgroup, not even for a moment.
func IntoCgroup(fd int) StartOption {
	return func(a *syscall.ProcAttr) {
		a.Sys.UseCgroupFD = true
		a.Sys.CgroupFD = fd
	}
}

// Detached lets the init outlive the runtime: without it, the kernel kills
// the init when the runtime exits (the parent-death signal). Lesson 03's
// `create` returns while the container waits for `start`, so it must
// survive us.
func Detached() StartOption {
	return func(a *syscall.ProcAttr) { a.Sys.Pdeathsig = 0 }
}

// InDir starts the init in directory dir (runc: the bundle, from which a
// relative root or mount source is taken).
func InDir(dir string) StartOption {
	return func(a *syscall.ProcAttr) { a.Dir = dir }
}

// WithFiles hands files to the init as descriptors ExtraFd, ExtraFd+1, ...
// in order; a nil file leaves its number closed. The init asks ExtraFile
// whether one was given (lesson 03: the start gate and the console socket).
func WithFiles(files ...*os.File) StartOption {
	return func(a *syscall.ProcAttr) {
		var given []string
		for _, f := range files {
			fd := ^uintptr(0) // -1: closed in the child
			if f != nil {
				fd = f.Fd()
				given = append(given, strconv.Itoa(len(a.Files)))
			}
			a.Files = append(a.Files, fd)
		}
		a.Env = append(a.Env, extraFilesEnv+"="+strings.Join(given, ","))
	}
}
