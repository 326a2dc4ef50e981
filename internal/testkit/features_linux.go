package testkit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

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
