package oci

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
	"minibox/03-rootfs/hooks"
)

// gateFd is where create hands the init the exec FIFO's read end.
const gateFd = consoleFd - 1

// AwaitStart is the init's gate (an initproto.Gate): when create handed it
// the exec FIFO, it tells create that the setup worked and blocks until
// `start` writes into the FIFO. Then it runs the startContainer hooks and
// returns, and the init executes the program.
//
// Why poll(2) and not a blocking read: create opened the read end with
// O_NONBLOCK (a blocking open would wait for a writer), and a read(2) with
// no writer returns 0 at once. poll does wait: Linux reports a FIFO as
// hung up only after a writer has come and gone, not before any came.
func AwaitStart(spec *specs.Spec, ready func()) error {
	if !initproto.ExtraFile(gateFd) {
		return nil // not a create: run at once
	}
	unix.CloseOnExec(gateFd)
	ready()
	fds := []unix.PollFd{{Fd: gateFd, Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for start: poll the exec FIFO: %w", err)
		}
		break
	}
	var b [1]byte
	_, _ = unix.Read(gateFd, b[:])
	// gateFd stays open: its close at execve tells `start` that the
	// program runs (waitForExec).
	if spec.Hooks == nil || len(spec.Hooks.StartContainer) == 0 {
		return nil
	}
	st, err := hooks.InitState(specs.StateCreated)
	if err != nil {
		return err
	}
	return hooks.Run("startContainer", spec.Hooks.StartContainer, st)
}
