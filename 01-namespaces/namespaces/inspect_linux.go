package namespaces

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// NSTypes are the entries of /proc/PID/ns, in the order `lsns` prints them.
var NSTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"}

// NS is one namespace a process is in.
type NS struct {
	Type   string // an entry of /proc/PID/ns: "pid", "net", ...
	Inode  uint64 // the namespace's identity: two processes share it when the inodes match
	Shared bool   // whether the caller is in the same namespace
}

// Inspect tells, for each namespace type, which namespace process pid is in
// and whether it shares it with the calling process. The kernel shows a
// namespace as a magic symlink, /proc/PID/ns/TYPE -> "TYPE:[INODE]"; the inode
// number is the namespace's identity, which is all `lsns` looks at too.
func Inspect(pid int) ([]NS, error) {
	var out []NS
	for _, t := range NSTypes {
		theirs, err := NSInode(strconv.Itoa(pid), t)
		if os.IsNotExist(err) {
			if _, perr := os.Stat(fmt.Sprintf("/proc/%d", pid)); perr != nil {
				return nil, fmt.Errorf("no process with PID %d", pid)
			}
			continue // this kernel lacks the type (time needs 5.6)
		}
		if err != nil {
			return nil, err
		}
		ours, err := NSInode("self", t)
		if err != nil {
			return nil, err
		}
		out = append(out, NS{Type: t, Inode: theirs, Shared: theirs == ours})
	}
	return out, nil
}

// NSInode returns the inode of /proc/PID/ns/TYPE (pid may be "self").
func NSInode(pid, nsType string) (uint64, error) {
	var st unix.Stat_t
	p := filepath.Join("/proc", pid, "ns", nsType)
	if err := unix.Stat(p, &st); err != nil {
		return 0, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	return st.Ino, nil
}

// Summary is one namespace on the system with the processes in it, like a
// row of `lsns`.
type Summary struct {
	Type    string
	Inode   uint64
	NProcs  int
	LowPID  int    // the lowest PID in it, as the host numbers it
	Command string // that process's command line
}

// List walks /proc and groups every process by its namespaces.
func List() ([]Summary, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	type key struct {
		t   string
		ino uint64
	}
	byKey := map[key]*Summary{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		for _, t := range NSTypes {
			if strings.HasSuffix(t, "_for_children") {
				continue
			}
			ino, err := NSInode(e.Name(), t)
			if err != nil {
				continue // the process ended, or the kernel lacks the type
			}
			k := key{t, ino}
			s := byKey[k]
			if s == nil {
				s = &Summary{Type: t, Inode: ino, LowPID: pid, Command: cmdline(pid)}
				byKey[k] = s
			}
			s.NProcs++
			if pid < s.LowPID {
				s.LowPID, s.Command = pid, cmdline(pid)
			}
		}
	}
	out := make([]Summary, 0, len(byKey))
	for _, s := range byKey {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Inode != out[j].Inode {
			return out[i].Inode < out[j].Inode
		}
		return out[i].Type < out[j].Type
	})
	return out, nil
}

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		b, _ = os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return "[" + strings.TrimSpace(string(b)) + "]"
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
