package rootfs_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

// hostMounts lists the mount points of the test's own mount namespace (the
// host's) that lie at or under dir.
func hostMounts(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var out []string
	for _, m := range parseMountinfo(string(b)) {
		if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
			out = append(out, m.point)
		}
	}
	return out
}

// An image whose mount targets are symbolic links to host paths (absolute,
// or climbing with ..) gets the mounts inside its own root: the links are
// read as the container will read them. The host's directory is untouched.
func TestMountTargetSymlinkToHost(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "host-file"), []byte("host"), 0o644))
	src := t.TempDir()
	word := randomName("bound")
	require.NoError(t, os.WriteFile(filepath.Join(src, "word"), []byte(word), 0o644))
	srcFile := filepath.Join(t.TempDir(), "single")
	require.NoError(t, os.WriteFile(srcFile, []byte(word), 0o644))
	require.NoError(t, os.Symlink(host, filepath.Join(root, "evil-abs")))
	require.NoError(t, os.Symlink(strings.Repeat("../", 16)+strings.TrimPrefix(host, "/"), filepath.Join(root, "evil-up")))
	before := testkit.Tree(t, host)

	spec := sh(root, `cat `+host+`/bound/word; echo; cat `+host+`/file; echo; ls `+host+`; cat /proc/self/mountinfo`)
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/evil-up", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
		specs.Mount{Destination: "/evil-abs/bound", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/evil-up/file", Type: "bind", Source: srcFile, Options: []string{"bind"}},
	)
	out := ok(t, spec)
	lines := strings.Split(out, "\n")
	require.GreaterOrEqual(t, len(lines), 2, out)
	assert.Equal(t, []string{word, word}, lines[:2], "the mounts are where the container reads the links to")
	assert.NotContains(t, out, "host-file", "the tmpfs is in the root, not over the host's directory")
	points := map[string]string{}
	for _, m := range parseMountinfo(out) {
		points[m.point] = m.fstype
	}
	assert.Equal(t, "tmpfs", points[host], "the container's own %s", host)
	assert.Contains(t, points, host+"/bound")
	assert.Contains(t, points, host+"/file")

	assert.Equal(t, before, testkit.Tree(t, host), "nothing was created in the host's directory")
	assert.Empty(t, hostMounts(t, host))
	assert.DirExists(t, filepath.Join(root, host), "the targets were created inside the root")
}

// While the container's mounts are made, someone who shares the image's
// directory (another container, through a volume) swaps a target directory
// for a symbolic link to a host path, again and again: the window between
// resolving a path and mounting on it is CVE-2021-30465. The host's path is
// never written to, whichever way each container's setup turns out.
func TestMountTargetSwapRace(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "host-file"), []byte("host"), 0o644))
	before := testkit.Tree(t, host)
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "word"), []byte("bound"), 0o644))

	dir, link := filepath.Join(root, "target"), filepath.Join(root, "target-swap")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Symlink(host, link))
	var stop atomic.Bool
	var wg sync.WaitGroup
	var swaps atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			// RENAME_EXCHANGE swaps the two names atomically: "target" is
			// always there, a directory one moment and a link the next.
			if err := unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("swap: %v", err)
				return
			}
			swaps.Add(1)
		}
	}()
	// Stopped before the directories are removed, even when a check fails.
	t.Cleanup(func() { stop.Store(true); wg.Wait() })

	succeeded := 0
	for i := 0; i < 20; i++ {
		spec := sh(root, `cat /target/bound/word`)
		spec.Mounts = append(spec.Mounts,
			specs.Mount{Destination: "/target/bound", Type: "bind", Source: src, Options: []string{"rbind"}},
			specs.Mount{Destination: "/target/tmp/deeper", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
		)
		// A container may fail (its target vanished, or the shell's path
		// went through the swapped link): only the host matters here.
		if r := run(t, spec); r.startErr == nil && r.code == 0 {
			succeeded++
		}
		require.Equal(t, before, testkit.Tree(t, host), "container %d wrote into the host's directory", i)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d of 20 containers ran, %d swaps", succeeded, swaps.Load())
	assert.Positive(t, swaps.Load())
	assert.Equal(t, before, testkit.Tree(t, host))
	assert.Empty(t, hostMounts(t, host))
}

// A mount made through a descriptor still fails with the target's name in
// the root, not with /proc/self/fd/N.
func TestMountErrorNamesTheTarget(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	spec := sh(root, "true")
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/bad", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=many"}})
	r := run(t, spec)
	require.Error(t, r.startErr)
	assert.Contains(t, r.startErr.Error(), "mount -t tmpfs 0 -o size=many tmpfs on "+filepath.Join(root, "bad")+": invalid argument")
	assert.NotContains(t, r.startErr.Error(), "/proc/self/fd")
}
