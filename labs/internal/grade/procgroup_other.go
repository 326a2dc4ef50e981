//go:build !unix

package grade

import "os/exec"

// setProcessGroup does nothing where there are no process groups; a
// cancelled run kills the go command only.
func setProcessGroup(*exec.Cmd) {}
