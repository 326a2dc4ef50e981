package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Prefix is the cgroup under which minibox creates every container's
// cgroup, in every hierarchy. minibox never creates or removes a cgroup
// outside it, and writes one file outside it only: on cgroup v2, the root's
// cgroup.subtree_control, and only to add one of cpu, cpuset, memory, pids
// or io that the root does not hand down yet (without it the controller
// cannot reach Prefix; see doc.go). On a shared machine the rest belongs
// to others.
const Prefix = "/minibox"

// DefaultRoot is where the cgroup filesystems are mounted.
const DefaultRoot = "/sys/fs/cgroup"

// Manager creates one container's cgroup, puts processes in it, reads its
// counters and removes it. New picks the driver for the machine's layout.
type Manager interface {
	// Version is 1 or 2.
	Version() int
	// Path is the cgroup's path inside each hierarchy, e.g. /minibox/3f2a.
	Path() string
	// Dirs are the cgroup's directories: one per controller on v1, one on v2.
	Dirs() []string
	// Create makes the cgroup and writes the limits. It returns warnings
	// for limits this machine cannot apply (as Docker prints them). The
	// levels above the cgroup may exist, the cgroup itself must not: then
	// the error is an *ExistsError (errors.Is(err, fs.ErrExist)). A failed
	// Create removes what it made and nothing else.
	Create(r *specs.LinuxResources) (warnings []string, err error)
	// OpenDir opens the cgroup's directory for CLONE_INTO_CGROUP. It fails
	// with ErrNoCloneInto on v1, where a process can only be moved in.
	OpenDir() (*os.File, error)
	// Join moves process pid into the cgroup.
	Join(pid int) error
	// Stats reads what the cgroup has used.
	Stats() (Stats, error)
	// OOMKills is how many processes the OOM killer killed in the cgroup,
	// as the kernel counts them.
	OOMKills() (uint64, error)
	// Destroy kills every process left in the cgroup and removes it.
	Destroy() error
}

// ErrNoCloneInto says that a process cannot be cloned straight into the
// cgroup (cgroup v1), so it must be moved in with Join.
var ErrNoCloneInto = errors.New("cgroup v1 cannot clone into a cgroup")

// Stats are the cgroup's own counters. A value the kernel does not keep
// (e.g. memory.peak before Linux 5.19) is reported as missing.
type Stats struct {
	MemoryPeak  uint64 // bytes
	HasMemPeak  bool
	CPUTime     time.Duration // user+system time of all processes, ever
	PidsPeak    uint64
	HasPidsPeak bool
	OOMKills    uint64
	MemoryLimit uint64 // 0: none
	PidsLimit   int64  // 0: none
}

// String is the one-line summary `run --stats` prints.
func (s Stats) String() string {
	mem := "n/a"
	if s.HasMemPeak {
		mem = HumanBytes(s.MemoryPeak)
	}
	if s.MemoryLimit > 0 {
		mem += " (limit " + HumanBytes(s.MemoryLimit) + ")"
	}
	pids := "n/a"
	if s.HasPidsPeak {
		pids = fmt.Sprint(s.PidsPeak)
	}
	if s.PidsLimit > 0 {
		pids += fmt.Sprintf(" (limit %d)", s.PidsLimit)
	}
	return fmt.Sprintf("memory peak %s, CPU time %.2fs, pids peak %s, OOM kills %d",
		mem, s.CPUTime.Seconds(), pids, s.OOMKills)
}

// New returns the Manager for cgroup path p on this machine, under root
// (DefaultRoot when empty). p is placed under Prefix: "web" and "/web" both
// become /minibox/web, so a path from a bundle can never point elsewhere.
func New(root, p string) (Manager, error) {
	if root == "" {
		root = DefaultRoot
	}
	cp, err := CleanPath(p)
	if err != nil {
		return nil, err
	}
	v, err := Detect(root)
	if err != nil {
		return nil, err
	}
	if v == 2 {
		return newV2(root, cp), nil
	}
	return newV1(root, cp)
}

// CleanPath puts p under Prefix and rejects paths that would climb out.
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty cgroup path")
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("cgroup path %q: '..' is not allowed", p)
		}
	}
	c := path.Clean("/" + p)
	if c == "/" {
		return "", fmt.Errorf("cgroup path %q: name a cgroup, not the root", p)
	}
	if c == Prefix || strings.HasPrefix(c, Prefix+"/") {
		if c == Prefix {
			return "", fmt.Errorf("cgroup path %q: name a cgroup under %s", p, Prefix)
		}
		return c, nil
	}
	return Prefix + c, nil
}
