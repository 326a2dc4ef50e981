package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/02-cgroups/cgroups"
	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.MainProgram(m, main) }

// cgroupDir finds, from the host, the directory of a running container's
// cgroup for controller (v1) or the one directory (v2), through the
// /proc/PID/cgroup of its init as the host sees it.
func cgroupDir(t *testing.T, pid int, controller string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	v2 := testkit.Cgroup2() == nil
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" {
			return filepath.Join(cgroups.DefaultRoot, parts[2])
		}
		for _, c := range strings.Split(parts[1], ",") {
			if !v2 && c == controller {
				dir := filepath.Join(cgroups.DefaultRoot, controller, parts[2])
				if _, err := os.Stat(dir); err != nil { // co-mounted, e.g. cpu,cpuacct
					dir = filepath.Join(cgroups.DefaultRoot, parts[1], parts[2])
				}
				return dir
			}
		}
	}
	t.Fatalf("no %s cgroup for PID %d in %s", controller, pid, b)
	return ""
}

func read(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// cpuTime reads the cgroup's own CPU accounting.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	if testkit.Cgroup2() == nil {
		for _, l := range strings.Split(read(t, cgroupDir(t, pid, ""), "cpu.stat"), "\n") {
			if v, ok := strings.CutPrefix(l, "usage_usec "); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				require.NoError(t, err)
				return time.Duration(n) * time.Microsecond
			}
		}
		t.Fatal("no usage_usec in cpu.stat")
	}
	n, err := strconv.ParseInt(read(t, cgroupDir(t, pid, "cpuacct"), "cpuacct.usage"), 10, 64)
	require.NoError(t, err)
	return time.Duration(n)
}

func TestMemoryLimitBites(t *testing.T) {
	testkit.Root(t)
	mib := 24 + rand.IntN(40)
	r := testkit.Program(t, "", "run", "-m", fmt.Sprintf("%dm", mib), "--memory-swap", fmt.Sprintf("%dm", mib), "--",
		testkit.Self(t), "helper", "hog")
	assert.Equal(t, 137, r.Code, "killed by SIGKILL: %s", r.Stderr)
	assert.Equal(t, "ready\n", r.Stdout, "the hog never got its 4 GiB")

	// The same hog under a larger limit gets further: the limit decides.
	b := testkit.StartProgram(t, "run", "-m", "1g", "--", testkit.Self(t), "helper", "hog")
	require.Equal(t, "ready", b.Line())
	pid := b.InitPID()
	var usage uint64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if usage = cgroupMemory(t, pid); usage > uint64(2*mib)<<20 {
			break
		}
	}
	assert.Greater(t, usage, uint64(2*mib)<<20, "under -m 1g the hog passed twice the %d MiB that killed it before", mib)
	require.NoError(t, unix.Kill(b.InitPID(), unix.SIGKILL))
	assert.Equal(t, 137, b.Wait())
}

// cgroupMemory reads the memory a running container's cgroup uses.
func cgroupMemory(t *testing.T, pid int) uint64 {
	t.Helper()
	var s string
	if testkit.Cgroup2() == nil {
		s = read(t, cgroupDir(t, pid, ""), "memory.current")
	} else {
		s = read(t, cgroupDir(t, pid, "memory"), "memory.usage_in_bytes")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	require.NoError(t, err)
	return n
}

func TestOOMIsReported(t *testing.T) {
	testkit.Root(t)
	mib := 24 + rand.IntN(40)
	r := testkit.Program(t, "", "run", "-m", fmt.Sprintf("%dm", mib), "--memory-swap", fmt.Sprintf("%dm", mib), "--stats", "--",
		testkit.Self(t), "helper", "hog")
	assert.Equal(t, 137, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, fmt.Sprintf("OOM-killed: memory limit %dMiB", mib), "reported from the kernel's counter")
	assert.Contains(t, r.Stderr, "OOM kills 1")

	// A container killed by SIGKILL from outside is not reported as OOM.
	b := testkit.StartProgram(t, "run", "-m", fmt.Sprintf("%dm", mib), "--", "sleep", "60")
	b.WaitForExec("sleep")
	require.NoError(t, unix.Kill(b.InitPID(), unix.SIGKILL))
	assert.Equal(t, 137, b.Wait())
	assert.NotContains(t, b.Stderr(), "OOM")
}

// goInitRoom is how many tasks the container's init may hold while it is in
// the cgroup before it executes the command. The init is this Go program:
// its runtime starts threads of its own (sysmon, one per P at work, one for
// a blocking system call), and each thread is a task that pids.max counts.
// On v2 the init is cloned into the limited cgroup and dies of a thread the
// runtime cannot start; on v1 it is moved in with all its threads, and
// pids.peak counts them. Seen here: 5 or 6 with GOMAXPROCS 2.
func goInitRoom() int { return runtime.NumCPU() + 12 }

// forkLoop is a container command that fills its pids cgroup: a busybox
// shell whose child shell starts sleeps, printing "started" for each, until
// a fork is refused (the busybox shell then exits, status 2); the outer
// shell reports that and runs then. No Go program may do this: the cgroup
// would be full while the Go runtime still wants threads, and it aborts
// ("pthread_create failed"). A static busybox is one thread, and the
// same on every host, where /bin/sh may be bash, which retries a failed
// fork for seconds.
func forkLoop(t *testing.T, then string) []string {
	t.Helper()
	bb := testkit.Busybox(t)
	script := `"$0" sh -c 'i=0; while [ $i -lt 40 ]; do "$0" sleep 60 & echo started; i=$((i+1)); done' "$0"
echo "forker exited $?"
` + then
	return []string{bb, "sh", "-c", script, bb}
}

// countStarted counts forkLoop's "started" lines in out.
func countStarted(out string) int { return strings.Count(out, "started\n") }

func TestPidsLimit(t *testing.T) {
	testkit.Root(t)
	n := goInitRoom() + rand.IntN(10)
	b := testkit.StartProgram(t, append([]string{"run", "--pids-limit", strconv.Itoa(n), "--"},
		forkLoop(t, "echo ready; read x; exit 0")...)...)
	started := 0
	var l string
	for l = b.Line(); l == "started"; l = b.Line() {
		started++
	}
	// The two shells and n-2 sleeps are n tasks: the next fork was refused.
	assert.Equal(t, n-2, started, "the loop filled the cgroup to its limit %d and no further", n)
	assert.NotEqual(t, "forker exited 0", l, "a fork was refused")
	require.Equal(t, "ready", b.Line())
	dir := cgroupDir(t, b.InitPID(), "pids")
	assert.Equal(t, strconv.Itoa(n), read(t, dir, "pids.max"))
	assert.Equal(t, strconv.Itoa(n-1), read(t, dir, "pids.current"), "the outer shell and the sleeps; the forking shell is gone")
	if _, err := os.Stat(filepath.Join(dir, "pids.peak")); err == nil { // Linux 6.1
		assert.Equal(t, strconv.Itoa(n), read(t, dir, "pids.peak"))
	}
	events := read(t, dir, "pids.events")
	refused, ok := strings.CutPrefix(strings.Split(events, "\n")[0], "max ")
	require.True(t, ok, "pids.events: %s", events)
	assert.NotEqual(t, "0", refused, "the kernel counted the refused fork: %s", events)
	assert.Equal(t, 0, b.Wait())
}

// measure repeats a CPU-time measurement up to three times until it lands
// within tolerance of want. CPU time over wall time is a timing measurement:
// a host busy with other work (or a VM whose clock jumps) can spoil one
// attempt, while a limit that does not work spoils every attempt.
func measure(t *testing.T, want, tolerance float64, what string, f func() float64) {
	t.Helper()
	var got []float64
	for i := 0; i < 3; i++ {
		v := f()
		if math.Abs(v-want) <= tolerance {
			return
		}
		got = append(got, v)
	}
	t.Errorf("%s: want %.2f ± %.2f, measured %.2f in three attempts", what, want, tolerance, got)
}

func TestCPUsLimit(t *testing.T) {
	testkit.Root(t)
	// 2s of wall time at half a CPU is 1s of CPU, give or take 25%.
	measure(t, 1.0, 0.25, "CPU seconds of a 2s busy loop under --cpus 0.5", func() float64 {
		b := testkit.StartProgram(t, "run", "--cpus", "0.5", "--", testkit.Self(t), "helper", "busy", "2s")
		require.Equal(t, "ready", b.Line())
		require.Equal(t, "done true", b.Line())
		used := cpuTime(t, b.InitPID())
		assert.Equal(t, 0, b.Wait())
		return used.Seconds()
	})
}

func TestCpusetCpus(t *testing.T) {
	testkit.Root(t)
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	require.NoError(t, err)
	cpus, err := cgroups.ParseList(string(online))
	require.NoError(t, err)
	var ids []int
	for id := range cpus {
		ids = append(ids, id)
	}
	cpu := strconv.Itoa(ids[rand.IntN(len(ids))])
	r := testkit.Program(t, "", "run", "--cpuset-cpus", cpu, "--", testkit.Self(t), "helper", "status", "Cpus_allowed_list")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "Cpus_allowed_list "+cpu+"\n", r.Stdout)
}

func TestCPUSharesSplitOneCPU(t *testing.T) {
	testkit.Root(t)
	// Two busy containers on the same CPU: the scheduler splits that CPU by
	// their weights, 1024:512.
	start := func(shares string) *testkit.Box {
		b := testkit.StartProgram(t, "run", "--cpuset-cpus", "0", "--cpu-shares", shares, "--",
			testkit.Self(t), "helper", "busy", "3s", "wait-go")
		require.Equal(t, "ready", b.Line())
		return b
	}
	measure(t, 2.0, 0.5, "CPU split of shares 1024:512", func() float64 {
		big, small := start("1024"), start("512")
		big.Send("go")
		small.Send("go")
		require.Equal(t, "done true", big.Line())
		bigUsed := cpuTime(t, big.InitPID())
		smallUsed := cpuTime(t, small.InitPID())
		require.Equal(t, "done true", small.Line())
		assert.Equal(t, 0, big.Wait())
		assert.Equal(t, 0, small.Wait())
		return bigUsed.Seconds() / smallUsed.Seconds()
	})
}

func TestDeviceWriteBps(t *testing.T) {
	testkit.Root(t)
	dev := testkit.LoopDevice(t, 16<<20)
	// 3 MiB at 1 MiB/s takes about 3 seconds; unthrottled, milliseconds.
	r := testkit.Program(t, "", "run", "--device-write-bps", dev+":1mb", "--", testkit.Self(t), "helper", "dd", dev, "3")
	require.Equal(t, 0, r.Code, r.Stderr)
	secs, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimSpace(r.Stdout), "seconds "), 64)
	require.NoError(t, err, r.Stdout)
	rate := 3.0 / secs // MiB/s
	assert.Less(t, rate, 1.5, "the write was throttled to about 1 MiB/s, took %.2fs", secs)

	r = testkit.Program(t, "", "run", "--", testkit.Self(t), "helper", "dd", dev, "3")
	require.Equal(t, 0, r.Code, r.Stderr)
	secs, err = strconv.ParseFloat(strings.TrimPrefix(strings.TrimSpace(r.Stdout), "seconds "), 64)
	require.NoError(t, err)
	assert.Less(t, secs, 1.0, "without the limit the same write is fast")
}

func TestLimitsAreWrittenAndReadBack(t *testing.T) {
	testkit.Root(t)
	dev := testkit.LoopDevice(t, 8<<20)
	b := testkit.StartProgram(t, "run", "-m", "64m", "--memory-swap", "-1", "--memory-reservation", "16m",
		"-c", "512", "--cpu-period", "50000", "--cpu-quota", "25000", "--pids-limit", "77",
		"--device-read-bps", dev+":2mb", "--", "sh", "-c", "echo ready; read x; exit 0")
	require.Equal(t, "ready", b.Line())
	pid := b.InitPID()
	var maj, min uint32
	var st unix.Stat_t
	require.NoError(t, unix.Stat(dev, &st))
	maj, min = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	if testkit.Cgroup2() == nil {
		dir := cgroupDir(t, pid, "")
		assert.Equal(t, strconv.Itoa(64<<20), read(t, dir, "memory.max"))
		assert.Equal(t, strconv.Itoa(16<<20), read(t, dir, "memory.low"))
		if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
			assert.Equal(t, "max", read(t, dir, "memory.swap.max"))
		}
		assert.Equal(t, "20", read(t, dir, "cpu.weight"))
		assert.Equal(t, "25000 50000", read(t, dir, "cpu.max"))
		assert.Equal(t, "77", read(t, dir, "pids.max"))
		assert.Contains(t, read(t, dir, "io.max"), fmt.Sprintf("%d:%d rbps=%d", maj, min, 2<<20))
	} else {
		mem := cgroupDir(t, pid, "memory")
		assert.Equal(t, strconv.Itoa(64<<20), read(t, mem, "memory.limit_in_bytes"))
		assert.Equal(t, strconv.Itoa(16<<20), read(t, mem, "memory.soft_limit_in_bytes"))
		if _, err := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes")); err == nil {
			assert.Equal(t, strconv.FormatInt(math.MaxInt64/4096*4096, 10), read(t, mem, "memory.memsw.limit_in_bytes"), "-1: unlimited")
		}
		cpu := cgroupDir(t, pid, "cpu")
		assert.Equal(t, "512", read(t, cpu, "cpu.shares"))
		assert.Equal(t, "50000", read(t, cpu, "cpu.cfs_period_us"))
		assert.Equal(t, "25000", read(t, cpu, "cpu.cfs_quota_us"))
		assert.Equal(t, "77", read(t, cgroupDir(t, pid, "pids"), "pids.max"))
		assert.Equal(t, fmt.Sprintf("%d:%d %d", maj, min, 2<<20), read(t, cgroupDir(t, pid, "blkio"), "blkio.throttle.read_bps_device"))
	}
	assert.Equal(t, 0, b.Wait())
}

func TestBadValuesChangeNothing(t *testing.T) {
	testkit.Root(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-m", "1x"}, `invalid --memory "1x"`},
		{[]string{"--cpus", "-1"}, `invalid --cpus "-1"`},
		{[]string{"--cpuset-cpus", "99"}, `invalid --cpuset-cpus "99"`},
		{[]string{"--memory-swap", "1g"}, "set a memory limit"},
		{[]string{"--pids-limit", "many"}, `invalid argument "many"`},
		{[]string{"--device-write-bps", "/dev/null:1m"}, "not a block device"},
		{[]string{"--blkio-weight", "5"}, "--blkio-weight"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append(append([]string{"run"}, tt.args...), "--", "true")
			r := testkit.Program(t, "", args...)
			assert.Equal(t, 125, r.Code)
			assert.Contains(t, r.Stderr, tt.want)
		})
	}
}

func TestStats(t *testing.T) {
	testkit.Root(t)
	n := goInitRoom() + rand.IntN(10)
	r := testkit.Program(t, "", append([]string{"run", "--stats", "--pids-limit", strconv.Itoa(n), "--"}, forkLoop(t, "")...)...)
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, n-2, countStarted(r.Stdout), "the loop reached the limit: %s", r.Stdout)
	assert.Contains(t, r.Stderr, fmt.Sprintf("pids peak %d (limit %d)", n, n), "the peak comes from the cgroup's counter")
	assert.Contains(t, r.Stderr, "OOM kills 0")
}

func TestInterruptCleansUp(t *testing.T) {
	testkit.Root(t) // the residue check proves the cgroup is gone
	// With --init our Go init stays in the cgroup as the reaper: room for it.
	b := testkit.StartProgram(t, "run", "--init", "-m", "64m", "--pids-limit", strconv.Itoa(goInitRoom()+10), "--",
		"sh", "-c", "sleep 100 & sleep 100 & echo ready; wait")
	require.Equal(t, "ready", b.Line())
	require.NoError(t, b.Cmd.Process.Signal(unix.SIGINT))
	assert.Equal(t, 130, b.Wait(), "Ctrl-C reached the command through our init")
}

func TestDemo(t *testing.T) {
	testkit.Root(t)
	r := testkit.Program(t, "", "demo")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "OOM kills 1")
	assert.Contains(t, r.Stdout, "pids peak 10 (limit 10)")
}
