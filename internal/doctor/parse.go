package doctor

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file holds the pure parsers: text in, values out, no system calls,
// so tests and fuzz targets run them on canned input without root.

// kernelVersion is the numeric start of a kernel release string.
type kernelVersion struct{ major, minor, patch int }

func (v kernelVersion) less(o kernelVersion) bool {
	if v.major != o.major {
		return v.major < o.major
	}
	if v.minor != o.minor {
		return v.minor < o.minor
	}
	return v.patch < o.patch
}

func (v kernelVersion) String() string {
	return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
}

// parseKernelRelease reads "major.minor[.patch]" from the start of a release
// as uname(2) gives it ("6.1.0-18-amd64", "6.18.44-fc-v782"); what follows
// the numbers (distribution suffixes, "-rc1", "+") is ignored.
func parseKernelRelease(release string) (kernelVersion, error) {
	var nums []int
	rest := release
	for len(nums) < 3 {
		i := 0
		for i < len(rest) && i < 9 && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			break
		}
		n, _ := strconv.Atoi(rest[:i]) // at most 9 digits: cannot overflow
		nums = append(nums, n)
		rest = rest[i:]
		if len(nums) == 3 || !strings.HasPrefix(rest, ".") {
			break
		}
		rest = rest[1:]
	}
	if len(nums) < 2 {
		return kernelVersion{}, fmt.Errorf("parse kernel release %q: want major.minor at the start", release)
	}
	v := kernelVersion{major: nums[0], minor: nums[1]}
	if len(nums) == 3 {
		v.patch = nums[2]
	}
	return v, nil
}

// cgroupMounts is what /proc/self/mountinfo says about cgroup filesystems.
type cgroupMounts struct {
	v1 []string // v1 controllers mounted anywhere, sorted, no duplicates
	v2 []string // mount points of cgroup2 filesystems, in mount order
}

// v1Controllers are the controller names a cgroup v1 mount can carry in its
// super options (everything else there is an option such as rw, name=systemd
// or clone_children). See cgroups(7).
var v1Controllers = []string{
	"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb",
	"memory", "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma",
}

// parseCgroupMountinfo finds the cgroup mounts in the text of
// /proc/self/mountinfo (format in proc_pid_mountinfo(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	(1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//
// Field 5 is the mount point (octal-escaped), 7 a variable number of optional
// fields ended by "-", then the filesystem type and the super options that
// name a v1 mount's controllers. Lines it cannot read are skipped.
func parseCgroupMountinfo(text string) cgroupMounts {
	var m cgroupMounts
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 6 || sep+1 >= len(f) {
			continue
		}
		switch fstype := f[sep+1]; fstype {
		case "cgroup":
			if sep+3 >= len(f) {
				continue
			}
			for opt := range strings.SplitSeq(f[sep+3], ",") {
				if slices.Contains(v1Controllers, opt) && !slices.Contains(m.v1, opt) {
					m.v1 = append(m.v1, opt)
				}
			}
		case "cgroup2":
			m.v2 = append(m.v2, unescapeMountinfo(f[4]))
		}
	}
	slices.Sort(m.v1)
	return m
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for a space,
// \011, \012, \134) in a mountinfo path. A malformed escape stays as it is.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// errNoCgroup is returned by CgroupLayout when no cgroup filesystem is
// mounted at all.
var errNoCgroup = errors.New("no cgroup filesystem is mounted")
