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
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		mount, fstype, opts, ok := parseMountinfoLine(s.Text())
		if !ok || fstype != "cgroup" || !strings.HasPrefix(mount, root+"/") {
			continue
		}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices", "hugetlb":
				out[o] = mount
			}
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cgroup v1 controller is mounted under %s", root)
	}
	return out, nil
}

// parseMountinfoLine returns the mount point, filesystem type and super
// options of one line of /proc/self/mountinfo (see proc(5)).
func parseMountinfoLine(line string) (mount, fstype, superOpts string, ok bool) {
	fields := strings.Fields(line)
	for i, f := range fields {
		if f == "-" && i >= 5 && len(fields) >= i+4 {
			return unescape(fields[4]), fields[i+1], fields[i+3], true
		}
	}
	return "", "", "", false
}

func unescape(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// joinRoot joins a cgroup path onto a hierarchy's mount directory.
func joinRoot(mount, p string) string { return filepath.Join(mount, filepath.FromSlash(p)) }
