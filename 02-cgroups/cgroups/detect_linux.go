package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Detect tells which layout is mounted at root: 2 when root itself is a
// cgroup2 filesystem (the unified hierarchy), 1 otherwise. A "hybrid" host
// (v1 controllers plus an empty cgroup2 at root/unified, as here) counts as
// v1: the controllers that matter live on the v1 side.
func Detect(root string) (int, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return 0, fmt.Errorf("look at %s: %w (is the cgroup filesystem mounted?)", root, err)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return 2, nil
	}
	return 1, nil
}

// v1Mounts maps each v1 controller to the directory its hierarchy is
// mounted on, read from /proc/self/mountinfo. Controllers may share a
// hierarchy ("cpu,cpuacct"); both then map to the same directory.
func v1Mounts(root string) (map[string]string, error) {
	mounts, err := Mounts(root)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range mounts {
		if m.FSType != "cgroup" {
			continue
		}
		for _, o := range strings.Split(m.SuperOptions, ",") {
			switch o {
			case "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices", "hugetlb":
				out[o] = m.Point
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cgroup v1 controller is mounted under %s", root)
	}
	return out, nil
}

// Mount is one cgroup filesystem as /proc/self/mountinfo shows it (see
// proc(5)).
type Mount struct {
	Point        string // where it is mounted
	FSType       string // cgroup (v1) or cgroup2
	Root         string // the cgroup the mount shows as its top, seen from our cgroup namespace
	SuperOptions string // for v1, the controllers: "rw,cpu,cpuacct"
}

// Mounts lists the cgroup filesystems mounted under root (DefaultRoot
// when empty).
func Mounts(root string) ([]Mount, error) {
	if root == "" {
		root = DefaultRoot
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Mount
	s := bufio.NewScanner(f)
	for s.Scan() {
		m, ok := parseMountinfoLine(s.Text())
		if !ok || (m.FSType != "cgroup" && m.FSType != "cgroup2") || (m.Point != root && !strings.HasPrefix(m.Point, root+"/")) {
			continue
		}
		out = append(out, m)
	}
	return out, s.Err()
}

// parseMountinfoLine reads one line of /proc/self/mountinfo.
func parseMountinfoLine(line string) (Mount, bool) {
	fields := strings.Fields(line)
	for i, f := range fields {
		if f == "-" && i >= 5 && len(fields) >= i+4 {
			return Mount{Point: unescape(fields[4]), FSType: fields[i+1], Root: unescape(fields[3]), SuperOptions: fields[i+3]}, true
		}
	}
	return Mount{}, false
}

func unescape(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// joinRoot joins a cgroup path onto a hierarchy's mount directory.
func joinRoot(mount, p string) string { return filepath.Join(mount, filepath.FromSlash(p)) }
