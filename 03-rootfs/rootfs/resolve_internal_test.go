package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

// bothResolvers runs f with openat2, and checks that without it (a kernel
// before 5.6, or a seccomp profile that refuses the call) the resolver fails
// closed: an error that says why, and nothing created.
func bothResolvers(t *testing.T, f func(t *testing.T)) {
	t.Run("openat2", func(t *testing.T) {
		if !haveOpenat2() {
			t.Fatal("openat2 does not work on this kernel (Linux 5.6+ has it)")
		}
		f(t)
	})
	t.Run("fallback", func(t *testing.T) {
		saved := useOpenat2
		useOpenat2 = false
		defer func() { useOpenat2 = saved }()
		root, host := t.TempDir(), t.TempDir()
		require.NoError(t, os.Symlink(host, filepath.Join(root, "abs")))
		before, hostBefore := testkit.Tree(t, root), testkit.Tree(t, host)
		rd, err := openRoot(root)
		require.NoError(t, err)
		defer rd.close()
		for _, create := range []leaf{mustExist, mkDir, mkFile} {
			f, err := rd.open("/abs/new/x", create)
			if f != nil {
				f.Close()
			}
			require.ErrorIs(t, err, errNoOpenat2)
			assert.Contains(t, err.Error(), "lacks openat2 (Linux 5.6+)")
		}
		assert.Equal(t, before, testkit.Tree(t, root), "nothing created")
		assert.Equal(t, hostBefore, testkit.Tree(t, host), "nothing created through the link")
	})
}

// A mount target that is (or passes through) a symbolic link to a host path
// is resolved inside the root: what is missing is created there, and the
// host path is never touched.
func TestOpenInRootStaysInside(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		host := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(host, "host-file"), []byte("host"), 0o644))
		before := testkit.Tree(t, host)
		for _, tc := range []struct {
			name, path string
			create     leaf
			want       string // inside the root
			file       bool
		}{
			{"absolute link", "/abs/sub", mkDir, host + "/sub", false},
			{"relative link that climbs", "/up/sub", mkDir, host + "/sub", false},
			{"a file through a link", "/abs/file", mkFile, host + "/file", true},
			{"the link itself", "/abs", mkDir, host, false},
			{"an existing host file's name", "/abs/host-file", mkFile, host + "/host-file", true},
			{"dangling link", "/dangling/x", mkDir, "/made/by/us/x", false},
			{"dot-dot after a new directory", "/a/b/../c", mkDir, "/a/c", false},
			{"dot-dot above the root", "/../../../etc/x", mkDir, "/etc/x", false},
			{"plain", "/plain/new/dir", mkDir, "/plain/new/dir", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				root := t.TempDir()
				for link, target := range map[string]string{
					"abs":      host,
					"up":       strings.Repeat("../", 12) + host,
					"dangling": "/made/by/us",
				} {
					require.NoError(t, os.Symlink(target, filepath.Join(root, link)))
				}
				rd, err := openRoot(root)
				require.NoError(t, err)
				defer rd.close()
				f, err := rd.open(tc.path, tc.create)
				require.NoError(t, err)
				defer f.Close()
				real, err := os.Readlink(procPath(f))
				require.NoError(t, err)
				assert.Equal(t, filepath.Join(root, tc.want), real, "the descriptor is inside the root")
				fi, err := os.Stat(real)
				require.NoError(t, err)
				assert.Equal(t, tc.file, fi.Mode().IsRegular(), "made as a file: %v", tc.file)
				assert.Equal(t, !tc.file, fi.IsDir())
				assert.Equal(t, before, testkit.Tree(t, host), "the host directory is untouched")
			})
		}
	})
}

func TestOpenInRootMustExist(t *testing.T) {
	bothResolvers(t, func(t *testing.T) {
		root := t.TempDir()
		rd, err := openRoot(root)
		require.NoError(t, err)
		defer rd.close()
		_, err = rd.open("/no/such", mustExist)
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.NoDirExists(t, filepath.Join(root, "no"), "mustExist creates nothing")
	})
}

func TestOpenInRootLoop(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.Symlink("loop", filepath.Join(root, "loop")))
	rd, err := openRoot(root)
	require.NoError(t, err)
	defer rd.close()
	_, err = rd.open("/loop/x", mkDir)
	assert.ErrorIs(t, err, unix.ELOOP)
}

// A directory the resolver may not search is "permission denied", not
// "does not exist": a caller that took it for missing would go on and
// create, or skip, something that is there.
func TestResolvePermissionError(t *testing.T) {
	testkit.Root(t)
	root := t.TempDir()
	locked := filepath.Join(root, "locked")
	require.NoError(t, os.MkdirAll(filepath.Join(locked, "inside"), 0o700))
	require.NoError(t, os.Chown(locked, 65534, 65534))

	bothResolvers(t, func(t *testing.T) {
		for _, create := range []leaf{mustExist, mkDir} {
			err := withoutDACOverride(t, func() error {
				rd, err := openRoot(root)
				if err != nil {
					return err
				}
				defer rd.close()
				f, err := rd.open("/locked/inside/x", create)
				if err == nil {
					f.Close()
				}
				return err
			})
			require.Error(t, err)
			assert.ErrorIs(t, err, fs.ErrPermission)
			assert.False(t, errors.Is(err, fs.ErrNotExist), "not 'does not exist': %v", err)
			assert.Contains(t, err.Error(), "permission denied")
		}
	})
	err := withoutDACOverride(t, func() error { _, err := InRoot(root, "/locked/inside/x"); return err })
	assert.ErrorIs(t, err, fs.ErrPermission, "InRoot says so as well")
	assert.NoDirExists(t, filepath.Join(locked, "inside", "x"))
}

// withoutDACOverride runs f on a thread of its own without the capabilities
// that let root ignore file permissions (capabilities are per thread). The
// thread is never given back to the Go scheduler: it ends with f.
func withoutDACOverride(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no Unlock: the thread dies with this goroutine
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- err
			return
		}
		data[0].Effective &^= 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_DAC_READ_SEARCH
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- err
			return
		}
		done <- f()
	}()
	return <-done
}
