package main

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Restart policies (lesson 07's, in the engine's monitor), through the
// program as a user runs it.

// inspectf is `inspect -f FORMAT ID`.
func (b *box) inspectf(id, format string) string {
	b.t.Helper()
	return b.ok("inspect", "-f", format, id)
}

func (b *box) restartCount(id string) int {
	b.t.Helper()
	n, err := strconv.Atoi(b.inspectf(id, "{{.RestartCount}}"))
	require.NoError(b.t, err)
	return n
}

// on-failure:2 of a command that fails runs it three times: two restarts,
// then the exit code stays.
func TestRestartOnFailureCount(t *testing.T) {
	b := newBox(t)
	id := b.ok("run", "-d", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
	waitEnd(t, b)
	assert.Equal(t, "2 exited 3 false on-failure 2", b.inspectf(id, "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.State.Restarting}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"))
	assert.Equal(t, "run\nrun\nrun", b.ok("logs", id))
	// Exit 0 is no failure: no restart.
	id = b.ok("run", "-d", "--restart", "on-failure", "busybox", "sh", "-c", "echo run")
	waitEnd(t, b)
	assert.Equal(t, "0 exited 0", b.inspectf(id, "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"))
	assert.Equal(t, "run", b.ok("logs", id))

	// run without -d ends with the first run, as Docker's: its output and
	// exit code; the restarts go on without it.
	start := time.Now()
	r := b.run("run", "--name", "attached", "--restart", "on-failure:1", "busybox", "sh", "-c", "echo run; exit 3")
	assert.Equal(t, 3, r.Code)
	assert.Equal(t, "run\n", r.Stdout)
	assert.Less(t, time.Since(start), 10*time.Second)
	waitEnd(t, b)
	assert.Equal(t, "1 exited 3", b.inspectf("attached", "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"))
	assert.Equal(t, "run\nrun", b.ok("logs", "attached"))
}

// always restarts after exit 0 too; stop and kill are no crash: the
// container stays stopped (and start counts from 0 again).
func TestRestartAlwaysAndStop(t *testing.T) {
	b := newBox(t)
	gate := t.TempDir()
	// The first run exits 0; the restart sleeps.
	id := b.ok("run", "-d", "--restart", "always", "-v", gate+":/g", "busybox", "sh", "-c",
		"echo run; if [ -e /g/ran ]; then exec sleep 1000; fi; touch /g/ran")
	waitFor(t, "the restart", func() bool { return b.inspectf(id, "{{.RestartCount}} {{.State.Status}}") == "1 running" })
	assert.Equal(t, "run\nrun", b.ok("logs", id))
	assert.Equal(t, "false", b.inspectf(id, "{{.HasBeenManuallyStopped}}"))

	b.ok("stop", "-t", "0", id)
	assert.Equal(t, "exited 137 false true", b.inspectf(id, "{{.State.Status}} {{.State.ExitCode}} {{.State.Restarting}} {{.HasBeenManuallyStopped}}"))
	waitEnd(t, b) // no monitor is left to restart it
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, "1 exited", b.inspectf(id, "{{.RestartCount}} {{.State.Status}}"), "stopped stays stopped")
	assert.Equal(t, "run\nrun", b.ok("logs", id))

	// start clears what stop set, as Docker's does.
	b.ok("start", id)
	assert.Equal(t, "0 running false", b.inspectf(id, "{{.RestartCount}} {{.State.Status}} {{.HasBeenManuallyStopped}}"))
	b.ok("kill", id)
	waitEnd(t, b)
	assert.Equal(t, "0 exited 137 true", b.inspectf(id, "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.HasBeenManuallyStopped}}"), "killed stays killed")
	b.ok("rm", id)
}

// A crash loop waits longer each time; meanwhile the container is
// "restarting" (ps shows it, without -a), rm without -f refuses it, start
// leaves it be, and stop or rm -f end the loop with no restart after.
func TestRestartingContainer(t *testing.T) {
	b := newBox(t)
	id := b.ok("run", "-d", "--restart", "always", "busybox", "sh", "-c", "echo run; exit 1")
	// From the sixth restart on the delay is 3.2 s or more: time enough
	// for the checks below while it lasts.
	waitFor(t, "a long delay", func() bool {
		return b.restartCount(id) >= 6 && b.inspectf(id, "{{.State.Status}}") == "restarting"
	})
	assert.Regexp(t, `^Restarting \(1\) (Less than a second|\d+ seconds?) ago$`, b.ok("ps", "--format", "{{.Status}}"))
	assert.Equal(t, "true false 0 1", b.inspectf(id, "{{.State.Restarting}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}}"))

	r := b.run("rm", id)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "container is restarting: stop the container before attempting removal or force remove")
	b.ok("start", id) // as Docker's: it counts as started

	n := b.restartCount(id)
	b.ok("stop", id)
	assert.Equal(t, "exited false true", b.inspectf(id, "{{.State.Status}} {{.State.Restarting}} {{.HasBeenManuallyStopped}}"))
	waitEnd(t, b)
	assert.Equal(t, n, b.restartCount(id), "no restart after the stop")
	assert.Empty(t, b.ok("ps", "-q"))

	// Started again, the loop starts from 0; rm -f during a delay ends it.
	b.ok("start", id)
	waitFor(t, "a delay", func() bool {
		return b.restartCount(id) >= 4 && b.inspectf(id, "{{.State.Status}}") == "restarting"
	})
	start := time.Now()
	b.ok("rm", "-f", id)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Empty(t, b.ok("ps", "-aq"))
	b.noMonitors()
}

// --restart's errors, Docker's: the CLI's parse errors, the daemon's check
// of the policy; nothing is created.
func TestRestartFlagErrors(t *testing.T) {
	b := newBox(t)
	for _, tc := range []struct{ flag, rm, want string }{
		{"always", "--rm", "minibox: conflicting options: cannot specify both --restart and --rm"},
		{":2", "", "minibox: invalid restart policy format: no policy provided before colon"},
		{"on-failure:x", "", "minibox: invalid restart policy format: maximum retry count must be an integer"},
		{"always:3", "", "minibox: Error response from daemon: invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{"on-failure:-1", "", "minibox: Error response from daemon: invalid restart policy: maximum retry count cannot be negative"},
		{"sometimes", "", "minibox: Error response from daemon: invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
	} {
		args := []string{"run", "-d", "--restart", tc.flag}
		if tc.rm != "" {
			args = append(args, tc.rm)
		}
		r := b.run(append(args, "busybox", "true")...)
		assert.Equal(t, 125, r.Code, tc.flag)
		assert.Equal(t, tc.want+"\n", r.Stderr, tc.flag)
	}
	assert.Empty(t, b.ok("ps", "-aq"))
	// --rm with no is fine.
	assert.Equal(t, "hi", b.ok("run", "--rm", "--restart", "no", "busybox", "echo", "hi"))
}

// system boot does what dockerd does when it starts: after a "reboot"
// (every monitor and container killed by PID, as a power cut would), it
// starts the always and unless-stopped containers that were running, and
// an always one that was stopped by hand, but not an unless-stopped one
// that was stopped, one without a policy, an on-failure one that ended
// with 0 or one never started.
func TestSystemBoot(t *testing.T) {
	b := newBox(t)
	run := func(name string, args ...string) string {
		return b.ok(append([]string{"run", "-d", "--name", name}, args...)...)
	}
	always := run("always", "--restart", "always", "busybox", "sleep", "1000")
	stoppedAlways := run("stopped-always", "--restart", "always", "busybox", "sleep", "1000")
	unless := run("unless", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	stopped := run("stopped", "--restart", "unless-stopped", "busybox", "sleep", "1000")
	plain := run("plain", "busybox", "sleep", "1000")
	done := run("done", "--restart", "on-failure", "busybox", "true")
	created := b.ok("create", "--name", "created", "--restart", "always", "busybox", "true")
	b.ok("stop", "-t", "0", stopped, stoppedAlways)
	// A crash loop, caught by the reboot during a delay.
	looping := run("looping", "--restart", "always", "busybox", "sh", "-c", "exit 1")
	waitFor(t, "a delay", func() bool {
		return b.restartCount(looping) >= 4 && b.inspectf(looping, "{{.State.Status}}") == "restarting"
	})
	require.NoError(t, syscall.Kill(b.state(looping).MonitorPid, syscall.SIGKILL))

	// The reboot: monitors first (a monitor would restart its container).
	var inits []int
	for _, id := range []string{always, unless, plain} {
		st := b.state(id)
		require.NoError(t, syscall.Kill(st.MonitorPid, syscall.SIGKILL))
		inits = append(inits, st.Pid)
	}
	waitEnd(t, b)
	for _, pid := range inits {
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	}
	waitFor(t, "the containers' end", func() bool { return b.ok("ps", "-q") == "" })
	assert.Equal(t, "exited 1 false", b.inspectf(looping, "{{.State.Status}} {{.State.ExitCode}} {{.State.Restarting}}"), "nobody restarts it")

	assert.Equal(t, "always\nstopped-always\nunless\nlooping", b.ok("system", "boot"))

	for id, want := range map[string]string{
		always: "running 0 false", stoppedAlways: "running 0 false", unless: "running 0 false",
		stopped: "exited 137 true", plain: "exited 255 false", done: "exited 0 false", created: "created 0 false",
	} {
		assert.Equal(t, want, b.inspectf(id, "{{.State.Status}} {{.State.ExitCode}} {{.HasBeenManuallyStopped}}"), id)
	}
	// The runtime's state of the killed run was cleaned before the start.
	entries, err := os.ReadDir(filepath.Join(b.exec, "runtime", "minibox"))
	require.NoError(t, err)
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	assert.Subset(t, names, []string{always, stoppedAlways, unless})
	assert.NotContains(t, names, plain, "boot cleaned what the dead run left")
	// Nothing more to start (the crash loop's monitor lives again).
	assert.Empty(t, b.ok("system", "boot"))
	for _, id := range []string{always, stoppedAlways, unless} {
		assert.Equal(t, "running", b.inspectf(id, "{{.State.Status}}"))
	}
	// rm -f of a running always container is for good: no restart.
	start := time.Now()
	b.ok("rm", "-f", always)
	assert.Less(t, time.Since(start), 5*time.Second)
}
