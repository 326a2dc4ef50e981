package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/oci"
)

// NotRunningError is Docker's answer to a signal for a stopped container.
type NotRunningError struct{ Ref, ID string }

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("Cannot kill container: %s: Container %s is not running", e.Ref, e.ID)
}

// Kill sends a signal (a name such as KILL or SIGHUP, or a number) to the
// container's init through the runtime.
func (e *Engine) Kill(ref, sig string) error {
	if sig == "" {
		sig = "KILL"
	}
	s, err := oci.ParseSignal(sig)
	if err != nil {
		return fmt.Errorf("invalid signal: %s", sig)
	}
	in, err := e.Inspect(ref)
	if err != nil {
		return err
	}
	if in.State.Restarting {
		// Nothing runs to be signalled: the restart is canceled (restart.go).
		return e.stopRestarting(in, false)
	}
	if !in.State.Running {
		return &NotRunningError{ref, in.ID}
	}
	// A kill is no crash: the monitor must know before the exit. Noted
	// before the init is checked: one that just exited by itself is being
	// torn down by its monitor, which has yet to decide on a restart.
	if err := e.noteStopped(in.ID, cancelsRestart(in.Container, s)); err != nil {
		if errors.Is(err, ErrNotFound) { // exited and removed (--rm) meanwhile
			return &NotRunningError{ref, in.ID}
		}
		return err
	}
	if !alive(in.State.Pid, in.State.PidStart) {
		return &NotRunningError{ref, in.ID}
	}
	rt, err := e.loadRuntime(in.ID)
	if err != nil {
		return err
	}
	if err := e.runtimeFor(in.ID, rt).kill(in.ID, fmt.Sprint(int(s))); err != nil {
		// The runtime may have lost the container; the PID is checked.
		if !signalIf(in.State.Pid, in.State.PidStart, s) {
			return err
		}
	}
	return nil
}

// Stop sends the stop signal (the image's StopSignal, or SIGTERM), waits
// timeout seconds (default: the container's StopTimeout, else 10) and then
// sends SIGKILL. It returns when the container's exit is recorded.
func (e *Engine) Stop(ref string, timeout *int) error {
	in, err := e.Inspect(ref)
	if err != nil {
		return err
	}
	if in.State.Restarting {
		return e.stopRestarting(in, true)
	}
	if !in.State.Running {
		return nil
	}
	t := 10
	if in.Config.StopTimeout != nil {
		t = *in.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	sig := in.Config.StopSignal
	if sig == "" {
		sig = "TERM"
	}
	// A stop is never a crash, whatever the signal and even if the
	// container exits by itself meanwhile: no restart after it (Docker
	// cancels the restart before it signals).
	if err := e.noteStopped(in.ID, true); err != nil {
		if errors.Is(err, ErrNotFound) { // exited and removed (--rm) meanwhile
			return nil
		}
		return err
	}
	if t != 0 {
		if err := e.Kill(in.ID, sig); err != nil {
			var nr *NotRunningError
			if !errors.As(err, &nr) {
				return err
			}
		}
		if t < 0 {
			_, err := e.Wait(in.ID, "not-running")
			return err
		}
		if e.waitStopped(in.ID, time.Duration(t)*time.Second) {
			return nil
		}
	}
	if err := e.Kill(in.ID, "KILL"); err != nil {
		var nr *NotRunningError
		if !errors.As(err, &nr) {
			return err
		}
	}
	if !e.waitStopped(in.ID, 30*time.Second) {
		return fmt.Errorf("container %s did not stop after SIGKILL", short(in.ID))
	}
	return nil
}

// waitStopped polls until the container is recorded as not running.
func (e *Engine) waitStopped(id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		in, err := e.info(id)
		if err != nil || !in.State.Running {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Wait blocks until the container is not running (condition
// "not-running", the default) or has been removed ("removed") and returns
// its exit code. As in Docker, "not-running" is met at once by a container
// that is not running, a created one included (exit code 0, or that of a
// failed start).
func (e *Engine) Wait(ref, condition string) (int, error) {
	id, err := e.Lookup(ref)
	if err != nil {
		return -1, err
	}
	last := -1
	for {
		in, err := e.info(id)
		if errors.Is(err, ErrNotFound) {
			if last >= 0 {
				return last, nil
			}
			return -1, err
		}
		if err != nil {
			return -1, err
		}
		st := in.State
		done := !st.Running && !st.Restarting
		if done {
			last = st.ExitCode
			if condition != "removed" {
				return st.ExitCode, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart stops the container (if running) and starts it again.
func (e *Engine) Restart(ref string, timeout *int) error {
	if err := e.Stop(ref, timeout); err != nil {
		return err
	}
	id, err := e.Lookup(ref)
	if err != nil {
		return err
	}
	// Let the monitor of the last run finish before the next one starts.
	for range 500 {
		in, err := e.info(id)
		if err != nil {
			return err
		}
		if !alive(in.State.MonitorPid, in.State.MonitorStart) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e.Start(id, nil)
}

// Top lists the container's processes: every PID in its cgroup.
func (e *Engine) Top(ref string) ([]int, error) {
	in, err := e.Inspect(ref)
	if err != nil {
		return nil, err
	}
	if !in.State.Running {
		return nil, fmt.Errorf("container %s is not running", in.ID)
	}
	return cgroupPids(CgroupPath(in.ID))
}

// cgroupPids reads the PIDs in a container's cgroup (cgroup.procs).
func cgroupPids(path string) ([]int, error) {
	mgr, err := cgroups.New(cgroups.DefaultRoot, path)
	if err != nil {
		return nil, err
	}
	for _, d := range mgr.Dirs() {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		var pids []int
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return pids, nil
	}
	return nil, fmt.Errorf("read the processes of cgroup %s: not found", path)
}
