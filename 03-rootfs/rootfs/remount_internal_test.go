package rootfs

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

// inMountNS runs f on a thread of its own in a new, private mount
// namespace: its mounts vanish with the thread, which never returns to Go.
func inMountNS(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread ends with this goroutine
		if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
			done <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			done <- err
			return
		}
		done <- f()
	}()
	return <-done
}

func readOnly(t *testing.T, path string) bool {
	t.Helper()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(path, &st))
	return st.Flags&unix.ST_RDONLY != 0
}

// A read-only bind is made in two calls, the bind and a remount with
// MS_RDONLY. If the target is swapped in between (here: for a link to
// another mount in the root), the remount must not land on that other
// mount, leaving the volume writable: setup fails instead.
func TestRemountGoesToTheNewMount(t *testing.T) {
	testkit.Root(t)
	for _, swap := range []bool{false, true} {
		root, src := t.TempDir(), t.TempDir()
		for _, d := range []string{"vol", "other"} {
			require.NoError(t, os.Mkdir(filepath.Join(root, d), 0o755))
		}
		var volRO, otherRO bool
		err := inMountNS(t, func() error {
			if err := unix.Mount("tmpfs", filepath.Join(root, "other"), "tmpfs", 0, "size=1m"); err != nil {
				return err
			}
			rd, err := openRoot(root)
			if err != nil {
				return err
			}
			defer rd.close()
			if swap {
				afterMount = func() {
					require.NoError(t, os.Rename(filepath.Join(root, "vol"), filepath.Join(root, "vol-away")))
					require.NoError(t, os.Symlink("other", filepath.Join(root, "vol")))
				}
				defer func() { afterMount = nil }()
			}
			err = mountInto(rd, specs.Mount{Destination: "/vol", Type: "bind", Source: src, Options: []string{"bind", "ro"}}, false)
			volRO = readOnly(t, filepath.Join(root, map[bool]string{false: "vol", true: "vol-away"}[swap]))
			otherRO = readOnly(t, filepath.Join(root, "other"))
			return err
		})
		assert.False(t, otherRO, "swap %v: the other mount stays writable", swap)
		if !swap {
			require.NoError(t, err)
			assert.True(t, volRO, "the bind is read-only")
			continue
		}
		require.Error(t, err)
		assert.Contains(t, err.Error(), "was it swapped?")
	}
}
