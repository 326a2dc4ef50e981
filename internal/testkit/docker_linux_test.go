package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// busyboxTar writes the busybox root filesystem as a tar (what `docker
// import` takes) and returns its path.
func busyboxTar(t *testing.T) string {
	t.Helper()
	tarFile := filepath.Join(t.TempDir(), "busybox.tar")
	// RootfsCopy's "/" is 0755, as an image's is: a non-root user in the
	// container can look into it.
	out, err := exec.Command("tar", "-C", RootfsCopy(t), "-cf", tarFile, ".").CombinedOutput()
	require.NoError(t, err, "tar: %s", out)
	return tarFile
}

// mustCLI runs the docker client and requires it to succeed.
func mustCLI(t *testing.T, d *Docker, args ...string) string {
	t.Helper()
	res := d.CLI(t, args...)
	require.Equal(t, 0, res.Code, "docker %s: %s%s\ndockerd: %s", strings.Join(args, " "), res.Stdout, res.Stderr, d.Log())
	return res.Stdout
}

func TestHarnessDockerd(t *testing.T) {
	Root(t)
	d := Dockerd(t)
	t.Logf("dockerd up in %s", d.StartTime)
	assert.Equal(t, "20.10 20.10", strings.TrimSpace(mustCLI(t, d, "version", "--format",
		`{{slice .Client.Version 0 5}} {{slice .Server.Version 0 5}}`)), "Debian's client and daemon")
	assert.Equal(t, "vfs cgroupfs", strings.TrimSpace(mustCLI(t, d, "info", "--format", `{{.Driver}} {{.CgroupDriver}}`)))

	// An image made here: busybox imported, then saved, removed and
	// loaded back, then run without a network.
	mustCLI(t, d, "import", "--change", `CMD ["/bin/echo","hello from docker"]`, busyboxTar(t), "testkit-bb:1")
	archive := filepath.Join(t.TempDir(), "bb-save.tar")
	mustCLI(t, d, "save", "-o", archive, "testkit-bb:1")
	mustCLI(t, d, "rmi", "testkit-bb:1")
	assert.Contains(t, mustCLI(t, d, "load", "-i", archive), "Loaded image: testkit-bb:1")
	assert.Equal(t, "hello from docker\n", mustCLI(t, d, "run", "--rm", "--network", "none", "testkit-bb:1"))
	assert.Equal(t, "nobody\n", mustCLI(t, d, "run", "--rm", "--network", "none", "-u", "65534", "testkit-bb:1", "/bin/sh", "-c", "id -un"))
	mustCLI(t, d, "rmi", "testkit-bb:1")

	// The container's cgroups were under the parent of minibox's prefix.
	for _, c := range miniboxCgroups() {
		assert.True(t, strings.Contains(c, "/"+CgroupPrefix), c)
	}
}

// TestHarnessDockerdShared: a second test of the package gets the same daemon,
// and a container it leaves behind fails it (and is removed).
func TestHarnessDockerdShared(t *testing.T) {
	Root(t)
	d := Dockerd(t)
	require.True(t, inMain, "the package's tests run under Main")
	assert.Same(t, d, Dockerd(t))
	mustCLI(t, d, "import", busyboxTar(t), "testkit-bb:2")
	t.Cleanup(func() { d.CLI(t, "rmi", "testkit-bb:2") })

	f := &fakeTB{TB: t}
	mustCLI(t, d, "create", "--network", "none", "--name", "testkit-left", "testkit-bb:2", "/bin/true")
	d.removeContainers(f)
	require.Len(t, f.errs, 1, f.errs)
	assert.Contains(t, f.errs[0], "left behind: docker containers ")
	assert.Empty(t, strings.TrimSpace(mustCLI(t, d, "ps", "-aq")), "removed")
}

// TestHarnessDockerdStopLeavesNothing: a daemon of the test's own, with a
// container run in it, leaves nothing once stopped: no process (dockerd,
// containerd, shims), no mount, no cgroup, no link, no firewall change
// (Root's check), not its directory, and none of the fixed paths it makes.
func TestHarnessDockerdStopLeavesNothing(t *testing.T) {
	Root(t)
	Require(t, "docker.io", func() error { return executable(DockerdBinary) })
	var before []string
	for _, p := range dockerFixedPaths {
		if _, err := os.Lstat(p); err == nil {
			before = append(before, p)
		}
	}
	d, err := StartDockerd()
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Stop() }) // if the test fails half-way
	dir, pid, cpid := d.Dir, d.PID, d.ContainerdPID
	require.NotZero(t, cpid)
	t.Logf("dockerd up in %s", d.StartTime)
	mustCLI(t, d, "import", busyboxTar(t), "testkit-bb:3")
	assert.Equal(t, "hi\n", mustCLI(t, d, "run", "--rm", "--network", "none", "testkit-bb:3", "/bin/echo", "hi"))
	mustCLI(t, d, "run", "-d", "--stop-timeout", "1", "--network", "none", "--name", "testkit-running", "testkit-bb:3", "/bin/sleep", "60")
	// A container still running when the daemon stops is stopped with it
	// (--live-restore is off): SIGTERM, which sleep as PID 1 ignores, then
	// SIGKILL after its stop timeout.
	require.NoError(t, d.Stop())

	assert.True(t, gone(pid), "dockerd %d", pid)
	assert.True(t, gone(cpid) || zombie(cpid), "containerd %d", cpid)
	_, err = os.Lstat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, dir)
	var after []string
	for _, p := range dockerFixedPaths {
		if _, err := os.Lstat(p); err == nil {
			after = append(after, p)
		}
	}
	assert.Equal(t, before, after, "the fixed paths dockerd makes")
	require.NoError(t, d.Stop(), "a second Stop")
}

// zombie: pid has exited and waits for a parent that is not us to reap it.
func zombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	s := string(b)
	return strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z")
}
