package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The drivers' settings are computed from the spec alone, so what goes into
// which file is checked here without root and without a cgroup.

func TestV1Settings(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *specs.LinuxResources
		want []setting
		warn []string
	}{
		{name: "nothing", r: nil},
		{
			name: "memory and swap",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20), Reservation: i64(32 << 20), Swappiness: u64(10), DisableOOMKiller: boolp(true)}},
			want: []setting{
				setFile("memory.limit_in_bytes", "67108864"),
				{choices: []write{{"memory.memsw.limit_in_bytes", "100663296"}}, missing: "your kernel does not account swap (boot with swapaccount=1): memory is limited without swap"},
				setFile("memory.soft_limit_in_bytes", "33554432"),
				setFile("memory.oom_control", "1"),
				setFile("memory.swappiness", "10"),
			},
		},
		{
			name: "cpu: shares, then the period before the quota",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000)}},
			want: []setting{setFile("cpu.shares", "512"), setFile("cpu.cfs_period_us", "100000"), setFile("cpu.cfs_quota_us", "50000")},
		},
		{
			name: "cpuset",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0-1", Mems: "0"}},
			want: []setting{setFile("cpuset.cpus", "0-1"), setFile("cpuset.mems", "0")},
		},
		{
			name: "pids",
			r:    &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(42)}},
			want: []setting{setFile("pids.max", "42")},
		},
		{
			name: "no pids limit",
			r:    &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(0)}},
			want: []setting{setFile("pids.max", "max")},
		},
		{
			name: "blkio: weight with BFQ's as the fallback, throttles",
			r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight:                 u16(300),
				ThrottleReadBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
				ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 2048}},
			}},
			want: []setting{
				{choices: []write{{"blkio.weight", "300"}, {"blkio.bfq.weight", "300"}}, missing: "your kernel has no block I/O weight (no CFQ/BFQ): --blkio-weight is ignored"},
				setFile("blkio.throttle.read_bps_device", "8:0 1048576"),
				setFile("blkio.throttle.write_bps_device", "8:16 2048"),
			},
		},
		{
			name: "devices: deny all, then allow /dev/null; a narrow 'a' rule is two lines",
			r: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"},
				{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rw"},
				{Allow: true, Type: "a", Major: i64(136), Access: "rw"},
			}},
			want: []setting{
				setFile("devices.deny", "a *:* rwm"),
				setFile("devices.allow", "c 1:3 rw"),
				setFile("devices.allow", "c 136:* rw"),
				setFile("devices.allow", "b 136:* rw"),
			},
		},
		{
			name: "a limit this driver ignores is a warning",
			r:    &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}, Unified: map[string]string{"memory.high": "1"}},
			want: []setting{setFile("pids.max", "5")},
			warn: []string{"raw cgroup v2 settings (linux.resources.unified) are not applied by minibox"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warn, err := v1Settings(tc.r)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.warn, warn)
		})
	}
}

func TestV2Settings(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *specs.LinuxResources
		want []setting
		warn []string
	}{
		{name: "nothing", r: nil},
		{
			name: "memory: swap counts alone, the reservation is memory.low",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20), Reservation: i64(32 << 20)}},
			want: []setting{
				setFile("memory.max", "67108864"),
				{choices: []write{{"memory.swap.max", "33554432"}}, missing: "your kernel does not account swap: memory is limited without swap"},
				setFile("memory.low", "33554432"),
			},
		},
		{
			name: "what v2 has no file for is a warning",
			r:    &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(10), DisableOOMKiller: boolp(true)}},
			warn: []string{
				"cgroup v2 cannot disable the OOM killer: --oom-kill-disable is ignored",
				"cgroup v2 has no per-cgroup swappiness: memory.swappiness is ignored",
			},
		},
		{
			name: "cpu: weight from shares, quota and period in one file",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(262144), Quota: i64(150000), Period: u64(100000)}},
			want: []setting{setFile("cpu.weight", "10000"), setFile("cpu.max", "150000 100000")},
		},
		{
			name: "a period alone means no quota",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Period: u64(50000)}},
			want: []setting{setFile("cpu.max", "max 50000")},
		},
		{
			name: "cpuset",
			r:    &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "1", Mems: "0"}},
			want: []setting{setFile("cpuset.cpus", "1"), setFile("cpuset.mems", "0")},
		},
		{
			name: "pids",
			r:    &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(7)}},
			want: []setting{setFile("pids.max", "7")},
		},
		{
			name: "io: io.cost's weight, else BFQ's in v1 units; throttles in io.max",
			r: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight:                 u16(1000),
				ThrottleReadBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
				ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 4096}},
			}},
			want: []setting{
				{choices: []write{{"io.weight", "default 10000"}, {"io.bfq.weight", "1000"}}, missing: "your kernel has no I/O weight (no io.cost or BFQ): --blkio-weight is ignored"},
				setFile("io.max", "8:0 rbps=1048576"),
				setFile("io.max", "8:0 wbps=4096"),
			},
		},
		{
			name: "device rules are a program, not a file",
			r:    &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warn, err := v2Settings(tc.r)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.warn, warn)
		})
	}
}

func TestSettingsRefuseBadInput(t *testing.T) {
	for name, r := range map[string]*specs.LinuxResources{
		"swap below memory":  {Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(32 << 20)}},
		"bad device type":    {Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x", Access: "r"}}},
		"bad device access":  {Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rwx"}}},
		"net_cls":            {Network: &specs.LinuxNetwork{ClassID: func() *uint32 { v := uint32(1); return &v }()}},
		"swap without limit": {Memory: &specs.LinuxMemory{Swap: i64(32 << 20)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := v2Settings(r)
			assert.Error(t, err, "v2")
			if name != "swap without limit" && name != "swap below memory" {
				// v1 writes memory+swap as it is: the kernel judges it.
				_, _, err = v1Settings(r)
				assert.Error(t, err, "v1")
			}
		})
	}
	_, _, err := v1Settings(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(101)}})
	assert.ErrorContains(t, err, "swappiness 101")
}

func TestMissingControllers(t *testing.T) {
	for _, tc := range []struct {
		name        string
		have, given []string
		want        []string
	}{
		{"all handed down already: nothing to write", []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}, []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}, nil},
		{"only what is missing", []string{"cpuset", "cpu", "io", "memory", "pids"}, []string{"cpu", "memory"}, []string{"+cpuset", "+pids", "+io"}},
		{"never one the cgroup does not have", []string{"memory", "pids"}, nil, []string{"+memory", "+pids"}},
		{"never one minibox does not use", []string{"hugetlb", "rdma"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, missingControllers(tc.have, tc.given))
		})
	}
}

// Stats on a cgroup whose OOM counter cannot be read says so: an OOM kill
// must never turn silently into "none". The cgroups here are plain
// directories with the files a kernel would show.
func TestStatsReportsAnUnreadableOOMCount(t *testing.T) {
	write := func(dir, file, value string) {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644))
	}
	v2root := t.TempDir()
	dir := filepath.Join(v2root, "minibox", "x")
	write(dir, "memory.peak", "4096\n")
	m2 := newV2(v2root, "/minibox/x")
	s, err := m2.Stats()
	require.Error(t, err)
	assert.ErrorContains(t, err, "OOM kill count")
	assert.Equal(t, uint64(4096), s.MemoryPeak, "what could be read is still returned")
	write(dir, "memory.events", "oom 1\noom_kill 1\n")
	s, err = m2.Stats()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), s.OOMKills)

	mem := t.TempDir()
	m1 := &v1{path: "/minibox/x", mounts: map[string]string{"memory": mem}}
	write(filepath.Join(mem, "minibox", "x"), "memory.max_usage_in_bytes", "8192\n")
	_, err = m1.Stats()
	assert.ErrorContains(t, err, "OOM kill count")
	_, err = (&v1{path: "/minibox/x", mounts: map[string]string{}}).Stats()
	assert.ErrorContains(t, err, "the memory controller is not mounted")

	var out strings.Builder
	(&Result{ExitCode: 137, StatsErr: err}).Report(&out, false)
	assert.Contains(t, out.String(), "minibox: cannot tell whether the OOM killer struck: read the OOM kill count: the memory controller is not mounted")
}
