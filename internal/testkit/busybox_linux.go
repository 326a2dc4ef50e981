package testkit

import (
	"os"
	"sync"
	"testing"

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
