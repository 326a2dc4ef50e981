package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/namespaces"
	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.MainProgram(m, main) }

func randomHostname() string { return fmt.Sprintf("box-%06x", rand.IntN(1<<24)) }

func TestRunIsolatesNamespaces(t *testing.T) {
	testkit.Root(t)
	name := randomHostname()
	hostBefore, err := os.Hostname()
	require.NoError(t, err)

	r := testkit.Program(t, "", "run", "--hostname", name, "--", testkit.Self(t), "helper", "ns")
	require.Equal(t, 0, r.Code, r.Stderr)
	got := testkit.Facts(r.Stdout)

	// Every namespace but the user namespace is new: its inode differs from ours.
	for _, ns := range []string{"pid", "uts", "ipc", "mnt", "net", "cgroup"} {
		ours, err := namespaces.NSInode("self", ns)
		require.NoError(t, err)
		require.Len(t, got[ns], 1, ns)
		assert.NotEqual(t, strconv.FormatUint(ours, 10), got[ns][0], "the container should have its own %s namespace", ns)
	}
	ours, err := namespaces.NSInode("self", "user")
	require.NoError(t, err)
	assert.Equal(t, []string{strconv.FormatUint(ours, 10)}, got["user"], "without --userns the user namespace is the host's")

	assert.Equal(t, []string{name}, got["hostname"])
	hostAfter, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, hostBefore, hostAfter, "the host's name must not change")

	assert.Equal(t, []string{"lo true"}, got["link"], "a new network namespace holds only lo, and the init brings it up")

	require.NotEmpty(t, got["cgroupfile"])
	for _, l := range got["cgroupfile"] {
		assert.True(t, strings.HasSuffix(l, ":/"), "in a new cgroup namespace our own cgroup is the root: %q", l)
	}
}

func TestRunPID1SeesOnlyItsProcesses(t *testing.T) {
	testkit.Root(t)
	r := testkit.Program(t, "", "run", "--", testkit.Self(t), "helper", "pids")
	require.Equal(t, 0, r.Code, r.Stderr)
	got := testkit.Facts(r.Stdout)
	assert.Equal(t, []string{"1"}, got["self"], "the command is PID 1")
	assert.Equal(t, []string{"1"}, got["pids"], "a fresh /proc lists only the container's own processes")
}

func TestRunMountsStayInside(t *testing.T) {
	testkit.Root(t)
	// Make a mount point that is *shared*, as / is on every systemd host:
	// a mount under it propagates to every copy, unless the container made
	// its mounts private first.
	dir, err := os.MkdirTemp("", "minibox-shared-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, unix.Mount(dir, dir, "", unix.MS_BIND, ""))
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	require.NoError(t, unix.Mount("", dir, "", unix.MS_SHARED, ""))
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))

	b := testkit.StartProgram(t, "run", "--", testkit.Self(t), "helper", "mount-tmpfs", sub)
	require.Equal(t, "ready", b.Line())
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(mounts), " "+sub+" ", "the container's mount must not appear on the host")
	assert.Equal(t, 0, b.Wait())
}

func TestRunExitStatus(t *testing.T) {
	testkit.Root(t)
	for _, code := range []int{0, 1 + rand.IntN(254), 1 + rand.IntN(254)} {
		t.Run(fmt.Sprintf("exit %d", code), func(t *testing.T) {
			r := testkit.Program(t, "", "run", "--", "sh", "-c", fmt.Sprintf("exit %d", code))
			assert.Equal(t, code, r.Code, r.Stderr)
		})
	}
	t.Run("killed by SIGKILL", func(t *testing.T) {
		b := testkit.StartProgram(t, "run", "--", testkit.Self(t), "helper", "wait-signal", "0")
		require.Equal(t, "ready", b.Line())
		require.NoError(t, unix.Kill(b.InitPID(), unix.SIGKILL))
		assert.Equal(t, 128+9, b.Wait())
	})
}

func TestRunStdio(t *testing.T) {
	testkit.Root(t)
	word := fmt.Sprintf("hello-%d", rand.Int64())
	r := testkit.Program(t, word+"\n", "run", "--", "sh", "-c", "read x; echo out-$x; echo err-$x >&2")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "out-"+word+"\n", r.Stdout)
	assert.Equal(t, "err-"+word+"\n", r.Stderr)
}

func TestRunForwardsSignals(t *testing.T) {
	testkit.Root(t)
	for _, sig := range []unix.Signal{unix.SIGTERM, unix.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			code := 1 + rand.IntN(100)
			// The probe is PID 1 but installs handlers, so the signal counts.
			b := testkit.StartProgram(t, "run", "--", testkit.Self(t), "helper", "wait-signal", strconv.Itoa(code))
			require.Equal(t, "ready", b.Line())
			require.NoError(t, b.Cmd.Process.Signal(sig))
			assert.Equal(t, fmt.Sprintf("got %d", int(sig)), b.Line())
			assert.Equal(t, code, b.Wait())
		})
	}
}

func TestInitForwardsSignals(t *testing.T) {
	testkit.Root(t)
	sigs := []unix.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM}
	sig := sigs[rand.IntN(len(sigs))]
	// Without --init, `sleep` as PID 1 would ignore the signal: the kernel
	// gives PID 1 no default actions. Under our init it is an ordinary
	// process and dies of it.
	b := testkit.StartProgram(t, "run", "--init", "--", "sh", "-c", "echo ready; exec sleep 60")
	require.Equal(t, "ready", b.Line())
	require.NoError(t, b.Cmd.Process.Signal(sig))
	assert.Equal(t, 128+int(sig), b.Wait(), "signal %v", sig)
}

func TestInitReapsZombies(t *testing.T) {
	testkit.Root(t)
	n := 2 + rand.IntN(3)
	code := rand.IntN(100)
	// Without --init the probe is PID 1 and never waits for the orphans
	// the kernel hands it: they stay zombies. This shows the problem.
	r := testkit.Program(t, "", "run", "--", testkit.Self(t), "helper", "zombies", strconv.Itoa(n), strconv.Itoa(code))
	require.Equal(t, code, r.Code, r.Stderr)
	assert.Equal(t, []string{strconv.Itoa(n)}, testkit.Facts(r.Stdout)["zombies"])

	r = testkit.Program(t, "", "run", "--init", "--", testkit.Self(t), "helper", "zombies", strconv.Itoa(n), strconv.Itoa(code))
	assert.Equal(t, []string{"0"}, testkit.Facts(r.Stdout)["zombies"], "our init must reap every orphan: %s", r.Stderr)
	assert.Equal(t, code, r.Code, "the init exits with the command's status: %s", r.Stderr)
}

func TestPID1ExitKillsTheNamespace(t *testing.T) {
	testkit.Root(t)
	b := testkit.StartProgram(t, "run", "--", "sh", "-c", "sleep 300 & sleep 300 & echo ready; read x; exit 0")
	require.Equal(t, "ready", b.Line())
	ns, err := namespaces.NSInode(strconv.Itoa(b.InitPID()), "pid")
	require.NoError(t, err)
	require.Len(t, testkit.InNamespace(ns), 3, "sh and two sleeps")
	assert.Equal(t, 0, b.Wait())
	assert.Empty(t, testkit.InNamespace(ns), "when PID 1 exits the kernel kills the rest of its namespace")
}

func TestRunNestsPIDNamespaces(t *testing.T) {
	testkit.Root(t)
	b := testkit.StartProgram(t, "run", "--", testkit.Self(t), "run", "--", "sh", "-c", "echo $$; read x; exit 0")
	require.Equal(t, "1", b.Line(), "the inner command is PID 1 of its own namespace")
	outer := b.InitPID() // the inner runtime, PID 1 of the outer namespace
	kids := testkit.Children(outer)
	require.Len(t, kids, 1)
	inner := kids[0] // the inner container's init

	hostNS, err := namespaces.NSInode("self", "pid")
	require.NoError(t, err)
	outerNS, err := namespaces.NSInode(strconv.Itoa(outer), "pid")
	require.NoError(t, err)
	innerNS, err := namespaces.NSInode(strconv.Itoa(inner), "pid")
	require.NoError(t, err)
	assert.NotEqual(t, hostNS, outerNS)
	assert.NotEqual(t, outerNS, innerNS)
	// The kernel keeps PID namespaces in a tree: ask it for the parents.
	assert.Equal(t, outerNS, parentNS(t, inner), "the inner namespace is a child of the outer one")
	assert.Equal(t, hostNS, parentNS(t, outer), "the outer namespace is a child of ours")
	assert.Equal(t, 0, b.Wait())
}

// parentNS asks the kernel for the parent of a process's PID namespace
// (ioctl NS_GET_PARENT, see ioctl_ns(2)).
func parentNS(t *testing.T, pid int) uint64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/pid", pid))
	require.NoError(t, err)
	defer f.Close()
	fd, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_PARENT)
	require.NoError(t, err)
	defer unix.Close(fd)
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	return st.Ino
}

func TestRunIsolatesIPC(t *testing.T) {
	testkit.Root(t)
	key := 0x4d420000 + rand.IntN(1<<16)
	id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })

	r := testkit.Program(t, "", "run", "--", testkit.Self(t), "helper", "ipc-has", strconv.Itoa(key))
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "false\n", r.Stdout, "the host's segment is invisible inside")

	key2 := key ^ 0x8000
	b := testkit.StartProgram(t, "run", "--", testkit.Self(t), "helper", "ipc-make", strconv.Itoa(key2))
	require.Equal(t, "ready", b.Line())
	_, err = unix.SysvShmGet(key2, 0, 0)
	assert.ErrorIs(t, err, unix.ENOENT, "the container's segment is invisible on the host")
	assert.Equal(t, 0, b.Wait())
}

func TestRunUserNamespace(t *testing.T) {
	testkit.Root(t)
	testkit.Require(t, "user namespaces", testkit.UserNS)
	hostID := 100000 + 65536*rand.IntN(100)
	dir, err := os.MkdirTemp("", "minibox-userns-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	file := filepath.Join(dir, "made-inside")
	// Root inside is an unprivileged user outside: it may not enter the
	// 0700 directory that go test builds into. Give it a copy of the probe.
	probe := filepath.Join(dir, "probe")
	testkit.CopyExecutable(t, testkit.Self(t), probe)

	r := testkit.Program(t, "", "run", "--userns="+strconv.Itoa(hostID), "--", probe, "helper", "touch", file)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "uid 0 gid 0 euid 0\n", r.Stdout, "inside, the file belongs to root")
	var st unix.Stat_t
	require.NoError(t, unix.Stat(file, &st))
	assert.Equal(t, uint32(hostID), st.Uid, "on the host it belongs to the mapped UID")
	assert.Equal(t, uint32(hostID), st.Gid)

	r = testkit.Program(t, "", "run", "--userns", "--", probe, "helper", "ns")
	require.Equal(t, 0, r.Code, r.Stderr)
	ours, err := namespaces.NSInode("self", "user")
	require.NoError(t, err)
	assert.NotEqual(t, []string{strconv.FormatUint(ours, 10)}, testkit.Facts(r.Stdout)["user"])
}

func TestRunErrors(t *testing.T) {
	testkit.Root(t)
	t.Run("no command", func(t *testing.T) {
		r := testkit.Program(t, "", "run")
		assert.Equal(t, 125, r.Code)
		assert.Contains(t, r.Stderr, "no command given")
		assert.Contains(t, r.Stderr, "Usage:")
	})
	t.Run("command not found", func(t *testing.T) {
		name := fmt.Sprintf("no-such-command-%d", rand.Int64())
		r := testkit.Program(t, "", "run", "--", name)
		assert.Equal(t, 127, r.Code)
		assert.Contains(t, r.Stderr, name+`": executable file not found in $PATH`)
	})
	t.Run("not executable", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "not-a-program")
		require.NoError(t, os.WriteFile(file, []byte("data"), 0o644))
		r := testkit.Program(t, "", "run", "--", file)
		assert.Equal(t, 126, r.Code)
		assert.Contains(t, r.Stderr, "permission denied")
	})
	t.Run("bad hostname", func(t *testing.T) {
		r := testkit.Program(t, "", "run", "--hostname", "bad_"+randomHostname(), "--", "true")
		assert.Equal(t, 125, r.Code)
		assert.Contains(t, r.Stderr, "invalid hostname")
	})
	t.Run("bad userns map", func(t *testing.T) {
		r := testkit.Program(t, "", "run", "--userns=1:2:3:4", "--", "true")
		assert.Equal(t, 125, r.Code)
		assert.Contains(t, r.Stderr, "invalid user namespace mapping")
	})
	t.Run("unknown flag", func(t *testing.T) {
		r := testkit.Program(t, "", "run", "--no-such-flag", "--", "true")
		assert.Equal(t, 125, r.Code)
		assert.Contains(t, r.Stderr, "unknown flag")
	})
	t.Run("not root", func(t *testing.T) {
		r := testkit.ProgramAsNobody(t, "run", "--", "true")
		assert.Equal(t, 125, r.Code)
		assert.Contains(t, r.Stderr, "needs root (try sudo)")
	})
}

func TestNSCommand(t *testing.T) {
	testkit.Root(t)
	command := []string{"sh", "-c", "echo ready; read x; exit 0"}
	b := testkit.StartProgram(t, append([]string{"run", "--"}, command...)...)
	require.Equal(t, "ready", b.Line())
	pid := b.InitPID()

	r := testkit.Program(t, "", "ns", strconv.Itoa(pid))
	require.Equal(t, 0, r.Code, r.Stderr)
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n")[1:] {
		f := strings.Fields(l)
		rows[f[0]] = f[1:]
	}
	for _, ns := range []string{"pid", "uts", "ipc", "mnt", "net", "cgroup", "user"} {
		ino, err := namespaces.NSInode(strconv.Itoa(pid), ns)
		require.NoError(t, err)
		require.Contains(t, rows, ns)
		assert.Equal(t, strconv.FormatUint(ino, 10), rows[ns][0], ns)
		shared := ns == "user"
		assert.Equal(t, shared, rows[ns][1] == "yes", "%s shared: %v", ns, rows[ns])
	}

	// The list, like lsns: a row per namespace, columns split by blanks
	// (their widths are the table's business).
	r = testkit.Program(t, "", "ns")
	require.Equal(t, 0, r.Code, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Equal(t, []string{"NS", "TYPE", "NPROCS", "PID", "COMMAND"}, strings.Fields(lines[0]))
	listed := map[string][]string{} // "TYPE INODE" -> NPROCS, lowest PID, command line
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 5, "a row of the list: %q", l)
		listed[f[1]+" "+f[0]] = []string{f[2], f[3], strings.Join(f[4:], " ")}
	}
	for _, ns := range []string{"pid", "uts", "ipc", "mnt", "net", "cgroup"} {
		ino, err := namespaces.NSInode(strconv.Itoa(pid), ns)
		require.NoError(t, err)
		assert.Equal(t, []string{"1", strconv.Itoa(pid), strings.Join(command, " ")}, listed[fmt.Sprintf("%s %d", ns, ino)],
			"the list shows the container's %s namespace %d, holding its one process: %s", ns, ino, r.Stdout)
	}
	assert.Equal(t, 0, b.Wait())

	r = testkit.Program(t, "", "ns", "0")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "invalid PID")
}

func TestDemo(t *testing.T) {
	testkit.Root(t)
	r := testkit.Program(t, "", "demo")
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, want := range []string{"my PID", "minibox-demo", "network links"} {
		assert.Contains(t, r.Stdout, want)
	}
}

func TestThirdInterruptKills(t *testing.T) {
	testkit.Root(t)
	// sleep as PID 1 has no handler: the first two SIGINTs are dropped by
	// the kernel, the third makes the runtime kill the container.
	b := testkit.StartProgram(t, "run", "--", "sleep", "60")
	b.WaitForExec("sleep")
	for i := 0; i < 3; i++ {
		require.NoError(t, b.Cmd.Process.Signal(unix.SIGINT))
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, 128+int(unix.SIGKILL), b.Wait())
	assert.Contains(t, b.Stderr(), "third interrupt")
}
