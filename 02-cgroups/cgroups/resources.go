package cgroups

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Flags are Docker's resource flags of `run`, as the user typed them.
type Flags struct {
	Memory            string // -m, --memory: 64m, 1g, 1048576
	MemorySwap        string // --memory-swap: memory plus swap; -1 is unlimited swap
	MemoryReservation string // --memory-reservation: a soft limit
	CPUs              string // --cpus: 0.5 is half a CPU
	CPUPeriod         int64  // --cpu-period, microseconds
	CPUQuota          int64  // --cpu-quota, microseconds per period
	CPUShares         int64  // -c, --cpu-shares: relative weight, 1024 is the default
	CpusetCpus        string // --cpuset-cpus: 0-2,4
	CpusetMems        string // --cpuset-mems
	PidsLimit         int64  // --pids-limit: -1 or 0 is unlimited
	BlkioWeight       uint16 // --blkio-weight: 10 to 1000
	DeviceReadBps     []string
	DeviceWriteBps    []string
	OOMKillDisable    bool // --oom-kill-disable
}

// DefaultCPUPeriod is the CFS period Docker uses with --cpus: 100ms.
const DefaultCPUPeriod = 100000

// MinMemory is the smallest memory limit Docker accepts.
const MinMemory = 6 * 1024 * 1024

// Resources validates the flags and turns them into the spec's resources.
// Every mistake is reported here, before anything is created. cpus is the
// number of CPUs online (--cpus may not exceed it); the caller passes
// runtime.NumCPU() or, in tests, any number.
func (f Flags) Resources(cpus int) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	mem := &specs.LinuxMemory{}
	if f.Memory != "" {
		v, err := ParseBytes(f.Memory)
		if err != nil {
			return nil, flagErr("--memory", f.Memory, err)
		}
		if v < MinMemory {
			return nil, fmt.Errorf("invalid --memory %q: the minimum memory limit is 6MB", f.Memory)
		}
		mem.Limit = &v
	}
	if f.MemorySwap != "" {
		var v int64 = -1
		if f.MemorySwap != "-1" {
			var err error
			if v, err = ParseBytes(f.MemorySwap); err != nil {
				return nil, flagErr("--memory-swap", f.MemorySwap, err)
			}
		}
		if mem.Limit == nil {
			return nil, fmt.Errorf("invalid --memory-swap %q: set a memory limit (-m) too; --memory-swap is memory plus swap", f.MemorySwap)
		}
		if v != -1 && v < *mem.Limit {
			return nil, fmt.Errorf("invalid --memory-swap %q: it is memory plus swap, so it must be at least --memory (%s)", f.MemorySwap, f.Memory)
		}
		mem.Swap = &v
	}
	if mem.Limit != nil && mem.Swap == nil {
		// Docker's default: as much swap as memory, memory+swap = 2x memory.
		v := 2 * *mem.Limit
		mem.Swap = &v
	}
	if f.MemoryReservation != "" {
		v, err := ParseBytes(f.MemoryReservation)
		if err != nil {
			return nil, flagErr("--memory-reservation", f.MemoryReservation, err)
		}
		if mem.Limit != nil && v > *mem.Limit {
			return nil, fmt.Errorf("invalid --memory-reservation %q: a reservation above the memory limit (%s) can never be met", f.MemoryReservation, f.Memory)
		}
		mem.Reservation = &v
	}
	if f.OOMKillDisable {
		t := true
		mem.DisableOOMKiller = &t
	}
	if *mem != (specs.LinuxMemory{}) {
		r.Memory = mem
	}

	cpu := &specs.LinuxCPU{}
	if f.CPUs != "" {
		if f.CPUPeriod != 0 || f.CPUQuota != 0 {
			return nil, fmt.Errorf("conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set")
		}
		n, err := strconv.ParseFloat(f.CPUs, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, fmt.Errorf("invalid --cpus %q: give a number of CPUs such as 0.5 or 2", f.CPUs)
		}
		if n < 0.01 || n > float64(cpus) {
			return nil, fmt.Errorf("invalid --cpus %q: the range is 0.01 to %d.00, as there are %d CPUs", f.CPUs, cpus, cpus)
		}
		quota, period := CPUQuota(n)
		cpu.Quota, cpu.Period = &quota, &period
	}
	if f.CPUPeriod != 0 {
		if f.CPUPeriod < 1000 || f.CPUPeriod > 1000000 {
			return nil, fmt.Errorf("invalid --cpu-period %d: the range is 1000 to 1000000 microseconds", f.CPUPeriod)
		}
		p := uint64(f.CPUPeriod)
		cpu.Period = &p
	}
	if f.CPUQuota != 0 {
		if f.CPUQuota < 1000 && f.CPUQuota != -1 {
			return nil, fmt.Errorf("invalid --cpu-quota %d: the minimum is 1000 microseconds (-1: no limit)", f.CPUQuota)
		}
		q := f.CPUQuota
		cpu.Quota = &q
		if cpu.Period == nil {
			p := uint64(DefaultCPUPeriod)
			cpu.Period = &p
		}
	}
	if f.CPUShares != 0 {
		if f.CPUShares < 2 || f.CPUShares > 262144 {
			return nil, fmt.Errorf("invalid --cpu-shares %d: the range is 2 to 262144 (1024 is the default)", f.CPUShares)
		}
		s := uint64(f.CPUShares)
		cpu.Shares = &s
	}
	if f.CpusetCpus != "" {
		if err := checkList("--cpuset-cpus", f.CpusetCpus, "/sys/devices/system/cpu/online", "CPUs"); err != nil {
			return nil, err
		}
		cpu.Cpus = f.CpusetCpus
	}
	if f.CpusetMems != "" {
		if err := checkList("--cpuset-mems", f.CpusetMems, "/sys/devices/system/node/online", "memory nodes"); err != nil {
			return nil, err
		}
		cpu.Mems = f.CpusetMems
	}
	if *cpu != (specs.LinuxCPU{}) {
		r.CPU = cpu
	}

	if f.PidsLimit != 0 {
		limit := f.PidsLimit
		if limit < 0 {
			limit = -1 // unlimited, as Docker reads any negative value
		}
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}

	io := &specs.LinuxBlockIO{}
	if f.BlkioWeight != 0 {
		if f.BlkioWeight < 10 || f.BlkioWeight > 1000 {
			return nil, fmt.Errorf("invalid --blkio-weight %d: the range is 10 to 1000", f.BlkioWeight)
		}
		w := f.BlkioWeight
		io.Weight = &w
	}
	for _, d := range f.DeviceReadBps {
		t, err := ParseThrottle(d)
		if err != nil {
			return nil, flagErr("--device-read-bps", d, err)
		}
		io.ThrottleReadBpsDevice = append(io.ThrottleReadBpsDevice, t)
	}
	for _, d := range f.DeviceWriteBps {
		t, err := ParseThrottle(d)
		if err != nil {
			return nil, flagErr("--device-write-bps", d, err)
		}
		io.ThrottleWriteBpsDevice = append(io.ThrottleWriteBpsDevice, t)
	}
	if io.Weight != nil || len(io.ThrottleReadBpsDevice)+len(io.ThrottleWriteBpsDevice) > 0 {
		r.BlockIO = io
	}
	return r, nil
}

func flagErr(flag, value string, err error) error {
	return fmt.Errorf("invalid %s %q: %w", flag, value, err)
}

// ParseBytes reads a size the way Docker does: a number with an optional
// binary unit b, k, m, g, t or p (upper or lower case, optionally followed by
// "b" or "ib"): 64m is 64 MiB, 1.5g is 1.5 GiB, 4096 is 4096 bytes.
func ParseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "ib")
	t = strings.TrimSuffix(t, "b")
	mult := 1.0
	if n := len(t); n > 0 {
		if i := strings.IndexByte("kmgtp", t[n-1]); i >= 0 {
			mult = math.Pow(1024, float64(i+1))
			t = t[:n-1]
		}
	}
	t = strings.TrimSpace(t)
	if t == "" || strings.ContainsAny(t, "+-eExX_ ") {
		return 0, fmt.Errorf("not a size: use a number with an optional unit b, k, m or g, e.g. 64m")
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("not a size: use a number with an optional unit b, k, m or g, e.g. 64m")
	}
	v := n * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("too large")
	}
	return int64(v), nil
}

// ParseThrottle reads DEVICE:RATE, e.g. /dev/sda:1mb, into the device's
// major and minor numbers and a rate in bytes per second.
func ParseThrottle(s string) (specs.LinuxThrottleDevice, error) {
	var t specs.LinuxThrottleDevice
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return t, fmt.Errorf("use DEVICE:RATE, e.g. /dev/sda:1mb")
	}
	path, rate := s[:i], s[i+1:]
	if !strings.HasPrefix(path, "/dev/") {
		return t, fmt.Errorf("%q is not a device path under /dev", path)
	}
	r, err := ParseBytes(rate)
	if err != nil {
		return t, fmt.Errorf("rate %q: %w", rate, err)
	}
	if r <= 0 {
		return t, fmt.Errorf("the rate must be positive")
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return t, fmt.Errorf("device %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return t, fmt.Errorf("%s is not a block device", path)
	}
	t.Major, t.Minor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	t.Rate = uint64(r)
	return t, nil
}

// ParseList reads a kernel list such as "0-2,4" into its members.
func ParseList(s string) (map[int]bool, error) {
	out := map[int]bool{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a number or range such as 0-3", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range such as 0-3", part)
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("%q is too large a range", part)
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}

// checkList makes sure every member of list is available, as listed in the
// kernel file online (e.g. /sys/devices/system/cpu/online).
func checkList(flag, list, online, what string) error {
	want, err := ParseList(list)
	if err != nil {
		return flagErr(flag, list, err)
	}
	b, err := os.ReadFile(online)
	if err != nil {
		return nil // the kernel will judge
	}
	have, err := ParseList(string(b))
	if err != nil {
		return nil
	}
	for id := range want {
		if !have[id] {
			return fmt.Errorf("invalid %s %q: %s %d is not available; this machine has %s %s", flag, list, what, id, what, strings.TrimSpace(string(b)))
		}
	}
	return nil
}
