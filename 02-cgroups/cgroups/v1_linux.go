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

// Create makes the container's directory in every hierarchy. If any of
// them exists already (another container's), or anything later fails, it
// removes what it made itself and nothing else.
func (m *v1) Create(r *specs.LinuxResources) (_ []string, err error) {
	var made []string
	defer func() {
		if err != nil {
			err = errors.Join(err, removeMade(made, m.path))
		}
	}()
	settings, warnings, err := v1Settings(r)
	if err != nil {
		return nil, err
	}
	for _, mount := range m.mountsInUse() {
		dirs, err := mkdirs(mount, m.path)
		made = append(made, dirs...)
		if err != nil {
			return nil, err
		}
		if mount == m.mounts["cpuset"] {
			if err := fillCpusets(mount, m.path); err != nil {
				return nil, err
			}
		}
	}
	dirOf := func(file string) (string, error) {
		c := controllerOf(file)
		if d := m.dir(c); d != "" {
			return d, nil
		}
		return "", fmt.Errorf("%s: the %s controller is not mounted: this limit cannot be applied", file, c)
	}
	absent := func(file string) error {
		return fmt.Errorf("%s: this kernel's %s controller has no such file", file, controllerOf(file))
	}
	more, err := apply(settings, dirOf, absent)
	if err != nil {
		return nil, err
	}
	return append(warnings, more...), nil
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

// v1Settings is what the v1 files of a container's cgroup get for r, in
// the order they are written. Every file lives in its controller's
// hierarchy (memory.* in memory's, cpu.* in cpu's, ...).
func v1Settings(r *specs.LinuxResources) ([]setting, []string, error) {
	if r == nil {
		return nil, nil, nil
	}
	warnings, err := unsupported(r)
	if err != nil {
		return nil, nil, err
	}
	var out []setting
	if len(r.Devices) > 0 {
		rules, err := checkDevices(r.Devices)
		if err != nil {
			return nil, nil, err
		}
		for _, rule := range rules {
			file := "devices.deny"
			if rule.allow {
				file = "devices.allow"
			}
			for _, line := range rule.v1Lines() {
				out = append(out, setFile(file, line))
			}
		}
	}
	if mem := r.Memory; mem != nil {
		writes, err := memoryWrites(1, mem)
		if err != nil {
			return nil, nil, err
		}
		for _, w := range writes {
			s := setting{choices: []write{w}}
			if w.file == "memory.memsw.limit_in_bytes" {
				s.missing = "your kernel does not account swap (boot with swapaccount=1): memory is limited without swap"
			}
			out = append(out, s)
		}
		if mem.Reservation != nil {
			out = append(out, setFile("memory.soft_limit_in_bytes", strconv.FormatInt(*mem.Reservation, 10)))
		}
		if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
			out = append(out, setFile("memory.oom_control", "1"))
		}
		if mem.Swappiness != nil {
			if *mem.Swappiness > 100 {
				return nil, nil, fmt.Errorf("memory swappiness %d: use 0 to 100", *mem.Swappiness)
			}
			out = append(out, setFile("memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)))
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil {
			out = append(out, setFile("cpu.shares", strconv.FormatUint(*cpu.Shares, 10)))
		}
		// The period first: the kernel checks the quota against it.
		if cpu.Period != nil {
			out = append(out, setFile("cpu.cfs_period_us", strconv.FormatUint(*cpu.Period, 10)))
		}
		if cpu.Quota != nil {
			out = append(out, setFile("cpu.cfs_quota_us", strconv.FormatInt(*cpu.Quota, 10)))
		}
		if cpu.Cpus != "" {
			out = append(out, setFile("cpuset.cpus", cpu.Cpus))
		}
		if cpu.Mems != "" {
			out = append(out, setFile("cpuset.mems", cpu.Mems))
		}
	}
	if r.Pids != nil {
		out = append(out, setFile("pids.max", pidsMax(r.Pids.Limit)))
	}
	if io := r.BlockIO; io != nil {
		if io.Weight != nil {
			// CFQ's blkio.weight is gone from recent kernels; BFQ's
			// takes the same range, as runc falls back to it.
			w := strconv.FormatUint(uint64(*io.Weight), 10)
			out = append(out, setting{
				choices: []write{{"blkio.weight", w}, {"blkio.bfq.weight", w}},
				missing: "your kernel has no block I/O weight (no CFQ/BFQ): --blkio-weight is ignored",
			})
		}
		for _, t := range io.ThrottleReadBpsDevice {
			out = append(out, setFile("blkio.throttle.read_bps_device", fmt.Sprintf("%d:%d %d", t.Major, t.Minor, t.Rate)))
		}
		for _, t := range io.ThrottleWriteBpsDevice {
			out = append(out, setFile("blkio.throttle.write_bps_device", fmt.Sprintf("%d:%d %d", t.Major, t.Minor, t.Rate)))
		}
	}
	return out, warnings, nil
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
	// The OOM count is what tells an OOM kill from any other SIGKILL: not
	// knowing it is an error, never a silent "no".
	if s.OOMKills, err = m.OOMKills(); err != nil {
		return s, fmt.Errorf("read the OOM kill count: %w", err)
	}
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
