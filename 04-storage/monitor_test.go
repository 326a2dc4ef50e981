package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/04-storage/engine"
	"minibox/internal/filelock"
)

// The monitor's restart path, which lesson 07's restart policies drive.
// Lesson 04 never restarts, so these tests restart through
// engine.TestDecide, which every process of this test binary sets when its
// environment has restartOnceEnv: the monitor is this binary re-executed,
// and it inherits the environment from the CLI the test runs.
const restartOnceEnv = "MINIBOX_TEST_RESTART_ONCE"

func init() {
	if os.Getenv(restartOnceEnv) == "1" {
		engine.TestDecide = func(c *engine.Container, st engine.State) engine.Decision {
			return engine.Decision{Restart: c.RestartCount == 0}
		}
	}
}

// gatedSh is a container's command that prints "run" and then waits for
// the file go in the bind-mounted directory /g before it exits 3: the test
// decides when the first run ends, and a restart exits at once.
var gatedSh = []string{"sh", "-c", "echo run; until [ -e /g/go ]; do sleep 0.05; done; exit 3"}

func gatedRun(t *testing.T, b *box, name string) (id, gate string) {
	t.Helper()
	gate = t.TempDir()
	args := append([]string{"run", "-d", "--name", name, "-v", gate + ":/g", "busybox"}, gatedSh...)
	return b.ok(args...), gate
}

// waitEnd waits for the box's monitors to end: `wait` would return during
// a restart, when the state says created (what the state says between a
// restart's decision and its start is lesson 07's).
func waitEnd(t *testing.T, b *box) {
	t.Helper()
	waitFor(t, "the monitor's end", func() bool { return len(b.monitors()) == 0 })
}

// A restart uses the config as it is when it restarts, read under the
// container's lock, not the one the monitor read when it started: a rename
// while the container ran once came back undone by the restart (and its
// --rm or rm then released the old name and left the new one).
func TestRestartRereadsTheConfig(t *testing.T) {
	b := newBox(t)
	t.Setenv(restartOnceEnv, "1")
	old, renamed := random("old"), random("new")
	id, gate := gatedRun(t, b, old)
	b.ok("rename", old, renamed)
	require.NoError(t, os.WriteFile(filepath.Join(gate, "go"), nil, 0o644))
	waitEnd(t, b)
	assert.Equal(t, "/"+renamed+" 1 exited 3", b.ok("inspect", "-f", "{{.Name}} {{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}", id))
	assert.Equal(t, "run\nrun", b.ok("logs", id), "it ran twice")
	assert.Empty(t, b.state(id).Error)
	b.ok("rm", renamed)
	ents, err := os.ReadDir(filepath.Join(b.data, "names"))
	require.NoError(t, err)
	assert.Empty(t, ents, "rm released the name the container had")
}

// A restart that cannot be made, here because the container's layer lost
// its layers.json while the container ran (the bundle cannot be written),
// ends the container with that error, exit code 125, as a failed runtime
// does; it once went on with the old bundle.
func TestRestartThatCannotWriteTheBundleEndsTheContainer(t *testing.T) {
	b := newBox(t)
	t.Setenv(restartOnceEnv, "1")
	id, gate := gatedRun(t, b, random("broken"))
	found, err := filepath.Glob(filepath.Join(b.data, "storage", "*", id, "layers.json"))
	require.NoError(t, err)
	require.Len(t, found, 1, "the container's snapshot")
	layers := found[0]
	saved, err := os.ReadFile(layers)
	require.NoError(t, err)
	require.NoError(t, os.Remove(layers))
	require.NoError(t, os.WriteFile(filepath.Join(gate, "go"), nil, 0o644))
	waitEnd(t, b)
	st := b.state(id)
	assert.Equal(t, "exited", st.Status)
	assert.Equal(t, 125, st.ExitCode)
	assert.False(t, st.Running)
	assert.Contains(t, st.Error, "layers.json")
	assert.Equal(t, "1", b.ok("inspect", "-f", "{{.RestartCount}}", id), "the config was saved before the bundle failed")
	r := b.run("logs", id)
	assert.Equal(t, "run\n", r.Stdout, "it never ran again")
	assert.Contains(t, r.Stderr, "minibox: restart failed: ")
	assert.Contains(t, r.Stderr, "layers.json")
	// The layer made whole again, rm removes it as any other.
	require.NoError(t, os.WriteFile(layers, saved, 0o600))
	b.ok("rm", id)
}

// The teardown after the container's exit holds the container's lock, as
// every other change of a container does: lesson 05's `network connect`
// and `disconnect` work on the namespace under it. While the test holds the
// lock, the monitor waits (the kernel lists it in /proc/locks) with the
// container's root still mounted; it once unmounted first and took the lock
// only to record the exit.
func TestTeardownAfterTheExitWaitsForTheLock(t *testing.T) {
	b := newBox(t)
	id, gate := gatedRun(t, b, random("locked"))
	monitor := b.state(id).MonitorPid
	require.NotZero(t, monitor)
	mnt := filepath.Join(b.data, "storage", "mnt", id)
	require.True(t, mounted(t, mnt), "the running container's root is mounted")

	lockPath := filepath.Join(b.data, "containers", id, "lock")
	l, err := filelock.Exclusive(lockPath)
	require.NoError(t, err)
	defer l.Unlock()
	var fi unix.Stat_t
	require.NoError(t, unix.Stat(lockPath, &fi))
	require.NoError(t, os.WriteFile(filepath.Join(gate, "go"), nil, 0o644))
	waitFor(t, "the monitor to wait for the container's lock", func() bool { return flockWaiter(t, monitor, fi.Ino) })
	assert.True(t, mounted(t, mnt), "no teardown without the lock")
	assert.Equal(t, "running", b.state(id).Status)

	l.Unlock()
	assert.Equal(t, "3", b.ok("wait", id))
	b.noMonitors()
	assert.False(t, mounted(t, mnt), "torn down once it had the lock")
	b.ok("rm", id)
}

// mounted says whether path is a mount point in our mount namespace.
func mounted(t *testing.T, path string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT ...; spaces in a mount point
		// are \040, and ours have none.
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// flockWaiter says whether process pid waits for a flock on the file with
// inode ino: /proc/locks lists a blocked request as "N: -> FLOCK ADVISORY
// WRITE PID MAJ:MIN:INODE ...".
func flockWaiter(t *testing.T, pid int, ino uint64) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/locks")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 || f[1] != "->" || f[2] != "FLOCK" {
			continue
		}
		if f[5] == strconv.Itoa(pid) && strings.HasSuffix(f[6], ":"+strconv.FormatUint(ino, 10)) {
			return true
		}
	}
	return false
}
