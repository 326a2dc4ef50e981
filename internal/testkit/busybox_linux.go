package testkit

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"minibox/internal/busybox"
)

var (
	cacheMu  sync.Mutex
	cacheDir string // the per-run busybox rootfs, removed by Main
	inMain   bool
)

// Main runs the package's tests and then removes what testkit cached for the
// run. Use it from TestMain: `func TestMain(m *testing.M) { testkit.Main(m) }`.
func Main(m *testing.M) {
	inMain = true
	code := m.Run()
	if err := stopShared(); err != nil { // the package's dockerd, if a test started it
		fmt.Fprintln(os.Stderr, "testkit:", err)
		code = 1
	}
	cacheMu.Lock()
	if cacheDir != "" {
		_ = os.RemoveAll(cacheDir)
	}
	cacheMu.Unlock()
	os.Exit(code)
}

// BusyboxRootfs returns a directory holding a minimal root filesystem built
// from Debian's busybox-static: /bin/busybox, a link for every applet,
// /etc/passwd and /etc/group with root and nobody, and the empty directories
// a container mounts on. Tests must not modify it: copy it first. Under Main
// it is built once per test binary; otherwise once per test.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	if !inMain {
		dir := t.TempDir()
		if err := busybox.Build(dir); err != nil {
			skipOrFail(t, err.Error())
		}
		return dir
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if cacheDir == "" {
		dir, err := os.MkdirTemp("", "minibox-busybox-")
		if err != nil {
			t.Fatal(err)
		}
		if err := busybox.Build(dir); err != nil {
			_ = os.RemoveAll(dir)
			skipOrFail(t, err.Error())
		}
		cacheDir = dir
	}
	return cacheDir
}

// RootfsCopy returns a copy of BusyboxRootfs that the test may change at
// will; it is removed when the test ends. Its "/" is 0755, as an image's
// is: a non-root user in the container must be able to look into it.
func RootfsCopy(t testing.TB) string {
	t.Helper()
	src := BusyboxRootfs(t)
	dst := filepath.Join(t.TempDir(), "rootfs")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case fi.IsDir():
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
			return os.Chmod(to, fi.Mode().Perm()|fi.Mode()&fs.ModeSticky)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, fi.Mode().Perm())
		}
	})
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dst, 0o755))
	return dst
}

// Busybox is the path of the host's static busybox (Debian's
// busybox-static): a shell and tools in one single-threaded program, for a
// container command that must not be a Go program (a Go runtime starts
// threads, and under a tight pids limit a thread it cannot start aborts it).
func Busybox(t testing.TB) string {
	t.Helper()
	bb, err := busybox.Find()
	if err != nil {
		skipOrFail(t, err.Error())
	}
	return bb
}
