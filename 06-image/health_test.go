package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

// A Dockerfile's HEALTHCHECK (lesson 06 keeps it in the image's config)
// becomes the container's healthcheck (lesson 07): the exec form runs
// without a shell, the flags override it field by field, and
// --no-healthcheck or a child's HEALTHCHECK NONE turns it off.
func TestImageHealthcheck(t *testing.T) {
	b := newBox(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": `FROM busybox
RUN echo up > /status
HEALTHCHECK --interval=50ms --timeout=5s --retries=2 CMD ["cat", "/status"]
CMD ["sleep", "300"]
`})
	b.ok("build", "--network", "none", "-t", "checked", ctx)
	none := writeContext(t, map[string]string{"Dockerfile": "FROM checked\nHEALTHCHECK NONE\n"})
	b.ok("build", "--network", "none", "-t", "unchecked", none)

	health := func(ref string) *engine.Health {
		t.Helper()
		var h *engine.Health
		require.NoError(t, json.Unmarshal([]byte(b.ok("inspect", "-f", "{{json .State.Health}}", ref)), &h))
		return h
	}
	waitHealth := func(ref, want string) *engine.Health {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			h := health(ref)
			if h != nil && h.Status == want {
				return h
			}
			require.True(t, time.Now().Before(deadline), "health %s, not %s: %+v", ref, want, h)
			time.Sleep(20 * time.Millisecond)
		}
	}
	hcOf := func(ref string) string {
		t.Helper()
		return b.ok("inspect", "-f", "{{json .Config.Healthcheck}}", ref)
	}

	id := b.ok("run", "-d", "--network", "none", "checked")
	assert.JSONEq(t, `{"Test":["CMD","cat","/status"],"Interval":50000000,"Timeout":5000000000,"Retries":2}`, hcOf(id))
	h := waitHealth(id, engine.HealthHealthy)
	assert.Equal(t, "up\n", h.Log[0].Output)
	assert.Regexp(t, `^Up .* \(healthy\)$`, b.ok("ps", "--filter", "id="+id, "--format", "{{.Status}}"))
	// The check reads the container's own file: break it, and two
	// failures later (the image's retries) it is unhealthy.
	b.ok("exec", id, "rm", "/status")
	h = waitHealth(id, engine.HealthUnhealthy)
	assert.Equal(t, 2, h.FailingStreak)
	assert.Equal(t, 1, h.Log[len(h.Log)-1].ExitCode)
	assert.Contains(t, h.Log[len(h.Log)-1].Output, "/status")

	// Flags override the image's fields one by one; the rest stays.
	over := b.ok("create", "--network", "none", "--health-cmd", "test -e /status", "--health-retries", "7", "checked")
	assert.JSONEq(t, `{"Test":["CMD-SHELL","test -e /status"],"Interval":50000000,"Timeout":5000000000,"Retries":7}`, hcOf(over))
	off := b.ok("run", "-d", "--network", "none", "--no-healthcheck", "checked")
	// Docker's merge, too, keeps the image's timings beside NONE.
	assert.JSONEq(t, `{"Test":["NONE"],"Interval":50000000,"Timeout":5000000000,"Retries":2}`, hcOf(off))
	child := b.ok("run", "-d", "--network", "none", "unchecked")
	assert.JSONEq(t, `{"Test":["NONE"]}`, hcOf(child))
	time.Sleep(300 * time.Millisecond) // six of the image's intervals
	assert.Nil(t, health(off), "no check ran")
	assert.Nil(t, health(child), "no check ran")
	assert.Regexp(t, `^Up [^(]*$`, b.ok("ps", "--filter", "id="+off, "--format", "{{.Status}}"))
	b.ok("rm", "-f", id, over, off, child)
}
