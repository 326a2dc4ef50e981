package cgroups

import (
	"errors"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
	"minibox/01-namespaces/namespaces"
)

// Result is how a container with limits ended.
type Result struct {
	ExitCode int
	Stats    Stats // read from the cgroup after the container exited
	// OOMKilled: the kernel's OOM killer killed a process of the container.
	OOMKilled bool
	// StatsErr is an error met while reading the counters: then OOMKilled
	// false means "unknown", not "no".
	StatsErr error
	// Cleanup is an error met while removing the cgroup; the container
	// itself has ended as ExitCode says.
	Cleanup error
}

// Options say where cgroups live and where warnings go.
type Options struct {
	Root string           // cgroup mount root; DefaultRoot when empty
	Warn func(msg string) // called for each limit this machine cannot apply
	// Hooks are passed on to lesson 01 (lesson 03: the console socket).
	Hooks initproto.Hooks
}

// Run runs the container that spec describes inside a new cgroup at
// spec.Linux.CgroupsPath with spec.Linux.Resources applied, and removes the
// cgroup afterwards, killing whatever is left in it.
//
// The container's init must be in the cgroup before it runs anything of the
// user's: otherwise a fork bomb could fork outside the pids limit, or a
// process could allocate memory that is charged to the wrong cgroup, in the
// window between its start and its move. On v2 we clone it straight into
// the cgroup (CLONE_INTO_CGROUP); on v1, where that does not exist, we move
// it in while it still waits for Release.
func Run(spec *specs.Spec, stdio namespaces.Stdio, opts Options) (*Result, error) {
	if spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		return nil, errors.New("the spec names no cgroup (linux.cgroupsPath)")
	}
	mgr, err := New(opts.Root, spec.Linux.CgroupsPath)
	if err != nil {
		return nil, err
	}
	warnings, err := mgr.Create(spec.Linux.Resources)
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", mgr.Path(), err)
	}
	res := &Result{}
	defer func() { res.Cleanup = mgr.Destroy() }()
	for _, w := range warnings {
		if opts.Warn != nil {
			opts.Warn(w)
		}
	}

	code, err := runIn(mgr, spec, stdio, opts.Hooks)
	if err != nil {
		return res, err
	}
	res.ExitCode = code
	res.Stats, res.StatsErr = mgr.Stats()
	res.OOMKilled = res.Stats.OOMKills > 0
	return res, nil
}

// runIn starts the container inside mgr's cgroup and waits for it.
func runIn(mgr Manager, spec *specs.Spec, stdio namespaces.Stdio, h initproto.Hooks) (int, error) {
	c, err := StartIn(mgr, spec, stdio, h.StartOptions...)
	if err != nil {
		return 0, err
	}
	return c.Run(h.Released)
}

// StartIn starts the container's init inside mgr's cgroup, still waiting
// for Release: cloned straight into it on cgroup v2, moved in right after
// clone on v1 (or on a kernel older than 5.7).
func StartIn(mgr Manager, spec *specs.Spec, stdio namespaces.Stdio, opts ...initproto.StartOption) (*namespaces.Container, error) {
	dir, err := mgr.OpenDir()
	if err == nil {
		defer dir.Close()
		c, err := namespaces.Start(spec, stdio, append(opts, initproto.IntoCgroup(int(dir.Fd())))...)
		// clone3 or CLONE_INTO_CGROUP is missing (Linux < 5.7): fall back.
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.E2BIG) {
			return c, err
		}
	} else if !errors.Is(err, ErrNoCloneInto) {
		return nil, err
	}
	c, err := namespaces.Start(spec, stdio, opts...)
	if err != nil {
		return nil, err
	}
	if err := mgr.Join(c.Pid); err != nil {
		return nil, errors.Join(err, c.Kill())
	}
	return c, nil
}

// Report prints what Docker would say after the container ended: a problem
// met while reading the counters or removing the cgroup, the OOM kill (from the kernel's counter,
// never guessed from the exit status), and with stats the cgroup's
// counters.
func (r *Result) Report(w io.Writer, stats bool) {
	if r.StatsErr != nil {
		fmt.Fprintf(w, "minibox: cannot tell whether the OOM killer struck: %v\n", r.StatsErr)
	}
	if r.Cleanup != nil {
		fmt.Fprintf(w, "minibox: cleanup: %v\n", r.Cleanup)
	}
	if r.OOMKilled {
		fmt.Fprintf(w, "minibox: %s\n", r.oomMessage())
	}
	if stats {
		fmt.Fprintf(w, "minibox: stats: %s\n", r.Stats)
	}
}

// oomMessage says what the kernel's OOM killer did.
func (r *Result) oomMessage() string {
	limit := "none"
	if r.Stats.MemoryLimit > 0 {
		limit = HumanBytes(r.Stats.MemoryLimit)
	}
	if r.ExitCode == 128+int(unix.SIGKILL) {
		return fmt.Sprintf("OOM-killed: memory limit %s", limit)
	}
	return fmt.Sprintf("the OOM killer killed %d process(es) in the container: memory limit %s", r.Stats.OOMKills, limit)
}
