package cgroups

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"4096", 4096, false},
		{"64m", 64 << 20, false},
		{"64M", 64 << 20, false},
		{"64mb", 64 << 20, false},
		{"64MiB", 64 << 20, false},
		{"1g", 1 << 30, false},
		{"1.5g", 3 << 29, false},
		{"512k", 512 << 10, false},
		{"10b", 10, false},
		{"2t", 2 << 40, false},
		{"", 0, true},
		{"m", 0, true},
		{"1x", 0, true},
		{"-1m", 0, true},
		{"1e3", 0, true},
		{"abc", 0, true},
		{"99999999999p", 0, true},
		{"0x10", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseBytes(tt.in)
			if tt.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  bool
	}{
		{"0", []int{0}, false},
		{"0-2,4", []int{0, 1, 2, 4}, false},
		{"1,1", []int{1}, false},
		{" 0-1\n", []int{0, 1}, false},
		{"", nil, false},
		{"2-1", nil, true},
		{"a", nil, true},
		{"-1", nil, true},
		{"0-", nil, true},
		{"0-99999999", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseList(tt.in)
			if tt.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, got, len(tt.want))
			for _, id := range tt.want {
				assert.True(t, got[id], id)
			}
		})
	}
}

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func boolp(v bool) *bool   { return &v }

func TestResources(t *testing.T) {
	tests := []struct {
		name string
		f    Flags
		want *specs.LinuxResources
		err  string
	}{
		{"nothing", Flags{}, &specs.LinuxResources{}, ""},
		{"memory gets twice as much memory+swap", Flags{Memory: "32m"},
			&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20), Swap: i64(64 << 20)}}, ""},
		{"unlimited swap", Flags{Memory: "32m", MemorySwap: "-1"},
			&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20), Swap: i64(-1)}}, ""},
		{"swap, reservation, no OOM killer", Flags{Memory: "1g", MemorySwap: "2g", MemoryReservation: "512m", OOMKillDisable: true},
			&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(2 << 30), Reservation: i64(512 << 20), DisableOOMKiller: boolp(true)}}, ""},
		{"half a CPU", Flags{CPUs: "0.5"},
			&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000)}}, ""},
		{"quota alone gets the default period", Flags{CPUQuota: 20000},
			&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(20000), Period: u64(100000)}}, ""},
		{"period and quota", Flags{CPUPeriod: 50000, CPUQuota: 25000},
			&specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(25000), Period: u64(50000)}}, ""},
		{"shares and cpuset", Flags{CPUShares: 512, CpusetCpus: "0", CpusetMems: "0"},
			&specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Cpus: "0", Mems: "0"}}, ""},
		{"pids", Flags{PidsLimit: 100}, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(100)}}, ""},
		{"unlimited pids", Flags{PidsLimit: -5}, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}}, ""},
		{"blkio weight", Flags{BlkioWeight: 300}, &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: u16(300)}}, ""},

		{"bad memory", Flags{Memory: "1x"}, nil, `invalid --memory "1x"`},
		{"too little memory", Flags{Memory: "1m"}, nil, "minimum memory limit is 6MB"},
		{"swap without memory", Flags{MemorySwap: "1g"}, nil, "set a memory limit"},
		{"swap below memory", Flags{Memory: "1g", MemorySwap: "512m"}, nil, "at least --memory"},
		{"reservation above memory", Flags{Memory: "64m", MemoryReservation: "1g"}, nil, "can never be met"},
		{"negative cpus", Flags{CPUs: "-1"}, nil, "the range is 0.01 to 2.00"},
		{"too many cpus", Flags{CPUs: "3"}, nil, "there are 2 CPUs"},
		{"cpus is not a number", Flags{CPUs: "half"}, nil, `invalid --cpus "half"`},
		{"cpus and quota", Flags{CPUs: "1", CPUQuota: 50000}, nil, "conflicting options"},
		{"tiny period", Flags{CPUPeriod: 10}, nil, "--cpu-period"},
		{"tiny quota", Flags{CPUQuota: 10}, nil, "--cpu-quota"},
		{"shares out of range", Flags{CPUShares: 1}, nil, "--cpu-shares"},
		{"cpuset not a list", Flags{CpusetCpus: "x"}, nil, "--cpuset-cpus"},
		{"cpuset beyond the machine", Flags{CpusetCpus: "4096"}, nil, "is not available"},
		{"blkio weight out of range", Flags{BlkioWeight: 5}, nil, "--blkio-weight"},
		{"throttle without rate", Flags{DeviceReadBps: []string{"/dev/null"}}, nil, "DEVICE:RATE"},
		{"throttle not a device path", Flags{DeviceWriteBps: []string{"sda:1mb"}}, nil, "not a device path"},
		{"throttle on a character device", Flags{DeviceWriteBps: []string{"/dev/null:1mb"}}, nil, "not a block device"},
		{"throttle bad rate", Flags{DeviceReadBps: []string{"/dev/null:fast"}}, nil, `rate "fast"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f.Resources(2)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConversions(t *testing.T) {
	t.Run("cpus to quota", func(t *testing.T) {
		// 0.29*100000 is 28999.999999999996 in floating point: round, do not truncate.
		for cpus, want := range map[float64]int64{0.5: 50000, 1: 100000, 2: 200000, 0.01: 1000, 1.25: 125000, 0.29: 29000, 0.57: 57000} {
			q, p := CPUQuota(cpus)
			assert.Equal(t, want, q, cpus)
			assert.Equal(t, uint64(100000), p)
		}
	})
	t.Run("cpu.max", func(t *testing.T) {
		assert.Equal(t, "50000 100000", CPUMax(i64(50000), u64(100000)))
		assert.Equal(t, "25000 50000", CPUMax(i64(25000), u64(50000)))
		assert.Equal(t, "max 100000", CPUMax(nil, nil))
		assert.Equal(t, "max 100000", CPUMax(i64(-1), nil))
		assert.Equal(t, "20000 100000", CPUMax(i64(20000), nil))
	})
	t.Run("shares to weight", func(t *testing.T) {
		// 1 and 300000 are outside v1's range: clamped to 2 and 262144.
		for shares, want := range map[uint64]uint64{0: 0, 1: 1, 2: 1, 1024: 39, 512: 20, 100000: 3815, 262144: 10000, 300000: 10000} {
			assert.Equal(t, want, SharesToWeight(shares), shares)
		}
	})
	t.Run("blkio to io weight", func(t *testing.T) {
		for w, want := range map[uint16]uint64{0: 0, 5: 1, 10: 1, 100: 910, 500: 4950, 1000: 10000, 2000: 10000} {
			assert.Equal(t, want, BlkioToIOWeight(w), w)
		}
	})
	t.Run("swap", func(t *testing.T) {
		v, ok, err := SwapV2(i64(100), i64(300))
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "200", v)
		v, ok, err = SwapV2(i64(100), i64(-1))
		require.NoError(t, err)
		assert.Equal(t, "max", v)
		assert.True(t, ok)
		_, ok, err = SwapV2(i64(100), nil)
		require.NoError(t, err)
		assert.False(t, ok)
		_, _, err = SwapV2(nil, i64(100))
		assert.Error(t, err)
		_, _, err = SwapV2(i64(100), i64(50))
		assert.Error(t, err)
	})
	t.Run("human bytes", func(t *testing.T) {
		assert.Equal(t, "32MiB", HumanBytes(32<<20))
		assert.Equal(t, "1.5GiB", HumanBytes(3<<29))
		assert.Equal(t, "512B", HumanBytes(512))
	})
}

func TestMemoryWrites(t *testing.T) {
	mem := &specs.LinuxMemory{Limit: i64(32 << 20), Swap: i64(64 << 20)}
	w, err := memoryWrites(1, mem)
	require.NoError(t, err)
	assert.Equal(t, []write{{"memory.limit_in_bytes", "33554432"}, {"memory.memsw.limit_in_bytes", "67108864"}}, w)
	w, err = memoryWrites(2, mem)
	require.NoError(t, err)
	assert.Equal(t, []write{{"memory.max", "33554432"}, {"memory.swap.max", "33554432"}}, w)

	w, err = memoryWrites(2, &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(-1)})
	require.NoError(t, err)
	assert.Equal(t, []write{{"memory.max", "1073741824"}, {"memory.swap.max", "max"}}, w)
	w, err = memoryWrites(1, &specs.LinuxMemory{Limit: i64(1 << 30), Swap: i64(-1)})
	require.NoError(t, err)
	assert.Equal(t, []write{{"memory.limit_in_bytes", "1073741824"}, {"memory.memsw.limit_in_bytes", "-1"}}, w)

	w, err = memoryWrites(2, &specs.LinuxMemory{Reservation: i64(1)})
	require.NoError(t, err)
	assert.Empty(t, w, "a reservation alone sets no hard limit")
}

func TestOOMKillCount(t *testing.T) {
	v2 := "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n"
	n, err := OOMKillCount(v2)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), n)
	v1 := "oom_kill_disable 0\nunder_oom 0\noom_kill 7"
	n, err = OOMKillCount(v1)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), n)
	n, err = OOMKillCount("oom_kill_disable 1\nunder_oom 0\noom_kill 0\n")
	require.NoError(t, err)
	assert.Equal(t, uint64(0), n, "oom_kill_disable is not oom_kill")
	_, err = OOMKillCount("oom_kill_disable 0\nunder_oom 0\n")
	assert.Error(t, err, "an old kernel without the counter")
	_, err = OOMKillCount("oom_kill x\n")
	assert.Error(t, err)
}

func TestCleanPath(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"abc", "/minibox/abc", ""},
		{"/abc", "/minibox/abc", ""},
		{"/minibox/abc", "/minibox/abc", ""},
		{"a/b", "/minibox/a/b", ""},
		{"/minibox", "", "under /minibox"},
		{"/", "", "not the root"},
		{"", "", "empty"},
		{"../etc", "", "'..'"},
		{"/minibox/../x", "", "'..'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CleanPath(tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestStatsString(t *testing.T) {
	s := Stats{MemoryPeak: 32 << 20, HasMemPeak: true, MemoryLimit: 32 << 20, PidsPeak: 3, HasPidsPeak: true, PidsLimit: 10, OOMKills: 1}
	assert.Equal(t, "memory peak 32MiB (limit 32MiB), CPU time 0.00s, pids peak 3 (limit 10), OOM kills 1", s.String())
	assert.True(t, strings.HasPrefix(Stats{}.String(), "memory peak n/a"))
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"64m", "1.5g", "4096", "", "1e9", "-1", "9999999999999999999p", "0.0000001k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err == nil && n < 0 {
			t.Fatalf("%q parsed to %d", s, n)
		}
	})
}

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"0-3,5", "", "1-0", "a", "0-65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseList(s)
		if err == nil && len(m) > 1<<17 {
			t.Fatalf("%q gave %d members", s, len(m))
		}
	})
}

func FuzzResources(f *testing.F) {
	f.Add("64m", "-1", "1m", "0.5", int64(0), int64(0), int64(1024), "0-1", int64(10), uint16(500))
	f.Add("1x", "", "", "-1", int64(1), int64(1), int64(1), "x", int64(-1), uint16(1))
	f.Fuzz(func(t *testing.T, mem, swap, res, cpus string, period, quota, shares int64, cpuset string, pids int64, weight uint16) {
		r, err := Flags{Memory: mem, MemorySwap: swap, MemoryReservation: res, CPUs: cpus, CPUPeriod: period,
			CPUQuota: quota, CPUShares: shares, CpusetCpus: cpuset, PidsLimit: pids, BlkioWeight: weight}.Resources(2)
		if err != nil {
			return
		}
		// Whatever is accepted must convert cleanly for v2 too.
		if r.Memory != nil {
			if _, err := memoryWrites(2, r.Memory); err != nil {
				t.Fatalf("accepted memory %+v that v2 cannot take: %v", r.Memory, err)
			}
		}
		if r.CPU != nil && r.CPU.Quota != nil && *r.CPU.Quota > 0 && *r.CPU.Quota < 1000 {
			t.Fatalf("accepted a quota of %d", *r.CPU.Quota)
		}
	})
}
