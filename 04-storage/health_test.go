package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

// Healthchecks (lesson 07) through the program, as a user runs them: the
// container's monitor runs the check inside the container, and inspect and
// ps show what it found.

// health is the container's State.Health as inspect prints it (nil: none).
func (b *box) health(ref string) *engine.Health {
	b.t.Helper()
	var h *engine.Health
	require.NoError(b.t, json.Unmarshal([]byte(b.ok("inspect", "-f", "{{json .State.Health}}", ref)), &h))
	return h
}

// waitHealth waits until the container's health status is want.
func (b *box) waitHealth(ref, want string) *engine.Health {
	b.t.Helper()
	var h *engine.Health
	waitFor(b.t, "health "+want, func() bool {
		h = b.health(ref)
		return h != nil && h.Status == want
	})
	return h
}

func (b *box) psStatus(ref string) string {
	b.t.Helper()
	return b.ok("ps", "-a", "--filter", "id="+ref, "--format", "{{.Status}}")
}

// The whole cycle, made deterministic by a gate file the check looks for:
// starting while it fails within the start period (those failures do not
// count), healthy at its first success, unhealthy after --health-retries
// failures in a row once healthy, healthy again when it passes again; ps
// shows each, and the check runs in the container (its /g, its hostname).
func TestHealthcheckCycle(t *testing.T) {
	b := newBox(t)
	gate := t.TempDir()
	id := b.ok("run", "-d", "-v", gate+":/g", "--hostname", "hc-box",
		"--health-cmd", `test -e /g/ok && hostname || { echo "no gate"; exit 3; }`,
		"--health-interval", "100ms", "--health-retries", "2", "--health-start-period", "1h",
		"--health-start-interval", "50ms", "busybox", "sleep", "300")
	h := b.health(id)
	require.NotNil(t, h, "health is set before run -d returns")
	assert.Equal(t, engine.HealthStarting, h.Status)
	// Within the start period, failures leave it starting with no streak.
	waitFor(t, "three failed probes", func() bool { return len(b.health(id).Log) >= 3 })
	h = b.health(id)
	assert.Equal(t, engine.HealthStarting, h.Status)
	assert.Zero(t, h.FailingStreak)
	assert.Equal(t, 3, h.Log[0].ExitCode)
	assert.Equal(t, "no gate\n", h.Log[0].Output)
	assert.False(t, h.Log[0].End.Before(h.Log[0].Start))
	assert.Regexp(t, `^Up .* \(health: starting\)$`, b.psStatus(id))
	assert.Equal(t, id, b.ok("ps", "-q", "--no-trunc", "--filter", "health=starting"))
	assert.Empty(t, b.ok("ps", "-q", "--filter", "health=healthy"))

	require.NoError(t, os.WriteFile(filepath.Join(gate, "ok"), nil, 0o644))
	h = b.waitHealth(id, engine.HealthHealthy)
	assert.Zero(t, h.FailingStreak)
	last := h.Log[len(h.Log)-1]
	assert.Equal(t, 0, last.ExitCode)
	assert.Equal(t, "hc-box\n", last.Output, "the check ran inside the container")
	assert.LessOrEqual(t, len(h.Log), 5)
	assert.Regexp(t, `^Up .* \(healthy\)$`, b.psStatus(id))
	assert.Equal(t, id, b.ok("ps", "-q", "--no-trunc", "--filter", "health=healthy"))

	// Healthy now: the start period no longer covers failures.
	require.NoError(t, os.Remove(filepath.Join(gate, "ok")))
	h = b.waitHealth(id, engine.HealthUnhealthy)
	assert.GreaterOrEqual(t, h.FailingStreak, 2)
	assert.Len(t, h.Log, 5, "the log keeps five results")
	assert.Regexp(t, `^Up .* \(unhealthy\)$`, b.psStatus(id))

	require.NoError(t, os.WriteFile(filepath.Join(gate, "ok"), nil, 0o644))
	h = b.waitHealth(id, engine.HealthHealthy)
	assert.Zero(t, h.FailingStreak)
	b.ok("rm", "-f", id)
}

// A check that keeps failing: unhealthy after the retries (3 by default),
// the streak counting on; the output is cut at 4096 bytes with "...".
func TestHealthcheckFailing(t *testing.T) {
	b := newBox(t)
	id := b.ok("run", "-d", "--health-cmd", "yes | head -c 5000; exit 1",
		"--health-interval", "50ms", "busybox", "sleep", "300")
	h := b.waitHealth(id, engine.HealthUnhealthy)
	assert.GreaterOrEqual(t, h.FailingStreak, 3)
	for _, r := range h.Log {
		assert.Equal(t, 1, r.ExitCode)
		assert.Equal(t, strings.Repeat("y\n", 2048)+"...", r.Output)
	}
	// A check whose command is missing fails as the shell says.
	id2 := b.ok("run", "-d", "--health-cmd", "no-such-check", "--health-interval", "50ms", "--health-retries", "1", "busybox", "sleep", "300")
	h = b.waitHealth(id2, engine.HealthUnhealthy)
	assert.Equal(t, 127, h.Log[0].ExitCode)
	assert.Contains(t, h.Log[0].Output, "no-such-check: not found")
	b.ok("rm", "-f", id, id2)
}

// A check that outlives its timeout is killed: exit code -1 and Docker's
// message with what it printed so far; the next one runs as usual.
func TestHealthcheckTimeout(t *testing.T) {
	b := newBox(t)
	id := b.ok("run", "-d", "--health-cmd", "echo partial; exec sleep 31",
		"--health-timeout", "300ms", "--health-interval", "50ms", "--health-retries", "2", "busybox", "sleep", "300")
	begin := time.Now()
	h := b.waitHealth(id, engine.HealthUnhealthy)
	assert.Less(t, time.Since(begin), 15*time.Second, "two timed-out checks")
	r := h.Log[0]
	assert.Equal(t, -1, r.ExitCode)
	assert.Equal(t, "Health check exceeded timeout (300ms): partial\n", r.Output)
	took := r.End.Sub(r.Start)
	assert.GreaterOrEqual(t, took, 300*time.Millisecond)
	assert.Less(t, took, 5*time.Second)
	// The killed check left no process in the container.
	waitFor(t, "the checks' sleeps gone", func() bool {
		return !strings.Contains(b.ok("top", id), "sleep 31")
	})
	b.ok("rm", "-f", id)
}

// Flags: Docker's conflict and range errors; --no-healthcheck is
// Test ["NONE"] (no Health at all); create and start (as compose runs a
// service) check as run does; a stop makes it unhealthy and a start
// resets it to starting with the log kept.
func TestHealthcheckFlags(t *testing.T) {
	b := newBox(t)
	r := b.run("run", "-d", "--no-healthcheck", "--health-cmd", "true", "busybox", "true")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "--no-healthcheck conflicts with --health-* options")
	r = b.run("create", "--health-retries", "-1", "busybox")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "--health-retries cannot be negative")
	r = b.run("create", "--health-cmd", "true", "--health-interval", "10us", "busybox")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "Interval in Healthcheck cannot be less than 1ms")
	assert.Empty(t, b.ok("ps", "-aq"), "nothing created")

	none := b.ok("run", "-d", "--no-healthcheck", "busybox", "sleep", "300")
	assert.Equal(t, `{"Test":["NONE"]}`, b.ok("inspect", "-f", "{{json .Config.Healthcheck}}", none))
	assert.Nil(t, b.health(none))
	assert.Regexp(t, `^Up [^(]*$`, b.psStatus(none))
	assert.Equal(t, none, b.ok("ps", "-q", "--no-trunc", "--filter", "health=none"))

	id := b.ok("create", "--health-cmd", "echo ok", "--health-interval", "50ms", "--health-timeout", "2s",
		"--health-retries", "4", "--health-start-period", "1h", "--health-start-interval", "2s", "busybox", "sleep", "300")
	assert.Equal(t, `{"Test":["CMD-SHELL","echo ok"],"Interval":50000000,"Timeout":2000000000,"StartPeriod":3600000000000,"StartInterval":2000000000,"Retries":4}`,
		b.ok("inspect", "-f", "{{json .Config.Healthcheck}}", id))
	assert.Nil(t, b.health(id), "no Health before the first start")
	assert.Equal(t, "Created", b.psStatus(id))
	b.ok("start", id)
	h := b.waitHealth(id, engine.HealthHealthy)
	assert.Equal(t, "ok\n", h.Log[0].Output)
	b.ok("stop", "-t", "1", id)
	h = b.health(id)
	assert.Equal(t, engine.HealthUnhealthy, h.Status, "Docker's status once the checks stopped")
	n := len(h.Log)
	require.NotZero(t, n)
	assert.Regexp(t, `^Exited \(\d+\) `, b.psStatus(id))
	b.ok("start", id)
	h = b.health(id)
	assert.Equal(t, engine.HealthStarting, h.Status, "reset at the start")
	assert.GreaterOrEqual(t, len(h.Log), n, "the log is kept")
	b.waitHealth(id, engine.HealthHealthy)
	b.ok("rm", "-f", id, none)
}
