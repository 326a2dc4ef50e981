package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2 is the driver for the unified layout: one tree, one directory per
// container, and controllers handed down from parent to child.
type v2 struct {
	root string
	path string
}

func newV2(root, p string) *v2 { return &v2{root: root, path: p} }

func (m *v2) Version() int   { return 2 }
func (m *v2) Path() string   { return m.path }
func (m *v2) dir() string    { return joinRoot(m.root, m.path) }
func (m *v2) Dirs() []string { return []string{m.dir()} }

// v2Controllers are the controllers a container's cgroup asks for.
var v2Controllers = []string{"cpu", "cpuset", "memory", "pids", "io"}

// Create makes the directories and hands the controllers down. On v2 a
// cgroup can use a controller only if its parent lists it in
// cgroup.subtree_control, and a parent may do that only while it has no
// processes of its own (the "no internal processes" rule; the root is
// exempt). minibox's own cgroups never hold processes, only containers do.
func (m *v2) Create(r *specs.LinuxResources) ([]string, error) {
	if err := mkdirs(m.root, m.path, nil); err != nil {
		_ = m.Destroy()
		return nil, err
	}
	// Hand the controllers down every level above the container, from the
	// top: a level can only pass on what it was given.
	var above []string
	for p := path.Dir(m.path); p != "/"; p = path.Dir(p) {
		above = append([]string{p}, above...)
	}
	for _, p := range append([]string{"/"}, above...) {
		if err := enableControllers(joinRoot(m.root, p)); err != nil {
			_ = m.Destroy()
			return nil, err
		}
	}
	warnings, err := m.set(r)
	if err != nil {
		_ = m.Destroy()
		return nil, err
	}
	return warnings, nil
}

// enableControllers writes "+cpu +memory ..." into dir's
// cgroup.subtree_control, for those of our controllers that dir has.
func enableControllers(dir string) error {
	have, err := readString(dir, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("read the controllers of %s: %w", dir, err)
	}
	avail := map[string]bool{}
	for _, c := range strings.Fields(have) {
		avail[c] = true
	}
	var enable []string
	for _, c := range v2Controllers {
		if avail[c] {
			enable = append(enable, "+"+c)
		}
	}
	if len(enable) == 0 {
		return nil
	}
	if err := writeFile(dir, "cgroup.subtree_control", strings.Join(enable, " ")); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("%w (cgroup v2 allows handing controllers down only from a cgroup without processes of its own)", err)
		}
		return err
	}
	return nil
}

func (m *v2) set(r *specs.LinuxResources) ([]string, error) {
	if r == nil {
		return nil, nil
	}
	dir := m.dir()
	warnings, err := unsupported(r)
	if err != nil {
		return nil, err
	}
	var writes []write
	if len(r.Devices) > 0 {
		rules, err := checkDevices(r.Devices)
		if err != nil {
			return nil, err
		}
		if err := attachDevicesProgram(dir, devicesProgram(rules)); err != nil {
			return nil, err
		}
	}
	if mem := r.Memory; mem != nil {
		w, err := memoryWrites(2, mem)
		if err != nil {
			return nil, err
		}
		for _, x := range w {
			if x.file == "memory.swap.max" && !exists(dir, x.file) {
				warnings = append(warnings, "your kernel does not account swap: memory is limited without swap")
				continue
			}
			writes = append(writes, x)
		}
		if mem.Reservation != nil {
			writes = append(writes, write{"memory.low", strconv.FormatInt(*mem.Reservation, 10)})
		}
		if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
			warnings = append(warnings, "cgroup v2 cannot disable the OOM killer: --oom-kill-disable is ignored")
		}
		if mem.Swappiness != nil {
			warnings = append(warnings, "cgroup v2 has no per-cgroup swappiness: memory.swappiness is ignored")
		}
	}
	if cpu := r.CPU; cpu != nil {
		if cpu.Shares != nil {
			writes = append(writes, write{"cpu.weight", strconv.FormatUint(SharesToWeight(*cpu.Shares), 10)})
		}
		if cpu.Quota != nil || cpu.Period != nil {
			writes = append(writes, write{"cpu.max", CPUMax(cpu.Quota, cpu.Period)})
		}
		if cpu.Cpus != "" {
			writes = append(writes, write{"cpuset.cpus", cpu.Cpus})
		}
		if cpu.Mems != "" {
			writes = append(writes, write{"cpuset.mems", cpu.Mems})
		}
	}
	if r.Pids != nil {
		writes = append(writes, write{"pids.max", pidsMax(r.Pids.Limit)})
	}
	if io := r.BlockIO; io != nil {
		if io.Weight != nil {
			switch {
			case exists(dir, "io.weight"):
				writes = append(writes, write{"io.weight", "default " + strconv.FormatUint(BlkioToIOWeight(*io.Weight), 10)})
			case exists(dir, "io.bfq.weight"):
				writes = append(writes, write{"io.bfq.weight", strconv.FormatUint(uint64(*io.Weight), 10)})
			default:
				warnings = append(warnings, "your kernel has no I/O weight (no io.cost or BFQ): --blkio-weight is ignored")
			}
		}
		for _, t := range io.ThrottleReadBpsDevice {
			writes = append(writes, write{"io.max", fmt.Sprintf("%d:%d rbps=%d", t.Major, t.Minor, t.Rate)})
		}
		for _, t := range io.ThrottleWriteBpsDevice {
			writes = append(writes, write{"io.max", fmt.Sprintf("%d:%d wbps=%d", t.Major, t.Minor, t.Rate)})
		}
	}
	for _, w := range writes {
		if !exists(dir, w.file) {
			ctrl, _, _ := strings.Cut(w.file, ".")
			return nil, fmt.Errorf("%s: the %s controller is not available to minibox's cgroups (is it enabled in %s/cgroup.subtree_control?)", w.file, ctrl, m.root)
		}
		if err := writeFile(dir, w.file, w.value); err != nil {
			return nil, err
		}
	}
	return warnings, nil
}

// OpenDir opens the directory for clone3's CLONE_INTO_CGROUP.
func (m *v2) OpenDir() (*os.File, error) {
	f, err := os.OpenFile(m.dir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %s: %w", m.dir(), err)
	}
	return f, nil
}

func (m *v2) Join(pid int) error {
	return writeFile(m.dir(), "cgroup.procs", strconv.Itoa(pid))
}

func (m *v2) Stats() (Stats, error) {
	var s Stats
	var err error
	dir := m.dir()
	if s.MemoryPeak, err = readUint(dir, "memory.peak"); err == nil {
		s.HasMemPeak = true
	}
	if l, err := readUint(dir, "memory.max"); err == nil && l < 1<<62 {
		s.MemoryLimit = l
	}
	if st, err := readKeyed(dir, "cpu.stat"); err == nil {
		s.CPUTime = time.Duration(st["usage_usec"]) * time.Microsecond
	}
	pidsStats(dir, &s)
	s.OOMKills, _ = m.OOMKills()
	return s, nil
}

func (m *v2) OOMKills() (uint64, error) {
	text, err := readString(m.dir(), "memory.events")
	if err != nil {
		return 0, err
	}
	return OOMKillCount(text)
}

// Destroy kills everything in the cgroup (cgroup.kill, or SIGKILL to each
// process on kernels before 5.14) and removes the directory.
func (m *v2) Destroy() error {
	if err := drain(m.dir(), nil); err != nil {
		return err
	}
	return rmdirs(m.root, m.path)
}
