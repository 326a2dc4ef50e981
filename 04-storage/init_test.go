package main

import (
	"debug/elf"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInitUnderBothRuntimes: with --init, PID 1 is an init that passes
// SIGTERM on, so `stop` ends a `sleep` at once (143); without it, sleep as
// PID 1 has no default action for SIGTERM and only the SIGKILL after the
// timeout ends it (137). Under runc the init is this binary, bind-mounted
// at /sbin/minibox-tini, so it must be static.
func TestInitUnderBothRuntimes(t *testing.T) {
	b := newBox(t)
	for _, rt := range []string{"minibox", "runc"} {
		t.Run(rt, func(t *testing.T) {
			if rt == "runc" && dynamic(t) {
				r := b.run("run", "--rm", "--init", "--runtime", rt, "busybox", "true")
				assert.Equal(t, 125, r.Code)
				assert.Contains(t, r.Stderr, "dynamically linked")
				assert.Contains(t, r.Stderr, "CGO_ENABLED=0")
				t.Log("this test binary is dynamically linked (CGO_ENABLED=0 makes it static): checked the error only")
				return
			}
			id := b.ok("run", "-d", "--init", "--runtime", rt, "busybox", "sleep", "1000")
			waitFor(t, "the sleep", func() bool { return strings.Contains(b.ok("top", id), "sleep 1000") })
			start := time.Now()
			b.ok("stop", "-t", "60", id)
			assert.Less(t, time.Since(start), 30*time.Second, "SIGTERM reached the sleep")
			assert.Equal(t, "143", b.ok("wait", id), "sleep died of the SIGTERM the init passed on")
			b.ok("rm", id)

			// Orphans are reaped: a background child whose parent has
			// exited becomes PID 1's; none stays a zombie.
			r := b.run("run", "--rm", "--init", "--runtime", rt, "busybox", "sh", "-c",
				`sh -c 'sleep 0.2 &' ; sleep 1; ps -o stat,comm | grep -c '^Z' || true`)
			require.Equal(t, 0, r.Code, r.Stderr)
			assert.Equal(t, "0\n", r.Stdout, "no zombie under --init")

			// Without --init the same stop needs its SIGKILL.
			id = b.ok("run", "-d", "--runtime", rt, "busybox", "sleep", "1000")
			waitFor(t, "the sleep", func() bool { return strings.Contains(b.ok("top", id), "sleep 1000") })
			b.ok("stop", "-t", "1", id)
			assert.Equal(t, "137", b.ok("wait", id))
			b.ok("rm", id)
		})
	}
}

// dynamic reports whether this test binary (the program) needs a loader.
func dynamic(t *testing.T) bool {
	self, err := os.Executable()
	require.NoError(t, err)
	f, err := elf.Open(self)
	require.NoError(t, err)
	defer f.Close()
	return slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
}
