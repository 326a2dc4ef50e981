package rootfs

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
	"minibox/03-rootfs/seccomp"
)

// Finish takes away the powers the runtime needed and the command must not
// have. It is an initproto.Step and must be the last one, because after it
// the init is no longer all-powerful root:
//
//  1. resource limits (spec.Process.Rlimits), while we may still set them;
//  2. the capability bounding set, while we still hold CAP_SETPCAP;
//  3. the user: supplementary groups, GID, UID (spec.Process.User), keeping
//     the capabilities across the switch, and HOME when Env has none;
//  4. the effective, permitted, inheritable and ambient capabilities;
//  5. no_new_privs (spec.Process.NoNewPrivileges) and the umask.
//
// With spec.Process.Capabilities nil the capabilities are left as they are
// (all of root's, or none after switching to another user).
//
// Capabilities and credentials belong to a thread, not to the process, and a
// Go program runs on many threads. Finish locks the goroutine to its
// thread and never unlocks it: the execve(2) that starts the command must
// come from this very thread, or the command would inherit another
// thread's full set of capabilities.
func Finish(spec *specs.Spec) error {
	runtime.LockOSThread()
	p := spec.Process
	if p == nil {
		return nil
	}
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if p.OOMScoreAdj != nil {
		// How eagerly the OOM killer picks this process (-1000 never,
		// 1000 first); children inherit it. Lowering it needs
		// CAP_SYS_RESOURCE, so it is set before the capabilities go.
		v := strconv.Itoa(*p.OOMScoreAdj)
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(v), 0); err != nil {
			return fmt.Errorf("rootfs: process.oomScoreAdj %s: %w", v, err)
		}
	}
	// seccomp in runc's order. A filter may be installed only by a thread
	// that holds CAP_SYS_ADMIN or has no_new_privs set. Without
	// no_new_privs we install it now, while we still hold CAP_SYS_ADMIN;
	// the default profile allows the calls that follow (capset, prctl,
	// setgroups, setres*id, execve). With no_new_privs, as late as possible.
	if !p.NoNewPrivileges {
		if err := applySeccomp(spec); err != nil {
			return err
		}
	}
	var caps capability.Capabilities
	if p.Capabilities != nil {
		var err error
		if caps, err = capsFor(p.Capabilities); err != nil {
			return err
		}
		// The bounding set limits what any later execve(2) can grant;
		// dropping from it needs CAP_SETPCAP, which we may lose in step 4.
		if err := applyCaps(caps, capability.BOUNDS); err != nil {
			return fmt.Errorf("rootfs: set the capability bounding set: %w", err)
		}
	}
	setHome(spec)
	if err := switchUser(p.User, caps != nil); err != nil {
		return err
	}
	if caps != nil {
		if err := applyCaps(caps, capability.CAPS|capability.AMBS); err != nil {
			return fmt.Errorf("rootfs: set capabilities: %w", err)
		}
	}
	if p.NoNewPrivileges {
		// From now on no execve(2) can gain privileges: setuid bits and
		// file capabilities are ignored. The flag is inherited by every
		// child and cannot be unset (see prctl(2)).
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("rootfs: prctl PR_SET_NO_NEW_PRIVS: %w", err)
		}
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	if p.NoNewPrivileges {
		// Last of all: from here every system call, the execve(2) of the
		// command included, goes through the filter of this thread.
		if err := applySeccomp(spec); err != nil {
			return err
		}
	}
	return nil
}

// applySeccomp installs spec.Linux.Seccomp (nil: unconfined) on this thread.
func applySeccomp(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	if err := seccomp.Apply(spec.Linux.Seccomp); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	return nil
}

// switchUser becomes the user of the spec. The order matters: groups and
// GID first, because after setresuid(2) to a non-root UID we would no
// longer be allowed to change them.
//
// When the UID changes from 0 to another, the kernel clears the permitted
// and effective capabilities (see capabilities(7), "Effect of user ID
// changes on capabilities"). With keep, PR_SET_KEEPCAPS keeps the permitted
// set across the switch, so that Finish can then set the capabilities the
// spec asks for, as runc does.
func switchUser(u specs.User, keep bool) error {
	if keep {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("rootfs: prctl PR_SET_KEEPCAPS: %w", err)
		}
		defer func() { _ = unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0) }()
	}
	// Always set the groups, even to none: the runtime runs as root with
	// root's supplementary groups, which the command must not inherit.
	gids := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		gids[i] = int(g)
	}
	if err := unix.Setgroups(gids); err != nil {
		return fmt.Errorf("rootfs: setgroups %v: %w", u.AdditionalGids, err)
	}
	if err := unix.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("rootfs: setresgid %d: %w", u.GID, err)
	}
	if err := unix.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("rootfs: setresuid %d: %w", u.UID, err)
	}
	return nil
}

// setHome adds HOME from the container's /etc/passwd when the environment
// has none, as Docker does ("/" for a user without an entry).
func setHome(spec *specs.Spec) {
	for _, kv := range spec.Process.Env {
		if strings.HasPrefix(kv, "HOME=") {
			return
		}
	}
	home := "/"
	if entries, err := readPasswd("/etc/passwd"); err == nil {
		for _, e := range entries {
			if e.uid == spec.Process.User.UID && e.home != "" {
				home = e.home
				break
			}
		}
	}
	spec.Process.Env = append(spec.Process.Env, "HOME="+home)
}

// rlimits maps the spec's names to setrlimit(2) resources.
var rlimits = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}

// setRlimits applies spec.Process.Rlimits to this process; the command
// inherits them through execve(2). Anyone may lower a limit; raising a
// hard limit needs CAP_SYS_RESOURCE, which a runtime may not have.
func setRlimits(list []specs.POSIXRlimit) error {
	for _, rl := range list {
		res, ok := rlimits[rl.Type]
		if !ok {
			return fmt.Errorf("rootfs: unknown rlimit %q (names look like RLIMIT_NOFILE)", rl.Type)
		}
		if rl.Soft > rl.Hard {
			return fmt.Errorf("rootfs: rlimit %s: soft limit %d is above the hard limit %d", rl.Type, rl.Soft, rl.Hard)
		}
		var cur unix.Rlimit
		if err := unix.Prlimit(0, res, nil, &cur); err != nil {
			return fmt.Errorf("rootfs: read rlimit %s: %w", rl.Type, err)
		}
		want := unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if lateRlimits[res] {
			// Only raise for now (see LateRlimits).
			want = unix.Rlimit{Cur: max(cur.Cur, rl.Soft), Max: max(cur.Max, rl.Hard)}
			if want == cur {
				continue
			}
		}
		// Prlimit, unlike a raw setrlimit(2), tells the Go runtime that
		// RLIMIT_NOFILE is now ours: otherwise it would restore its own
		// saved soft limit at execve.
		err := unix.Prlimit(0, res, &want, nil)
		if errors.Is(err, unix.EPERM) && rl.Hard > cur.Max {
			return fmt.Errorf("rootfs: rlimit %s: the hard limit %d is above the runtime's own hard limit %d, and raising it needs CAP_SYS_RESOURCE: ask for at most %d (see `ulimit -H -a`): %w",
				rl.Type, rl.Hard, cur.Max, cur.Max, err)
		}
		if err != nil {
			return fmt.Errorf("rootfs: set rlimit %s to %d:%d: %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

// lateRlimits bind the init itself, a Go program: its address space (the
// Go runtime reserves well over a GiB of it), its data segment, its
// threads. Set in Finish, the runtime's next mmap or thread could fail
// while the init still runs (waiting for the OCI `start`, for instance), and
// the init would die. So Finish only raises them (raising a hard limit
// needs CAP_SYS_RESOURCE, which is gone later) and LateRlimits lowers them
// to the spec's values as the last thing before execve(2).
var lateRlimits = map[int]bool{unix.RLIMIT_AS: true, unix.RLIMIT_DATA: true, unix.RLIMIT_NPROC: true}

// LateRlimits is an initproto.Gate that sets the rlimits Finish left for
// the end. It never waits: it hands them to initproto.AtExec, which sets
// them right before execve(2), when the init no longer needs to allocate.
func LateRlimits(spec *specs.Spec, _ func()) error {
	if spec.Process == nil {
		return nil
	}
	type late struct {
		res  int
		lim  unix.Rlimit
		name string
	}
	var todo []late
	for _, rl := range spec.Process.Rlimits {
		if res, ok := rlimits[rl.Type]; ok && lateRlimits[res] {
			todo = append(todo, late{res, unix.Rlimit{Cur: rl.Soft, Max: rl.Hard}, rl.Type})
		}
	}
	if len(todo) == 0 {
		return nil
	}
	initproto.AtExec(func() error {
		for i := range todo {
			// The raw prlimit64(2): no allocation, not even for an error.
			_, _, errno := unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(todo[i].res),
				uintptr(unsafe.Pointer(&todo[i].lim)), 0, 0, 0)
			if errno != 0 {
				return errno
			}
		}
		return nil
	})
	return nil
}
