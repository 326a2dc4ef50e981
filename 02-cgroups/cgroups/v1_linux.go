package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// v1 is the driver for the legacy layout: one hierarchy per controller, so
// one directory per controller for each container.
type v1 struct {
	path   string
	mounts map[string]string // controller -> its hierarchy's mount point
}

// v1Controllers are the hierarchies a container gets a directory in.
var v1Controllers = []string{"memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer", "devices"}

func newV1(root, p string) (*v1, error) {
	all, err := v1Mounts(root)
	if err != nil {
		return nil, err
	}
	m := &v1{path: p, mounts: map[string]string{}}
	for _, c := range v1Controllers {
		if mount, ok := all[c]; ok {
			m.mounts[c] = mount
		}
	}
	return m, nil
}

func (m *v1) Version() int { return 1 }
func (m *v1) Path() string { return m.path }

// dir is the container's directory in controller c's hierarchy, or "" when
// that controller is not mounted.
func (m *v1) dir(c string) string {
	mount, ok := m.mounts[c]
	if !ok {
		return ""
	}
	return joinRoot(mount, m.path)
}

// Dirs lists one directory per mounted hierarchy (co-mounted controllers
// such as cpu,cpuacct share one).
func (m *v1) Dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range v1Controllers {
		if d := m.dir(c); d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

func (m *v1) mountsInUse() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range v1Controllers {
		if mount, ok := m.mounts[c]; ok && !seen[mount] {
			seen[mount] = true
			out = append(out, mount)
		}
	}
	return out
}

func (m *v1) Create(r *specs.LinuxResources) ([]string, error) {
	for _, mount := range m.mountsInUse() {
		if err := mkdirs(mount, m.path, nil); err != nil {
			_ = m.Destroy()
			return nil, err
		}
		if mount == m.mounts["cpuset"] {
			if err := fillCpusets(mount, m.path); err != nil {
				_ = m.Destroy()
				return nil, err
			}
		}
	}
	warnings, err := m.set(r)
	if err != nil {
		_ = m.Destroy()
		return nil, err
	}
	return warnings, nil
}

// fillCpusets fills every level of a new v1 cpuset path from its parent,
// top down: a new cpuset cgroup starts with no CPUs and no memory nodes, the
// kernel refuses to add a process to it until both are set, and a child's
// set must lie within its parent's. Levels already filled (by us or by a
// container started at the same moment) are left as they are.
func fillCpusets(mount, p string) error {
	dir := mount
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		parent := dir
		dir = filepath.Join(dir, part)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := readString(dir, f); err == nil && v != "" {
				continue
			}
			v, err := readString(parent, f)
			if err != nil {
				return fmt.Errorf("read %s of %s: %w", f, parent, err)
			}
			if err := writeFile(dir, f, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v1) set(r *specs.LinuxResources) ([]string, error) {
	if r == nil {
		return nil, nil
	}
	warnings, err := unsupported(r)
	if err != nil {
		return nil, err
	}
	need := func(c string) (string, error) {
		d := m.dir(c)
		if d == "" {
			return "", fmt.Errorf("the %s controller is not mounted: this limit cannot be applied", c)
		}
		return d, nil
	}
	if len(r.Devices) > 0 {
		rules, err := checkDevices(r.Devices)
		if err != nil {
			return nil, err
		}
		dir, err := need("devices")
		if err != nil {
			return nil, err
		}
		for _, rule := range rules {
			file := "devices.deny"
			if rule.allow {
				file = "devices.allow"
			}
			for _, line := range rule.v1Lines() {
				if err := writeFile(dir, file, line); err != nil {
					return nil, err
				}
			}
		}
	}
	if mem := r.Memory; mem != nil {
		dir, err := need("memory")
		if err != nil {
			return nil, err
		}
		writes, err := memoryWrites(1, mem)
		if err != nil {
			return nil, err
		}
		for _, w := range writes {
			if w.file == "memory.memsw.limit_in_bytes" && !exists(dir, w.file) {
				warnings = append(warnings, "your kernel does not account swap (boot with swapaccount=1): memory is limited without swap")
				continue
			}
			if err := writeFile(dir, w.file, w.value); err != nil {
				return nil, err
			}
		}
		if mem.Reservation != nil {
			if err := writeFile(dir, "memory.soft_limit_in_bytes", strconv.FormatInt(*mem.Reservation, 10)); err != nil {
				return nil, err
			}
		}
		if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
			if err := writeFile(dir, "memory.oom_control", "1"); err != nil {
				return nil, err
			}
		}
		if mem.Swappiness != nil {
			if *mem.Swappiness > 100 {
				return nil, fmt.Errorf("memory swappiness %d: use 0 to 100", *mem.Swappiness)
			}
			if err := writeFile(dir, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
				return nil, err
			}
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil || cpu.Quota != nil || cpu.Period != nil {
			dir, err := need("cpu")
			if err != nil {
				return nil, err
			}
			if cpu.Shares != nil {
				if err := writeFile(dir, "cpu.shares", strconv.FormatUint(*cpu.Shares, 10)); err != nil {
					return nil, err
				}
			}
			// The period first: the kernel checks the quota against it.
			if cpu.Period != nil {
				if err := writeFile(dir, "cpu.cfs_period_us", strconv.FormatUint(*cpu.Period, 10)); err != nil {
					return nil, err
				}
			}
			if cpu.Quota != nil {
				if err := writeFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(*cpu.Quota, 10)); err != nil {
					return nil, err
				}
			}
		}
		if cpu.Cpus != "" || cpu.Mems != "" {
			dir, err := need("cpuset")
			if err != nil {
				return nil, err
			}
			if cpu.Cpus != "" {
				if err := writeFile(dir, "cpuset.cpus", cpu.Cpus); err != nil {
					return nil, err
				}
			}
			if cpu.Mems != "" {
				if err := writeFile(dir, "cpuset.mems", cpu.Mems); err != nil {
					return nil, err
				}
			}
		}
	}
	if r.Pids != nil {
		dir, err := need("pids")
		if err != nil {
			return nil, err
		}
		if err := writeFile(dir, "pids.max", pidsMax(r.Pids.Limit)); err != nil {
			return nil, err
		}
	}
	if io := r.BlockIO; io != nil {
		dir, err := need("blkio")
		if err != nil {
			return nil, err
		}
		if io.Weight != nil {
			// CFQ's blkio.weight is gone from recent kernels; BFQ's
			// takes the same range, as runc falls back to it.
			file := "blkio.weight"
			if !exists(dir, file) {
				file = "blkio.bfq.weight"
			}
			if !exists(dir, file) {
				warnings = append(warnings, "your kernel has no block I/O weight (no CFQ/BFQ): --blkio-weight is ignored")
			} else if err := writeFile(dir, file, strconv.FormatUint(uint64(*io.Weight), 10)); err != nil {
				return nil, err
			}
		}
		for _, t := range io.ThrottleReadBpsDevice {
			if err := writeFile(dir, "blkio.throttle.read_bps_device", fmt.Sprintf("%d:%d %d", t.Major, t.Minor, t.Rate)); err != nil {
				return nil, err
			}
		}
		for _, t := range io.ThrottleWriteBpsDevice {
			if err := writeFile(dir, "blkio.throttle.write_bps_device", fmt.Sprintf("%d:%d %d", t.Major, t.Minor, t.Rate)); err != nil {
				return nil, err
			}
		}
	}
	return warnings, nil
}

// pidsMax is the pids.max value for a limit: "max" for none.
func pidsMax(limit *int64) string {
	if limit == nil || *limit <= 0 {
		return "max"
	}
	return strconv.FormatInt(*limit, 10)
}

func (m *v1) OpenDir() (*os.File, error) { return nil, ErrNoCloneInto }

// Join writes pid into cgroup.procs of every hierarchy.
func (m *v1) Join(pid int) error {
	for _, d := range m.Dirs() {
		if err := writeFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1) Stats() (Stats, error) {
	var s Stats
	var err error
	if d := m.dir("memory"); d != "" {
		if s.MemoryPeak, err = readUint(d, "memory.max_usage_in_bytes"); err == nil {
			s.HasMemPeak = true
		}
		if l, err := readUint(d, "memory.limit_in_bytes"); err == nil && l < 1<<62 {
			s.MemoryLimit = l
		}
	}
	if d := m.dir("cpuacct"); d != "" {
		if ns, err := readUint(d, "cpuacct.usage"); err == nil {
			s.CPUTime = time.Duration(ns)
		}
	}
	if d := m.dir("pids"); d != "" {
		pidsStats(d, &s)
	}
	s.OOMKills, _ = m.OOMKills()
	return s, nil
}

func (m *v1) OOMKills() (uint64, error) {
	d := m.dir("memory")
	if d == "" {
		return 0, errors.New("the memory controller is not mounted")
	}
	text, err := readString(d, "memory.oom_control")
	if err != nil {
		return 0, err
	}
	return OOMKillCount(text)
}

// Destroy kills everything in the cgroup and removes its directories. It
// freezes the cgroup first, so that no process can fork while we go through
// the list.
func (m *v1) Destroy() error {
	var errs []error
	dirs := m.Dirs()
	if freezer := m.dir("freezer"); freezer != "" && exists(freezer, "freezer.state") {
		if err := freeze(freezer, "FROZEN"); err != nil {
			errs = append(errs, err)
		}
		thaw := func() error { return writeFile(freezer, "freezer.state", "THAWED") }
		if err := drain(freezer, thaw); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range dirs {
		if err := drain(d, nil); err != nil {
			errs = append(errs, err)
		}
	}
	for _, mount := range m.mountsInUse() {
		if err := rmdirs(mount, m.path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// freeze writes state to freezer.state and waits until the kernel reports it.
func freeze(dir, state string) error {
	if err := writeFile(dir, "freezer.state", state); err != nil {
		return err
	}
	for i := 0; i < 1000; i++ {
		s, err := readString(dir, "freezer.state")
		if err != nil || s == state {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("freezer %s did not become %s", dir, state)
}
