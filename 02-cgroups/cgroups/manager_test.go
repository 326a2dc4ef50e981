package cgroups

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/01-namespaces/initproto"
	"minibox/01-namespaces/namespaces"
	"minibox/internal/testkit"
)

// The package's test binary doubles as a container init and as the probes
// that run inside containers.
func TestMain(m *testing.M) {
	testkit.MainProgram(m, func() {
		if namespaces.IsInit() {
			namespaces.Init()
		}
	})
}

// newManager makes a Manager for a fresh random cgroup under the prefix
// and destroys it when the test ends.
func newManager(t *testing.T) Manager {
	t.Helper()
	testkit.RequireRoot(t)
	testkit.NoResidue(t)
	m, err := New("", fmt.Sprintf("test-%d", rand.Int64()))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, m.Destroy()) })
	return m
}

// readFile reads a file of the cgroup: dir is the controller's directory
// on v1, the one directory on v2.
func readFile(t *testing.T, m Manager, controller, file string) string {
	t.Helper()
	dir := m.Dirs()[0]
	if m.Version() == 1 {
		dir = m.(*v1).dir(controller)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestManagerWritesTheLimits(t *testing.T) {
	m := newManager(t)
	mem := int64(16+rand.IntN(100)) << 20
	res := int64(4+rand.IntN(10)) << 20
	shares := uint64(2 + rand.IntN(4000))
	quota, period := int64(10000+rand.IntN(90000)), uint64(100000)
	pids := int64(5 + rand.IntN(500))
	weight := uint16(10 + rand.IntN(990))
	cpu, mems := pickFromParent(t, m, "cpus"), pickFromParent(t, m, "mems")
	dev := testkit.LoopDevice(t, 8<<20)
	th, err := ParseThrottle(dev + ":" + strconv.Itoa(1+rand.IntN(9)) + "m")
	require.NoError(t, err)
	r := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: &mem, Reservation: &res},
		CPU:     &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period, Cpus: cpu, Mems: mems},
		Pids:    &specs.LinuxPids{Limit: &pids},
		BlockIO: &specs.LinuxBlockIO{Weight: &weight, ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{th}, ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{th}},
	}
	_, err = m.Create(r)
	require.NoError(t, err)
	devRate := fmt.Sprintf("%d:%d %d", th.Major, th.Minor, th.Rate)

	if m.Version() == 1 {
		assert.Equal(t, fmt.Sprint(mem), readFile(t, m, "memory", "memory.limit_in_bytes"))
		assert.Equal(t, fmt.Sprint(res), readFile(t, m, "memory", "memory.soft_limit_in_bytes"))
		assert.Equal(t, fmt.Sprint(shares), readFile(t, m, "cpu", "cpu.shares"))
		assert.Equal(t, fmt.Sprint(quota), readFile(t, m, "cpu", "cpu.cfs_quota_us"))
		assert.Equal(t, fmt.Sprint(period), readFile(t, m, "cpu", "cpu.cfs_period_us"))
		assert.Equal(t, cpu, readFile(t, m, "cpuset", "cpuset.cpus"))
		assert.Equal(t, mems, readFile(t, m, "cpuset", "cpuset.mems"))
		assert.Equal(t, fmt.Sprint(pids), readFile(t, m, "pids", "pids.max"))
		assert.Contains(t, readFile(t, m, "blkio", "blkio.throttle.write_bps_device"), devRate)
		assert.Contains(t, readFile(t, m, "blkio", "blkio.throttle.read_bps_device"), devRate)
		return
	}
	assert.Equal(t, fmt.Sprint(mem), readFile(t, m, "", "memory.max"))
	assert.Equal(t, fmt.Sprint(res), readFile(t, m, "", "memory.low"))
	assert.Equal(t, fmt.Sprint(SharesToWeight(shares)), readFile(t, m, "", "cpu.weight"))
	assert.Equal(t, fmt.Sprintf("%d %d", quota, period), readFile(t, m, "", "cpu.max"))
	assert.Equal(t, cpu, readFile(t, m, "", "cpuset.cpus"))
	assert.Equal(t, mems, readFile(t, m, "", "cpuset.mems"))
	assert.Equal(t, fmt.Sprint(pids), readFile(t, m, "", "pids.max"))
	assert.Contains(t, readFile(t, m, "", "io.max"), fmt.Sprintf("%d:%d rbps=%d wbps=%d", th.Major, th.Minor, th.Rate, th.Rate))
}

// pickFromParent picks one CPU (what "cpus") or memory node ("mems") at
// random among those that m's cgroup can be given: the effective set of
// its nearest existing ancestor, which the kernel requires a child's set
// to lie within (v1) or narrows it to (v2). Not "0 or 1": a machine may
// have one CPU, or a cpuset that leaves CPU 0 out.
func pickFromParent(t *testing.T, m Manager, what string) string {
	t.Helper()
	dir, file := m.Dirs()[0], "cpuset."+what+".effective"
	if m.Version() == 1 {
		dir, file = m.(*v1).dir("cpuset"), "cpuset.effective_"+what
		require.NotEmpty(t, dir, "the cpuset controller is mounted")
	}
	for {
		dir = filepath.Dir(dir)
		b, err := os.ReadFile(filepath.Join(dir, file))
		if os.IsNotExist(err) && dir != "/" {
			continue
		}
		require.NoError(t, err, "no ancestor of %s has %s", m.Path(), file)
		set, err := ParseList(string(b))
		require.NoError(t, err)
		var ids []int
		for id := range set {
			ids = append(ids, id)
		}
		require.NotEmpty(t, ids, "%s/%s is empty", dir, file)
		return strconv.Itoa(ids[rand.IntN(len(ids))])
	}
}

func TestManagerRejectsWhatTheKernelRejects(t *testing.T) {
	testkit.RequireRoot(t)
	testkit.NoResidue(t)
	m, err := New("", fmt.Sprintf("test-%d", rand.Int64()))
	require.NoError(t, err)
	bad := "4096" // a CPU that does not exist; Flags would have refused it
	_, err = m.Create(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: bad}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cpuset.cpus", "the error names the file")
	for _, d := range m.Dirs() {
		assert.NoDirExists(t, d, "a failed Create leaves nothing behind")
	}
}

func TestManagerDestroyKillsEverything(t *testing.T) {
	m := newManager(t)
	_, err := m.Create(nil)
	require.NoError(t, err)
	type proc struct {
		cmd  *exec.Cmd
		dead chan struct{} // closed once Wait returned
	}
	var procs []proc
	for i := 0; i < 2+rand.IntN(3); i++ {
		p := proc{exec.Command("sleep", "300"), make(chan struct{})}
		require.NoError(t, p.cmd.Start())
		go func() { _ = p.cmd.Wait(); close(p.dead) }()
		procs = append(procs, p)
		require.NoError(t, m.Join(p.cmd.Process.Pid))
	}
	// Whatever Destroy did, the test ends the processes it started (a
	// frozen v1 cgroup is thawed first, or they could not die) before the
	// manager's own cleanup runs, so that nothing stays behind.
	t.Cleanup(func() {
		if m.Version() == 1 {
			_ = writeFile(m.(*v1).dir("freezer"), "freezer.state", "THAWED")
		}
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
			select {
			case <-p.dead:
			case <-time.After(10 * time.Second):
				t.Errorf("could not end process %d", p.cmd.Process.Pid)
			}
		}
	})
	err = m.Destroy()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range procs {
		select {
		case <-p.dead:
			ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			assert.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "killed by SIGKILL: %v", ws)
		case <-time.After(time.Until(deadline)):
			t.Errorf("process %d still runs after Destroy", p.cmd.Process.Pid)
		}
	}
	require.NoError(t, err)
	for _, d := range m.Dirs() {
		assert.NoDirExists(t, d)
	}
}

// specFor is a container spec for args without a cgroup namespace: the
// command sees the real cgroup path.
func specFor(t *testing.T, args ...string) *specs.Spec {
	t.Helper()
	spec, err := namespaces.NewSpec(namespaces.Config{Args: args, Env: os.Environ()})
	require.NoError(t, err)
	var ns []specs.LinuxNamespace
	for _, n := range spec.Linux.Namespaces {
		if n.Type != specs.CgroupNamespace {
			ns = append(ns, n)
		}
	}
	spec.Linux.Namespaces = ns
	return spec
}

// runInCgroup runs args as a container whose init is in m's cgroup before
// Release, the way Run does it, and returns its exit status and output.
func runInCgroup(t *testing.T, m Manager, args ...string) (int, string) {
	t.Helper()
	out, err := os.CreateTemp("", "minibox-out-")
	require.NoError(t, err)
	defer os.Remove(out.Name())
	defer out.Close()
	code, err := runIn(m, specFor(t, args...), namespaces.Stdio{Stdout: out, Stderr: os.Stderr}, initproto.Hooks{})
	require.NoError(t, err)
	b, err := os.ReadFile(out.Name())
	require.NoError(t, err)
	return code, string(b)
}

// requireInCgroup checks a /proc/PID/cgroup text: the process is in m's
// cgroup in every hierarchy m has a directory in (v1), or in the one
// hierarchy (v2).
func requireInCgroup(t *testing.T, m Manager, procCgroup, who string) {
	t.Helper()
	paths := map[string]string{} // controller ("" on v2) -> path
	for _, l := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(l, ":", 3)
		require.Len(t, parts, 3, "a line of /proc/PID/cgroup: %q", l)
		for _, c := range strings.Split(parts[1], ",") {
			paths[c] = parts[2]
		}
	}
	if m.Version() == 2 {
		require.Equal(t, m.Path(), paths[""], "%s is in the cgroup: %s", who, procCgroup)
		return
	}
	n := 0
	for _, c := range v1Controllers {
		if m.(*v1).dir(c) != "" {
			n++
			require.Equal(t, m.Path(), paths[c], "%s is in the cgroup in the %s hierarchy: %s", who, c, procCgroup)
		}
	}
	require.NotZero(t, n, "m has a directory in some v1 hierarchy")
}

// TestRunJoinsBeforeTheCommand: the init is in the cgroup before it may run
// anything of the user's. StartIn returns with the init still waiting for
// Release, which is when the command is executed: so read its cgroup then,
// from the host. (The command's own look, after Release, proves nothing of
// the order: a join that came just after Release would usually still be in
// time for it.)
func TestRunJoinsBeforeTheCommand(t *testing.T) {
	m := newManager(t)
	_, err := m.Create(nil)
	require.NoError(t, err)
	out, err := os.CreateTemp(t.TempDir(), "out-")
	require.NoError(t, err)
	defer out.Close()
	c, err := StartIn(m, specFor(t, "cat", "/proc/self/cgroup"), namespaces.Stdio{Stdout: out, Stderr: os.Stderr})
	require.NoError(t, err)
	before, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.Pid))
	if err != nil {
		c.Kill()
		_, _ = c.Wait()
	}
	require.NoError(t, err)
	requireInCgroup(t, m, string(before), "the init, before Release")
	require.NoError(t, c.Release())
	code, err := c.Wait()
	require.NoError(t, err)
	require.Equal(t, 0, code)
	// And the command, which inherited it, sees the same.
	b, err := os.ReadFile(out.Name())
	require.NoError(t, err)
	requireInCgroup(t, m, string(b), "the command")
}

func TestManagerCountsOOMKills(t *testing.T) {
	m := newManager(t)
	limit := int64(16+rand.IntN(32)) << 20
	swap := limit // no swap: the hog cannot escape into it
	_, err := m.Create(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &swap}})
	require.NoError(t, err)
	before, err := m.OOMKills()
	require.NoError(t, err)
	assert.Zero(t, before)
	code, _ := runInCgroup(t, m, testkit.Self(t), "helper", "hog")
	assert.Equal(t, 137, code, "SIGKILL from the OOM killer")
	n, err := m.OOMKills()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n, "the kernel counted one OOM kill")
	st, err := m.Stats()
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.OOMKills)
	assert.Equal(t, uint64(limit), st.MemoryLimit)
	if st.HasMemPeak {
		assert.InDelta(t, float64(limit), float64(st.MemoryPeak), float64(limit)/10, "it reached its limit")
	}
}

func TestCloneIntoCgroup(t *testing.T) {
	testkit.RequireCgroupVersion(t, 2)
	m := newManager(t)
	_, err := m.Create(nil)
	require.NoError(t, err)
	dir, err := m.OpenDir()
	require.NoError(t, err)
	defer dir.Close()
	spec, err := namespaces.NewSpec(namespaces.Config{Args: []string{"true"}, Env: os.Environ()})
	require.NoError(t, err)
	c, err := namespaces.Start(spec, namespaces.Stdio{}, initproto.IntoCgroup(int(dir.Fd())))
	require.NoError(t, err)
	// Before Release the init has run none of the user's code, and it is
	// already in the cgroup: clone3 put it there.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.Pid))
	require.NoError(t, err)
	assert.Equal(t, "0::"+m.Path(), strings.TrimSpace(string(b)))
	require.NoError(t, c.Release())
	code, err := c.Wait()
	require.NoError(t, err)
	assert.Equal(t, 0, code)
}

func TestV1NeedsJoin(t *testing.T) {
	testkit.RequireCgroupVersion(t, 1)
	m := newManager(t)
	_, err := m.Create(nil)
	require.NoError(t, err)
	_, err = m.OpenDir()
	assert.ErrorIs(t, err, ErrNoCloneInto)
	// A new v1 cpuset starts empty; Create filled it from the parent, or
	// no process could join.
	assert.NotEmpty(t, readFile(t, m, "cpuset", "cpuset.cpus"))
	assert.NotEmpty(t, readFile(t, m, "cpuset", "cpuset.mems"))
}

func TestDetect(t *testing.T) {
	testkit.RequireRoot(t)
	v, err := Detect(DefaultRoot)
	require.NoError(t, err)
	want := 1
	if testkit.Cgroup2() == nil {
		want = 2
	}
	assert.Equal(t, want, v)
	_, err = Detect("/no/such/dir")
	assert.Error(t, err)
}
