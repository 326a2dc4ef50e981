package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"minibox/03-rootfs/oci"
)

// Restart policies (lesson 07). Docker's daemon restarts a container that
// exited when its policy says so; minibox has no daemon, so the container's
// monitor does it (it is the one process that waits for the container), and
// `minibox system boot` does what dockerd does when it starts (Boot).
//
// Docker's rules (moby's restartmanager):
//
//   - no: never. always: whatever the exit. on-failure[:N]: only for an exit
//     code other than 0, and at most N restarts (0: no limit).
//     unless-stopped: as always, but a container stopped by hand stays
//     stopped, even at the next boot.
//   - Between the exit and the restart the monitor waits: 100 ms, then twice
//     as long after each restart, at most a minute; a run that lasted 10 s or
//     more starts the count again at 100 ms. A crash loop costs little.
//   - `stop` and `kill` are no crash: they set the container's
//     HasBeenManuallyStopped, and (kill with the stop signal or SIGKILL, as
//     stop does) cancel the restart of the current run for every policy.
//     `start` clears both.

// Restart policy names, as Docker spells them.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartOnFailure     = "on-failure"
	RestartUnlessStopped = "unless-stopped"
)

// Docker's restart delays.
const (
	RestartFirstDelay = 100 * time.Millisecond
	RestartMaxDelay   = time.Minute
	// RestartResetAfter is how long a run must last for the delay to go
	// back to RestartFirstDelay.
	RestartResetAfter = 10 * time.Second
)

// IsNone says whether the policy never restarts.
func (p RestartPolicy) IsNone() bool { return p.Name == "" || p.Name == RestartNo }

// ValidateRestartPolicy is the daemon's check of a policy (moby's
// container.ValidateRestartPolicy), with its words.
func ValidateRestartPolicy(p RestartPolicy) error {
	switch p.Name {
	case RestartAlways, RestartUnlessStopped, RestartNo:
		if p.MaximumRetryCount != 0 {
			msg := "invalid restart policy: maximum retry count can only be used with 'on-failure'"
			if p.MaximumRetryCount < 0 {
				msg += " and cannot be negative"
			}
			return errors.New(msg)
		}
	case RestartOnFailure:
		if p.MaximumRetryCount < 0 {
			return errors.New("invalid restart policy: maximum retry count cannot be negative")
		}
	case "":
	default:
		return fmt.Errorf("invalid restart policy: unknown policy '%s'; use one of '%s', '%s', '%s', or '%s'",
			p.Name, RestartNo, RestartAlways, RestartOnFailure, RestartUnlessStopped)
	}
	return nil
}

// validateHostRestart is what Create checks of a host config's policy: the
// policy itself and, as Docker's daemon refuses it, a policy with --rm.
func validateHostRestart(h HostConfig) error {
	if err := ValidateRestartPolicy(h.RestartPolicy); err != nil {
		return err
	}
	if h.AutoRemove && !h.RestartPolicy.IsNone() {
		return errors.New("can't create 'AutoRemove' container with restart policy")
	}
	return nil
}

// DecideRestart is the restart decision after a container's exit: whether
// to restart it and how long to wait first. restartCount is how often it
// was restarted since its last start by hand, manuallyStopped its
// HasBeenManuallyStopped, ranFor how long this run lasted and lastDelay the
// delay before this run (0 for none). Decision.Delay is the delay to wait
// now, and it is what the caller passes as lastDelay after the next run;
// it grows even when the answer is no, as Docker's does.
func DecideRestart(p RestartPolicy, exitCode, restartCount int, manuallyStopped bool, ranFor, lastDelay time.Duration) Decision {
	// LAB 07.3 BEGIN: Docker's restart decision: the policy, on-failure's count, the doubling delay
	if p.IsNone() {
		return Decision{}
	}
	delay := lastDelay
	if ranFor >= RestartResetAfter {
		delay = 0 // it ran long enough: no crash loop
	}
	switch {
	case delay <= 0:
		delay = RestartFirstDelay
	case delay < RestartMaxDelay:
		delay *= 2
	}
	delay = min(delay, RestartMaxDelay)
	restart := false
	switch p.Name {
	case RestartAlways:
		restart = true
	case RestartUnlessStopped:
		restart = !manuallyStopped
	case RestartOnFailure:
		if p.MaximumRetryCount == 0 || restartCount < p.MaximumRetryCount {
			restart = exitCode != 0
		}
	}
	return Decision{Restart: restart, Delay: delay}
	// LAB 07.3 END
	// LAB 07.3 STUB: lab.WarnOnce("07.3") // never restarts (lesson 04's monitor), whatever the policy
	// LAB 07.3 STUB: _, _, _, _, _, _ = p, exitCode, restartCount, manuallyStopped, ranFor, lastDelay
	// LAB 07.3 STUB: return Decision{}
}

// restartDecision is the monitor's decide: the container's policy and
// counts (m.c was read again after the exit), unless a stop, a kill or an
// rm -f canceled the restart.
func (m *monitor) restartDecision(st State) Decision {
	if m.e.restartCanceled(m.id) {
		return Decision{}
	}
	d := DecideRestart(m.c.HostConfig.RestartPolicy, st.ExitCode, m.c.RestartCount,
		m.c.HasBeenManuallyStopped, st.FinishedAt.Sub(st.StartedAt), m.delay)
	m.delay = d.Delay
	return d
}

// backoff is the monitor's wait between an exit and the restart that
// decide asked for. The caller holds m.lock; backoff records the restart
// (RestartCount, and the state "restarting" that ps shows as "Restarting
// (CODE) N seconds ago"), lets the lock go for the wait, so that the
// commands that change a stopped container work meanwhile, and takes it
// again. It returns done with the monitor's exit code when there is to be
// no restart after all: the container was stopped, killed or removed
// during the wait, or the restart could not be recorded. Otherwise m.lock
// is held and m.c is the config as it is now.
func (m *monitor) backoff(logw *logWriter, st State, delay time.Duration) (done bool, code int) {
	m.c.RestartCount++
	if err := m.e.saveConfig(m.c); err != nil {
		return true, m.restartFailed(logw, err)
	}
	st.Status, st.Running, st.Restarting, st.Pid, st.PidStart = "restarting", false, true, 0, 0
	st.MonitorPid = os.Getpid()
	st.MonitorStart, _ = startTime(os.Getpid())
	if err := m.e.saveState(m.id, st); err != nil {
		return true, m.restartFailed(logw, err)
	}
	m.lock.unlock()
	canceled := false
	// Polled, as the monitor learns of everything else through the files:
	// a stop or rm -f during the wait ends it within a tick.
	for deadline := time.Now().Add(delay); ; {
		if m.e.restartCanceled(m.id) {
			canceled = true
			break
		}
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
	var err error
	if m.lock, err = m.e.lock(m.id); err != nil {
		// Removed meanwhile (rm -f removes itself what is left).
		if !errors.Is(err, ErrNotFound) {
			logw.write("stderr", []byte("minibox: restart failed: "+err.Error()+"\n"))
			m.hub.exit(st.ExitCode)
			return true, 1
		}
		m.hub.exit(st.ExitCode)
		return true, 0
	}
	if canceled || m.e.restartCanceled(m.id) {
		st.Restarting = false
		m.finish(st)
		return true, 0
	}
	c, err := m.e.load(m.id)
	if err != nil {
		return true, m.restartFailed(logw, err)
	}
	m.c = c
	return false, 0
}

// The restart of the current run is canceled by a file in the container's
// exec directory, as Docker's restart manager is canceled in the daemon's
// memory: it goes with the next start by hand, and with a reboot (the exec
// root is on a tmpfs).
func (e *Engine) cancelFile(id string) string {
	return filepath.Join(e.execDir(id), "restart-canceled")
}

func (e *Engine) restartCanceled(id string) bool {
	if _, err := os.Stat(e.cancelFile(id)); err == nil {
		return true
	}
	// Removed (rm -f): nothing left to restart.
	_, err := os.Stat(e.dataDir(id))
	return errors.Is(err, os.ErrNotExist)
}

// noteStopped is what a stop or kill tells the monitor, before the signal
// is sent (moby's killWithSignal): the container has been stopped by hand,
// and, when cancel, its current run is not to be restarted.
func (e *Engine) noteStopped(id string, cancel bool) error {
	if cancel {
		if err := e.cancelRestart(id); err != nil {
			return err
		}
	}
	l, err := e.lock(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	c, err := e.load(id)
	if err != nil {
		return err
	}
	if c.HasBeenManuallyStopped {
		return nil
	}
	c.HasBeenManuallyStopped = true
	return e.saveConfig(c)
}

// cancelRestart cancels the restart of the container's current run (rm
// -f kills it for good).
func (e *Engine) cancelRestart(id string) error {
	if err := os.MkdirAll(e.execDir(id), 0o700); err != nil {
		return fmt.Errorf("cancel the restart: %w", err)
	}
	if err := os.WriteFile(e.cancelFile(id), nil, 0o600); err != nil {
		return fmt.Errorf("cancel the restart: %w", err)
	}
	return nil
}

// cancelsRestart says whether a kill with sig cancels the restart, as
// Docker's does: SIGKILL and the container's stop signal do; any signal
// does when the container has no stop signal of its own.
func cancelsRestart(c *Container, sig unix.Signal) bool {
	if c.Config.StopSignal == "" || sig == unix.SIGKILL {
		return true
	}
	s, err := oci.ParseSignal(c.Config.StopSignal)
	return err != nil || s == sig
}

// stopRestarting ends a container that waits to be restarted (stop, kill
// or rm -f during the delay): its restart is canceled, and the monitor
// records the end within a tick; wait says to wait for that.
func (e *Engine) stopRestarting(in *Info, wait bool) error {
	if err := e.noteStopped(in.ID, true); err != nil {
		return err
	}
	if !wait {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		now, err := e.info(in.ID)
		if err != nil || !now.State.Restarting && !now.State.Running {
			return nil
		}
		if now.State.Running {
			// The delay was over before the cancel: a run began.
			return e.Stop(in.ID, nil)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s is still restarting", short(in.ID))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resetRestart is what a start by hand does to the restart bookkeeping
// (moby's ResetRestartManager(true) and HasBeenManuallyStopped = false):
// the count starts again, the container is no longer stopped by hand, and
// the cancel of the last run goes. The caller holds the container's lock.
func (e *Engine) resetRestart(c *Container) error {
	if err := os.Remove(e.cancelFile(c.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("start: %w", err)
	}
	if c.RestartCount == 0 && !c.HasBeenManuallyStopped {
		return nil
	}
	c.RestartCount, c.HasBeenManuallyStopped = 0, false
	return e.saveConfig(c)
}

// Boot is what dockerd does for the containers when it starts (moby's
// daemon.restore), for a daemonless tool at the host's boot: every
// container that has been started before, is not running now and whose
// policy says to restart it is started, oldest first; an --rm container
// whose monitor died before it could remove it is removed. The restart
// decision is DecideRestart's with the container's last exit, as dockerd
// asks its restart manager: always restarts even a container stopped by
// hand, unless-stopped not; on-failure restarts what ended with a code
// other than 0 (a container that was running when the host went down ends
// with 255) within its count. It returns the names it started; the errors
// of the others are joined.
func (e *Engine) Boot() ([]string, error) {
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].Created.Before(list[j].Created) })
	var started []string
	var errs []error
	for _, in := range list {
		st := in.State
		if st.Running || st.Restarting || st.Dead || alive(st.MonitorPid, st.MonitorStart) {
			continue
		}
		if in.HostConfig.AutoRemove {
			if !st.StartedAt.IsZero() {
				if err := e.Remove(in.ID, true, true); err != nil && !errors.Is(err, ErrNotFound) {
					errs = append(errs, err)
				}
			}
			continue
		}
		if st.StartedAt.IsZero() { // never started: dockerd's HasBeenStartedBefore
			continue
		}
		d := DecideRestart(in.HostConfig.RestartPolicy, st.ExitCode, in.RestartCount, in.HasBeenManuallyStopped, st.FinishedAt.Sub(st.StartedAt), 0)
		if !d.Restart {
			// What a run whose monitor died left (the runtime's state,
			// the cgroup, the mounts) goes now, as dockerd's Cleanup.
			if err := e.cleanupDead(in.ID); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := e.Start(in.ID, nil); err != nil {
			errs = append(errs, fmt.Errorf("start %s: %w", in.Name, err))
			continue
		}
		started = append(started, in.Name)
	}
	return started, errors.Join(errs...)
}

// cleanupDead tears down a stopped container whose monitor is gone, under
// its lock; a container started meanwhile is left alone.
func (e *Engine) cleanupDead(id string) error {
	err := e.withContainer(id, func(in *Info, _ *lock) error {
		if in.State.Running || in.State.Restarting || alive(in.State.MonitorPid, in.State.MonitorStart) {
			return nil
		}
		return e.teardown(in.Container)
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
