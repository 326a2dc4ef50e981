package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Healthchecks (lesson 07). A healthcheck is a command that runs inside the
// container now and then, as `exec` runs one: exit 0 says the service
// works, anything else that it does not. The container's monitor runs it
// (there is no daemon), keeps the last results and a status in
// health.json beside state.json, and `inspect` and `ps` read it from there.
// Docker's rules (moby daemon/health.go) and defaults:

const (
	HealthStarting  = "starting"  // no success yet, and not failed enough
	HealthHealthy   = "healthy"   // the last probe passed
	HealthUnhealthy = "unhealthy" // Retries probes in a row failed
	// HealthNone is what `ps --filter health=none` matches: no healthcheck.
	HealthNone = "none"

	defaultProbeInterval = 30 * time.Second
	defaultProbeTimeout  = 30 * time.Second
	defaultStartInterval = 5 * time.Second
	defaultProbeRetries  = 3
	maxHealthLog         = 5    // results kept in State.Health.Log
	maxProbeOutput       = 4096 // bytes of a probe's output kept
	// MinimumHealthDuration is the shortest interval, timeout, start
	// period or start interval Docker accepts.
	MinimumHealthDuration = time.Millisecond
)

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// NextHealth is the health after one probe's result r, for a container
// started at startedAt with the healthcheck hc: the result joins the log
// (the last five are kept, oldest first); a success makes the container
// healthy and resets the failing streak; a failure adds to the streak, and
// Retries failures in a row (3 by default) make it unhealthy. During the
// start period, failures of a container that was never healthy yet do not
// count: a slow service gets time to come up, but its first success ends
// the grace. h is not changed.
func NextHealth(h Health, hc HealthConfig, startedAt time.Time, r HealthResult) Health {
	// LAB 07.2 BEGIN: the log of five, the streak, retries, the start period
	next := Health{Status: h.Status, FailingStreak: h.FailingStreak}
	keep := h.Log
	if len(keep) >= maxHealthLog {
		keep = keep[len(keep)+1-maxHealthLog:]
	}
	next.Log = append(append(make([]HealthResult, 0, len(keep)+1), keep...), r)
	if next.Status == "" {
		next.Status = HealthStarting
	}
	if r.ExitCode == 0 {
		next.Status, next.FailingStreak = HealthHealthy, 0
		return next
	}
	retries := hc.Retries
	if retries <= 0 {
		retries = defaultProbeRetries
	}
	// Within the start period, a container still starting does not count
	// the failure (measured from when the probe began, as Docker does).
	if next.Status == HealthStarting && r.Start.Sub(startedAt) < hc.StartPeriod {
		return next
	}
	next.FailingStreak++
	if next.FailingStreak >= retries {
		next.Status = HealthUnhealthy
	}
	return next
	// LAB 07.2 END
	// LAB 07.2 STUB: lab.WarnOnce("07.2") // the last probe decides alone: no retries, no start period, no log kept
	// LAB 07.2 STUB: if r.ExitCode == 0 {
	// LAB 07.2 STUB: 	return Health{Status: HealthHealthy}
	// LAB 07.2 STUB: }
	// LAB 07.2 STUB: return Health{Status: HealthUnhealthy, FailingStreak: 1}
}

// HealthString is how `ps` shows a running container's health after "Up
// 5 seconds": "(health: starting)", "(healthy)", "(unhealthy)".
func HealthString(h *Health) string {
	switch h.Status {
	case HealthStarting:
		return "health: starting"
	case "":
		return HealthUnhealthy
	}
	return h.Status
}

// HasProbe says whether hc asks for a check: Test is ["CMD", argv...] or
// ["CMD-SHELL", command]. No Test, ["NONE"] (--no-healthcheck, HEALTHCHECK
// NONE) or an unknown kind run nothing.
func HasProbe(hc *HealthConfig) bool {
	return hc != nil && len(hc.Test) > 0 && (hc.Test[0] == "CMD" || hc.Test[0] == "CMD-SHELL")
}

// probeArgs is the command line of the check: CMD's argv as it is,
// CMD-SHELL's command through the container's /bin/sh -c.
func probeArgs(hc *HealthConfig) []string {
	if hc.Test[0] == "CMD-SHELL" {
		return append([]string{"/bin/sh", "-c"}, hc.Test[1:]...)
	}
	return hc.Test[1:]
}

// ValidateHealthcheck is Docker's check of a container's healthcheck at
// create (daemon/container.go's validateHealthCheck).
func ValidateHealthcheck(hc *HealthConfig) error {
	if hc == nil {
		return nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", hc.Interval}, {"Timeout", hc.Timeout}, {"StartPeriod", hc.StartPeriod}, {"StartInterval", hc.StartInterval}} {
		if d.v != 0 && d.v < MinimumHealthDuration {
			return fmt.Errorf("%s in Healthcheck cannot be less than %s", d.name, MinimumHealthDuration)
		}
	}
	if hc.Retries < 0 {
		return errors.New("Retries in Healthcheck cannot be negative")
	}
	if len(hc.Test) > 0 && hc.Test[0] != "NONE" && len(hc.Test) < 2 && HasProbe(hc) {
		return fmt.Errorf("healthcheck %s has no command", hc.Test[0])
	}
	return nil
}

// MergeHealthcheck is the container's healthcheck from its own (the
// --health-* flags) and its image's HEALTHCHECK, as Docker merges them
// (daemon/commit.go): no flags take the image's; otherwise each field left
// zero is the image's. ["NONE"] is a Test like any other, so
// --no-healthcheck wins over the image.
func MergeHealthcheck(user, image *HealthConfig) *HealthConfig {
	if image == nil {
		return user
	}
	if user == nil {
		hc := *image
		return &hc
	}
	hc := *user
	if len(hc.Test) == 0 {
		hc.Test = image.Test
	}
	if hc.Interval == 0 {
		hc.Interval = image.Interval
	}
	if hc.Timeout == 0 {
		hc.Timeout = image.Timeout
	}
	if hc.StartPeriod == 0 {
		hc.StartPeriod = image.StartPeriod
	}
	if hc.StartInterval == 0 {
		hc.StartInterval = image.StartInterval
	}
	if hc.Retries == 0 {
		hc.Retries = image.Retries
	}
	return &hc
}

// ImageHealthchecks is implemented by Images that keep an image's
// HEALTHCHECK (Docker's config.Healthcheck, which the OCI image config
// does not have): lesson 04's store reads it from the stored config.
type ImageHealthchecks interface {
	Healthcheck(img *Image) (*HealthConfig, error)
}

// healthcheckFor checks the container's own healthcheck and merges the
// image's into it (Create calls it before anything is made).
func (e *Engine) healthcheckFor(c *Container, img *Image) error {
	if err := ValidateHealthcheck(c.Config.Healthcheck); err != nil {
		return err
	}
	hi, ok := e.opts.Images.(ImageHealthchecks)
	if !ok {
		return nil
	}
	hc, err := hi.Healthcheck(img)
	if err != nil {
		return err
	}
	c.Config.Healthcheck = MergeHealthcheck(c.Config.Healthcheck, hc)
	return nil
}

func (e *Engine) healthPath(id string) string { return filepath.Join(e.dataDir(id), "health.json") }

// addHealth puts the monitor's health.json into the state: a container
// checked at least once has a Health. Only a running container is
// checked; one that is not is unhealthy, as Docker says when it stops the
// checks (a monitor killed could not say so itself).
func (e *Engine) addHealth(id string, st *State) {
	var h Health
	if err := readJSON(e.healthPath(id), &h); err != nil {
		st.Health = nil
		return
	}
	if !st.Running {
		h.Status = HealthUnhealthy
	}
	st.Health = &h
}

// The monitor's side. The probes are children of the monitor, which also
// reaps every child with wait4(-1) while the container runs (orphans of
// `exec -d` come to it, a subreaper). So a probe's exit status may be
// collected by either: probeChildren hands it over.
var probeChildren = struct {
	mu   sync.Mutex
	wait map[int]chan unix.WaitStatus
}{wait: map[int]chan unix.WaitStatus{}}

// reaped is called by the monitor's wait for every child that is not the
// container's init: a probe's status goes to its waiter.
func reaped(pid int, ws unix.WaitStatus) {
	probeChildren.mu.Lock()
	ch := probeChildren.wait[pid]
	delete(probeChildren.wait, pid)
	probeChildren.mu.Unlock()
	if ch != nil {
		ch <- ws
	}
}

// startProbeChild forks argv and registers it, in one step under the
// registry's lock, so the monitor's reaper always knows a probe it reaps.
func startProbeChild(path string, argv, env []string, files []uintptr) (int, chan unix.WaitStatus, error) {
	probeChildren.mu.Lock()
	defer probeChildren.mu.Unlock()
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: files})
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan unix.WaitStatus, 1)
	probeChildren.wait[pid] = ch
	return pid, ch, nil
}

// waitProbeChild waits for the child itself; ECHILD means the monitor's
// wait4(-1) was first, and its status comes over ch.
func waitProbeChild(pid int, ch chan unix.WaitStatus) unix.WaitStatus {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return <-ch
		}
		probeChildren.mu.Lock()
		delete(probeChildren.wait, pid)
		probeChildren.mu.Unlock()
		return ws
	}
}

// healthMonitor runs one container run's checks.
type healthMonitor struct {
	m       *monitor
	c       *Container
	hc      HealthConfig
	started time.Time
	health  Health
	stop    chan struct{}
	done    chan struct{}
}

// startHealth starts the checks of the run that began at st.StartedAt and
// returns what stops them. The health is reset (status starting, the
// streak 0, the log kept, as Docker does at every start) and written
// before the CLI hears of the start, so an inspect right after `run -d`
// says starting. A container without a check gets a no-op.
func (m *monitor) startHealth(st State) (stop func()) {
	if !HasProbe(m.c.Config.Healthcheck) || m.c.Spec == nil || m.c.Spec.Process == nil {
		return func() {}
	}
	h := &healthMonitor{m: m, c: m.c, hc: *m.c.Config.Healthcheck, started: st.StartedAt,
		stop: make(chan struct{}), done: make(chan struct{})}
	readJSON(m.e.healthPath(m.id), &h.health) // the old log, if any
	h.health.Status, h.health.FailingStreak = HealthStarting, 0
	h.save()
	go h.loop()
	return func() {
		close(h.stop)
		<-h.done
		// Docker's rule when the checks stop (the container exited):
		// unhealthy, until the next start resets it.
		h.health.Status = HealthUnhealthy
		h.save()
	}
}

func (h *healthMonitor) save() {
	if err := writeJSON(h.m.e.healthPath(h.c.ID), &h.health); err != nil {
		h.m.hub.output(frameStderr, "stderr", []byte("minibox: healthcheck: "+err.Error()+"\n"))
	}
}

// loop runs a probe every interval, counted from the end of the previous
// one (and before the first); during the start period, while the
// container is still starting, every start interval instead.
func (h *healthMonitor) loop() {
	defer close(h.done)
	interval := orDefault(h.hc.Interval, defaultProbeInterval)
	startInterval := orDefault(h.hc.StartInterval, defaultStartInterval)
	next := func() time.Duration {
		if time.Since(h.started) < h.hc.StartPeriod && h.health.Status == HealthStarting {
			return startInterval
		}
		return interval
	}
	timer := time.NewTimer(next())
	defer timer.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-timer.C:
		}
		r, stopped := h.probe()
		if stopped {
			return // the container is ending: its result means nothing
		}
		h.health = NextHealth(h.health, h.hc, h.started, r)
		h.save()
		timer.Reset(next())
	}
}

// probe runs the check once in the container through the runtime's exec,
// as `minibox exec` would, with its output (stdout and stderr together)
// cut at 4096 bytes. Past the timeout the process is killed and the result
// is exit code -1 with Docker's "Health check exceeded timeout" message.
// The timeout counts from when the process runs (the runtime wrote its
// PID), not while the runtime starts it. stopped is true when h.stop
// closed meanwhile.
func (h *healthMonitor) probe() (r HealthResult, stopped bool) {
	r.Start = time.Now().UTC()
	fail := func(err error) (HealthResult, bool) {
		r.End, r.ExitCode, r.Output = time.Now().UTC(), -1, err.Error()
		return r, false
	}
	dir, err := os.MkdirTemp(h.m.e.execDir(h.c.ID), "health-")
	if err != nil {
		return fail(fmt.Errorf("healthcheck: %w", err))
	}
	defer os.RemoveAll(dir)
	p := *h.c.Spec.Process
	p.Args = probeArgs(&h.hc)
	p.Terminal, p.ConsoleSize = false, nil
	procFile, pidFile := filepath.Join(dir, "process.json"), filepath.Join(dir, "pid")
	if err := writeJSON(procFile, &p); err != nil {
		return fail(err)
	}
	rt := *h.m.rt
	rt.log = filepath.Join(dir, "runtime.log")
	cmd := rt.command("exec", "--process", procFile, "--pid-file", pidFile, h.c.ID)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err)
	}
	defer devnull.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer outR.Close()
	pid, ch, err := startProbeChild(cmd.Path, cmd.Args, env, []uintptr{devnull.Fd(), outW.Fd(), outW.Fd()})
	outW.Close()
	if err != nil {
		return fail(fmt.Errorf("healthcheck: start the runtime: %w", err))
	}
	var out limitedBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, outR); close(copied) }()
	exited := make(chan unix.WaitStatus, 1)
	go func() { exited <- waitProbeChild(pid, ch) }()

	timeout := orDefault(h.hc.Timeout, defaultProbeTimeout)
	var proc Process // the check's process, once the runtime wrote its PID
	var started, timedOut, notStarted bool
	var timer, hardKill <-chan time.Time
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	startLimit := time.After(30 * time.Second)
	// kill ends the check: its process, and the runtime, which should end
	// with it, a little later if it does not (not yet reaped: still ours).
	kill := func() {
		if !proc.Signal(unix.SIGKILL) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if hardKill == nil {
			hardKill = time.After(2 * time.Second)
		}
	}
	stopCh := h.stop
	var ws unix.WaitStatus
wait:
	for {
		select {
		case ws = <-exited:
			break wait
		case <-poll.C:
			if started {
				continue
			}
			if data, err := os.ReadFile(pidFile); err == nil {
				if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
					started = true
					proc, _ = ProcessOf(n) // gone already: nothing to kill
					timer, startLimit = time.After(timeout), nil
				}
			}
		case <-startLimit:
			notStarted, startLimit = true, nil
			kill()
		case <-timer:
			timedOut, timer = true, nil
			kill()
		case <-hardKill:
			syscall.Kill(pid, syscall.SIGKILL)
		case <-stopCh:
			stopped, stopCh = true, nil
			kill()
		}
	}
	// The runtime is gone; what still holds the pipe (a process the check
	// left in the background) does not hold us.
	outR.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	<-copied
	r.End = time.Now().UTC()
	switch {
	case notStarted:
		r.ExitCode, r.Output = -1, fmt.Sprintf("timed out starting health check for container %s", h.c.ID)
	case timedOut:
		r.ExitCode, r.Output = -1, fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
		if o := out.String(); o != "" {
			r.Output += ": " + o
		}
	case (ws.Signaled() || ws.ExitStatus() != 0) && rt.lastLogError() != "":
		// The runtime could not run the command (not found, say): the
		// check failed to start, and Docker reports the error itself.
		r.ExitCode, r.Output = -1, "OCI runtime exec failed: "+rt.lastLogError()
	case ws.Signaled():
		r.ExitCode, r.Output = 128+int(ws.Signal()), out.String()
	default:
		r.ExitCode, r.Output = ws.ExitStatus(), out.String()
	}
	return r, stopped
}

// limitedBuffer keeps the first maxProbeOutput bytes written to it and
// marks a cut with "...", as Docker's does.
type limitedBuffer struct {
	buf       []byte
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	keep := min(maxProbeOutput-len(b.buf), len(p))
	if keep > 0 {
		b.buf = append(b.buf, p[:keep]...)
	}
	if keep < len(p) {
		b.truncated = true
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	if b.truncated {
		return string(b.buf) + "..."
	}
	return string(b.buf)
}
