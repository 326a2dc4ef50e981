package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Cgroup2 probes for a cgroup v2 (unified) hierarchy at /sys/fs/cgroup.
func Cgroup2() error {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return fmt.Errorf("statfs /sys/fs/cgroup: %w", err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return errors.New("/sys/fs/cgroup is not a cgroup v2 mount (this host uses cgroup v1)")
	}
	return nil
}

// Overlay probes for the overlay filesystem.
func Overlay() error {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), "\toverlay\n") {
		return errors.New("the kernel has no overlay filesystem (modprobe overlay)")
	}
	return nil
}

// UserNS probes whether a user namespace can be created, by starting
// /bin/true in one.
func UserNS() error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot create a user namespace: %w", err)
	}
	return nil
}

// CgroupVersionEnv names the cgroup layout a test run must have (1 or 2).
// The VM test sets 2, so that v2-only tests cannot quietly skip there.
const CgroupVersionEnv = "MINIBOX_CGROUP_VERSION"

// RequireCgroupVersion runs the rest of the test only on a host with cgroup
// layout v (1: v1 or hybrid, 2: unified). On another layout it skips: that
// is a different platform, not a missing feature, and the other layout's CI
// job runs it. When MINIBOX_CGROUP_VERSION says this run must be v, a
// mismatch fails instead.
func RequireCgroupVersion(t testing.TB, v int) {
	t.Helper()
	have := 1
	if Cgroup2() == nil {
		have = 2
	}
	if have == v {
		return
	}
	if want := os.Getenv(CgroupVersionEnv); want == strconv.Itoa(v) {
		t.Fatalf("this run must be on cgroup v%s (%s), but the host has v%d", want, CgroupVersionEnv, have)
	}
	t.Skipf("a cgroup v%d test; this host uses v%d (the other layout's run covers it)", v, have)
}

// LoopDevice attaches a new loop device backed by a sparse file of size
// bytes and returns its path; it is detached and the file removed when the
// test ends. It gives throttling tests a block device of their own, which
// they may overwrite at will.
func LoopDevice(t testing.TB, size int64) string {
	t.Helper()
	Require(t, "loop devices", func() error {
		_, err := os.Stat("/dev/loop-control")
		return err
	})
	f, err := os.CreateTemp("", "minibox-loop-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	defer f.Close()
	require.NoError(t, f.Truncate(size))
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	require.NoError(t, err)
	defer ctl.Close()
	for try := 0; try < 10; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		require.NoError(t, err, "find a free loop device")
		path := fmt.Sprintf("/dev/loop%d", n)
		if _, err := os.Stat(path); os.IsNotExist(err) {
			require.NoError(t, unix.Mknod(path, unix.S_IFBLK|0o600, int(unix.Mkdev(7, uint32(n)))))
			t.Cleanup(func() { _ = os.Remove(path) })
		}
		dev, err := os.OpenFile(path, os.O_RDWR, 0)
		require.NoError(t, err)
		err = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_FD, int(f.Fd()))
		if errors.Is(err, unix.EBUSY) {
			dev.Close() // taken between GET_FREE and SET_FD: try the next one
			continue
		}
		require.NoError(t, err, "attach %s", path)
		t.Cleanup(func() {
			_ = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
			dev.Close()
		})
		return path
	}
	t.Fatal("no free loop device after 10 tries")
	return ""
}
