package rootfs

import (
	"errors"
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
		err := errors.New("the check on the thread ended early")
		defer func() { done <- err }() // also when a check ends the goroutine
		if err = unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
			return
		}
		if err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return
		}
		err = f()
	}()
	return <-done
}

func readOnly(path string) (bool, error) {
	var st unix.Statfs_t
	err := unix.Statfs(path, &st)
	return st.Flags&unix.ST_RDONLY != 0, err
}

// A read-only bind is made in two calls, the bind and a remount with
// MS_RDONLY. If the target is swapped in between (here: moved away, and a
// link to another mount of the root put in its place), the remount must
// not land on that other mount and leave the volume writable.
func TestRemountGoesToTheNewMount(t *testing.T) {
	testkit.Root(t)
	for _, swap := range []bool{false, true} {
		root, src := t.TempDir(), t.TempDir()
		for _, d := range []string{"vol", "other"} {
			require.NoError(t, os.Mkdir(filepath.Join(root, d), 0o755))
		}
		var volRO, otherRO bool
		var mountErr error
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
				// From the host's mount namespace, as another container
				// would (ours refuses to rename a mount point: EBUSY):
				// a new goroutine never runs on this locked thread.
				afterMount = func() {
					done := make(chan error)
					go func() {
						err := os.Rename(filepath.Join(root, "vol"), filepath.Join(root, "vol-away"))
						if err == nil {
							err = os.Symlink("other", filepath.Join(root, "vol"))
						}
						done <- err
					}()
					if err := <-done; err != nil {
						panic(err)
					}
				}
				defer func() { afterMount = nil }()
			}
			mountErr = mountInto(rd, specs.Mount{Destination: "/vol", Type: "bind", Source: src, Options: []string{"bind", "ro"}}, false)
			if volRO, err = readOnly(filepath.Join(root, map[bool]string{false: "vol", true: "vol-away"}[swap])); err != nil {
				return err
			}
			otherRO, err = readOnly(filepath.Join(root, "other"))
			return err
		})
		require.NoError(t, err)
		// After a swap the new mount sits at vol-away (a mount moves with
		// its directory), and the remount found it there: the directory
		// the kernel names for the descriptor we mounted on.
		require.NoError(t, mountErr, "swap %v", swap)
		assert.True(t, volRO, "swap %v: the bind is read-only", swap)
		assert.False(t, otherRO, "swap %v: the other mount stays writable", swap)
	}
}
