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
//
// If the container's directory exists already (another container's), or
// anything later fails, Create removes what it made itself and nothing
// else.
func (m *v2) Create(r *specs.LinuxResources) (_ []string, err error) {
	settings, warnings, err := v2Settings(r)
	if err != nil {
		return nil, err
	}
	made, err := mkdirs(m.root, m.path)
	defer func() {
		if err != nil {
			err = errors.Join(err, removeMade(made, m.path))
		}
	}()
	if err != nil {
		return nil, err
	}
	// Hand the controllers down every level above the container, from the
	// top: a level can only pass on what it was given. The root's
	// cgroup.subtree_control is the one file outside Prefix that minibox
	// may write, and only to add a controller it lacks (see doc.go).
	var above []string
	for p := path.Dir(m.path); p != "/"; p = path.Dir(p) {
		above = append([]string{p}, above...)
	}
	for _, p := range append([]string{"/"}, above...) {
		if err := enableControllers(joinRoot(m.root, p)); err != nil {
			return nil, err
		}
	}
	dir := m.dir()
	if r != nil && len(r.Devices) > 0 {
		rules, err := checkDevices(r.Devices)
		if err != nil {
			return nil, err
		}
		if err := attachDevicesProgram(dir, devicesProgram(rules)); err != nil {
			return nil, err
		}
	}
	dirOf := func(string) (string, error) { return dir, nil }
	absent := func(file string) error {
		return fmt.Errorf("%s: the %s controller is not available to minibox's cgroups (is it enabled in %s/cgroup.subtree_control?)", file, controllerOf(file), m.root)
	}
	more, err := apply(settings, dirOf, absent)
	if err != nil {
		return nil, err
	}
	return append(warnings, more...), nil
}

// enableControllers adds to dir's cgroup.subtree_control those of our
// controllers that dir has (cgroup.controllers) and does not hand down yet.
// Nothing is written when all are there already, which is the rule for the
// root of a systemd machine; a controller is never taken away.
func enableControllers(dir string) error {
	have, err := readString(dir, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("read the controllers of %s: %w", dir, err)
	}
	given, err := readString(dir, "cgroup.subtree_control")
	if err != nil {
		return fmt.Errorf("read the controllers %s hands down: %w", dir, err)
	}
	enable := missingControllers(strings.Fields(have), strings.Fields(given))
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

// missingControllers is the cgroup.subtree_control line ("+cpu +io") that
// hands down those of v2Controllers that a cgroup has and does not hand
// down yet.
func missingControllers(have, given []string) []string {
	avail, on := map[string]bool{}, map[string]bool{}
	for _, c := range have {
		avail[c] = true
	}
	for _, c := range given {
		on[c] = true
	}
	var enable []string
	for _, c := range v2Controllers {
		if avail[c] && !on[c] {
			enable = append(enable, "+"+c)
		}
	}
	return enable
}

// v2Settings is what the files of a container's v2 cgroup get for r, in
// the order they are written. The spec speaks v1, so most values are
// converted (convert.go). Device rules are no file on v2 (an eBPF program,
// see devices_linux.go), so they are not among them.
func v2Settings(r *specs.LinuxResources) ([]setting, []string, error) {
	if r == nil {
		return nil, nil, nil
	}
	warnings, err := unsupported(r)
	if err != nil {
		return nil, nil, err
	}
	if len(r.Devices) > 0 {
		if _, err := checkDevices(r.Devices); err != nil {
			return nil, nil, err
		}
	}
	var out []setting
	if mem := r.Memory; mem != nil {
		w, err := memoryWrites(2, mem)
		if err != nil {
			return nil, nil, err
		}
		for _, x := range w {
			s := setting{choices: []write{x}}
			if x.file == "memory.swap.max" {
				s.missing = "your kernel does not account swap: memory is limited without swap"
			}
			out = append(out, s)
		}
		if mem.Reservation != nil {
			out = append(out, setFile("memory.low", strconv.FormatInt(*mem.Reservation, 10)))
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
			out = append(out, setFile("cpu.weight", strconv.FormatUint(SharesToWeight(*cpu.Shares), 10)))
		}
		if cpu.Quota != nil || cpu.Period != nil {
			out = append(out, setFile("cpu.max", CPUMax(cpu.Quota, cpu.Period)))
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
			// io.weight is io.cost's (1..10000); BFQ's io.bfq.weight
			// takes v1's range as it is.
			out = append(out, setting{
				choices: []write{
					{"io.weight", "default " + strconv.FormatUint(BlkioToIOWeight(*io.Weight), 10)},
					{"io.bfq.weight", strconv.FormatUint(uint64(*io.Weight), 10)},
				},
				missing: "your kernel has no I/O weight (no io.cost or BFQ): --blkio-weight is ignored",
			})
		}
		for _, t := range io.ThrottleReadBpsDevice {
			out = append(out, setFile("io.max", fmt.Sprintf("%d:%d rbps=%d", t.Major, t.Minor, t.Rate)))
		}
		for _, t := range io.ThrottleWriteBpsDevice {
			out = append(out, setFile("io.max", fmt.Sprintf("%d:%d wbps=%d", t.Major, t.Minor, t.Rate)))
		}
	}
	return out, warnings, nil
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
	// The OOM count is what tells an OOM kill from any other SIGKILL: not
	// knowing it is an error, never a silent "no".
	if s.OOMKills, err = m.OOMKills(); err != nil {
		return s, fmt.Errorf("read the OOM kill count: %w", err)
	}
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
