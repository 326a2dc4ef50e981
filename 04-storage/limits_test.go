package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadInputChangesNothing(t *testing.T) {
	b := newBox(t)
	for _, args := range [][]string{
		{"run", "--rm", "-v", "relative:dir:zz", "busybox", "true"},
		{"run", "--rm", "--tmpfs", "not-absolute", "busybox", "true"},
		{"run", "--rm", "--cap-add", "NO_SUCH_CAP", "busybox", "true"},
		{"run", "--rm", "-u", "nosuchuser", "busybox", "true"},
		{"run", "--rm", "--name", "bad/name", "busybox", "true"},
		{"create", "--pids-limit", "x", "busybox", "true"},
	} {
		r := b.run(args...)
		assert.Equal(t, 125, r.Code, "%v: %s", args, r.Stderr)
		assert.NotEmpty(t, r.Stderr, "%v", args)
	}
	assert.Empty(t, b.ok("ps", "-aq"))
	entries, err := os.ReadDir(filepath.Join(b.data, "teststorage"))
	if err == nil {
		assert.Empty(t, entries, "no layer left")
	}
	names, err := os.ReadDir(filepath.Join(b.data, "names"))
	require.NoError(t, err)
	assert.Empty(t, names, "no name left")
}

func TestReadOnlyRootAndTmpfs(t *testing.T) {
	b := newBox(t)
	r := b.run("run", "--rm", "--read-only", "busybox", "touch", "/x")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "Read-only file system")
	r = b.run("run", "--rm", "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /scratch/ok && grep ' /scratch ' /proc/mounts")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.True(t, strings.HasPrefix(r.Stdout, "tmpfs /scratch tmpfs"), r.Stdout)
}

// memoryCgroupFiles lists the files that hold a container's memory limit
// under cgroup v1 and v2 (one of them exists).
func memoryCgroupFiles(id string) []string {
	return []string{"/sys/fs/cgroup/memory/minibox/" + id + "/memory.limit_in_bytes", "/sys/fs/cgroup/minibox/" + id + "/memory.max"}
}

// memoryLimit reads the container's memory limit from the host's side.
func memoryLimit(t *testing.T, id string) string {
	for _, f := range memoryCgroupFiles(id) {
		if data, err := os.ReadFile(f); err == nil {
			return strings.TrimSpace(string(data))
		}
	}
	t.Fatalf("no memory cgroup for %s", id)
	return ""
}

func TestResourcesAndOOMUnderBothRuntimes(t *testing.T) {
	b := newBox(t)
	for _, rt := range []string{"minibox", "runc"} {
		t.Run(rt, func(t *testing.T) {
			id := b.ok("run", "-d", "--runtime", rt, "-m", "48m", "--pids-limit", "50", "busybox", "sleep", "1000")
			assert.Equal(t, "50331648", memoryLimit(t, id), rt)
			assert.Equal(t, "50331648", b.ok("inspect", "-f", "{{.HostConfig.Memory}}", id))
			files := memoryCgroupFiles(id)
			b.ok("rm", "-f", id)
			for _, f := range files {
				assert.NoDirExists(t, filepath.Dir(f), "rm removes the cgroup")
			}

			// A shell that keeps 200 MB in a variable under a 32 MB limit:
			// the OOM killer ends it, and inspect says so.
			id = b.ok("run", "-d", "--runtime", rt, "-m", "32m", "--memory-swap", "32m", "busybox", "sh", "-c", `x=$(head -c 200000000 /dev/zero | tr '\0' a); echo survived`)
			assert.Equal(t, "137", b.ok("wait", id), rt)
			assert.Equal(t, "true 137", b.ok("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", id), rt)
			b.ok("rm", id)
		})
	}
}
