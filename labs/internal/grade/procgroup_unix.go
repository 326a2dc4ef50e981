//go:build unix

package grade

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the go command and the test binaries it starts into a
// process group of their own, so that a cancelled run kills them all rather
// than leaving a test binary (holding namespaces, mounts or cgroups) behind.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
