package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewSince(t *testing.T) {
	before := Residue{Mounts: []string{"/", "/proc", "/proc"}, Links: []string{"lo"}}
	after := Residue{Mounts: []string{"/", "/proc", "/proc", "/proc", "/tmp/x"}, Links: []string{"lo", "veth0"},
		NetNS: []string{"n1"}, Cgroups: []string{"/sys/fs/cgroup/pids/minibox/c1"}, Processes: []string{"7 sleep"}}
	assert.Equal(t, []string{
		"mount: /proc", "mount: /tmp/x", "link: veth0", "netns: n1",
		"cgroup: /sys/fs/cgroup/pids/minibox/c1", "process: 7 sleep",
	}, after.NewSince(before))
	assert.Empty(t, before.NewSince(before))
	assert.Empty(t, before.NewSince(after), "what went away is not residue")
}

func TestSnapshotSeesAMount(t *testing.T) {
	RequireRoot(t)
	before, err := Snapshot()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"))
	mid, err := Snapshot()
	_ = unix.Unmount(dir, unix.MNT_DETACH)
	require.NoError(t, err)
	assert.Equal(t, []string{"mount: " + dir}, mid.NewSince(before))
	after, err := Snapshot()
	require.NoError(t, err)
	assert.Empty(t, after.NewSince(before))
}

func TestSnapshotSeesAChild(t *testing.T) {
	RequireRoot(t)
	before, err := Snapshot()
	require.NoError(t, err)
	cmd := exec.Command("sleep", "30")
	require.NoError(t, cmd.Start())
	mid, err := Snapshot()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	require.NoError(t, err)
	got := mid.NewSince(before)
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "sleep")
}

func TestBusyboxRootfs(t *testing.T) {
	RequireRoot(t)
	dir := BusyboxRootfs(t)
	assert.Equal(t, dir, BusyboxRootfs(t), "built once per run")
	for _, f := range []string{"bin/busybox", "bin/sh", "bin/ls", "etc/passwd", "etc/group", "proc", "dev", "tmp"} {
		_, err := os.Lstat(filepath.Join(dir, f))
		assert.NoError(t, err, f)
	}
	passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(passwd), "root:x:0:0:"))

	// It is a usable root: a shell runs in it with nothing from the host.
	cmd := exec.Command("/bin/sh", "-c", "echo $((6*7)); ls /bin/busybox; id -un")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin:/usr/bin:/sbin:/usr/sbin"}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, "42\n/bin/busybox\nroot\n", string(out))
}

func TestRequireRootIsStrictInCI(t *testing.T) {
	// Run ourselves as a child: not as root, and with the strict variable,
	// RequireRoot must fail rather than skip.
	if os.Getenv("TESTKIT_CHILD") == "1" {
		RequireRoot(t)
		return
	}
	RequireRoot(t) // the child is started as nobody, which needs root
	f, err := os.Open("/proc/self/exe")
	require.NoError(t, err)
	defer f.Close()
	for _, strict := range []string{"0", "1"} {
		cmd := exec.Command("/proc/self/fd/3", "-test.run=^TestRequireRootIsStrictInCI$", "-test.v")
		cmd.ExtraFiles = []*os.File{f}
		cmd.Dir = "/"
		cmd.Env = []string{"TESTKIT_CHILD=1", RequireRootEnv + "=" + strict}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if strict == "1" {
			assert.Error(t, err, string(out))
			assert.Contains(t, string(out), "--- FAIL")
		} else {
			assert.NoError(t, err, string(out))
			assert.Contains(t, string(out), "--- SKIP")
		}
	}
}

func TestTree(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "b", "c"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), nil, 0o600))
	want := []string{dir, filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "b", "c")}
	assert.Equal(t, want, Tree(t, dir))
}
