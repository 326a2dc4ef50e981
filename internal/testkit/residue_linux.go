package testkit

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

// CgroupPrefix is the name of the cgroup directory under which minibox
// creates every cgroup it makes, in each hierarchy.
const CgroupPrefix = "minibox"

// Residue is what a test could leave behind on the host: one sorted list of
// names per kind of kernel object.
type Residue struct {
	Mounts    []string // mount points in our mount namespace
	Links     []string // network links in our network namespace
	NetNS     []string // entries of /run/netns
	Cgroups   []string // directories under minibox's prefix in every cgroup hierarchy
	Processes []string // our own children, and processes in PID namespaces that are not ours
	Nft       []string // the nftables ruleset of our network namespace (see nftRuleset)
}

// Snapshot reads the current residue-relevant state of the host.
func Snapshot() (Residue, error) {
	var r Residue
	var err error
	if r.Mounts, err = mountPoints(); err != nil {
		return r, err
	}
	links, err := netlink.LinkList()
	if err != nil {
		return r, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		r.Links = append(r.Links, l.Attrs().Name)
	}
	if entries, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range entries {
			r.NetNS = append(r.NetNS, e.Name())
		}
	}
	r.Cgroups = miniboxCgroups()
	r.Processes = foreignProcesses()
	if r.Nft, err = nftRuleset(); err != nil {
		return r, err
	}
	leaveOutDaemons(&r) // a package's shared dockerd (docker_linux.go)
	for _, l := range [][]string{r.Mounts, r.Links, r.NetNS, r.Cgroups, r.Processes, r.Nft} {
		sort.Strings(l)
	}
	return r, nil
}

// NewSince lists, as "kind: name" lines, what is in r but was not in before.
// The firewall is the exception: a test must leave the host's ruleset exactly
// as it was, so a rule that went away is listed too ("nft removed: ...").
func (r Residue) NewSince(before Residue) []string {
	var out []string
	add := func(kind string, now, then []string) {
		count := map[string]int{}
		for _, x := range then {
			count[x]++
		}
		for _, x := range now {
			if count[x] > 0 {
				count[x]--
				continue
			}
			out = append(out, kind+": "+x)
		}
	}
	add("mount", r.Mounts, before.Mounts)
	add("link", r.Links, before.Links)
	add("netns", r.NetNS, before.NetNS)
	add("cgroup", r.Cgroups, before.Cgroups)
	add("process", r.Processes, before.Processes)
	add("nft", r.Nft, before.Nft)
	add("nft removed", before.Nft, r.Nft)
	return out
}

// Root starts a test that touches the kernel: it needs root, and it must
// leave the host as it found it (RequireRoot, then NoResidue).
func Root(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	NoResidue(t)
}

// NoResidue snapshots the host now and, when the test ends, fails it for
// anything new. Call it first in a test, so that its check runs after every
// other cleanup (t.Cleanup runs last-registered first).
func NoResidue(t testing.TB) {
	t.Helper()
	before, err := Snapshot()
	if err != nil {
		t.Fatalf("residue snapshot: %v", err)
	}
	t.Cleanup(func() {
		after, err := Snapshot()
		if err != nil {
			t.Errorf("residue snapshot: %v", err)
			return
		}
		for _, x := range after.NewSince(before) {
			t.Errorf("left behind: %s", x)
		}
	})
}

func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 {
			out = append(out, fields[4])
		}
	}
	return out, s.Err()
}

// miniboxCgroups walks minibox's prefix in every mounted cgroup hierarchy.
func miniboxCgroups() []string {
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + CgroupPrefix)
	if fi, err := os.Stat("/sys/fs/cgroup/" + CgroupPrefix); err == nil && fi.IsDir() {
		roots = append(roots, "/sys/fs/cgroup/"+CgroupPrefix)
	}
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// foreignProcesses lists our children and every process that lives in a PID
// namespace other than ours: a container that outlived its test.
func foreignProcesses() []string {
	self := os.Getpid()
	ourNS, _ := os.Readlink("/proc/self/ns/pid")
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces: split after it.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		comm := s[strings.IndexByte(s, '(')+1 : i]
		ns, _ := os.Readlink(filepath.Join("/proc", e.Name(), "ns/pid"))
		if ppid == self || (ns != "" && ourNS != "" && ns != ourNS) {
			out = append(out, fmt.Sprintf("%d %s (%s)", pid, comm, ns))
		}
	}
	return out
}
