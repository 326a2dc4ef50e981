package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

// TestDemo runs the finale demo in a sandbox network namespace (its port
// 8080 is the sandbox's, not the host's) and checks what it shows: the
// gated start, the page from the host's side, the kept containers of the
// second up, the volume across down; it leaves nothing.
func TestDemo(t *testing.T) {
	testkit.Root(t)
	sb := testkit.NewSandbox(t)
	tmp := t.TempDir()
	cmd := sb.Command(testkit.Self(t), "demo")
	cmd.Env = append(os.Environ(), testkit.ProgramEnv+"=1", "TMPDIR="+tmp)
	r := testkit.RunCommand(t, cmd)
	require.Equal(t, 0, r.Code, "stdout %s\nstderr %s", r.Stdout, r.Stderr)
	for _, want := range []string{
		"   ✔ Service api  Built\n",
		"   ✔ Container finale-db-1  Healthy\n   ✔ Container finale-api-1  Started\n",
		"  $ curl http://127.0.0.1:8080/cgi-bin/messages\n  <html><body><h1>Messages</h1>\n  <pre>the first message, from db's volume\n",
		"   ✔ Container finale-db-1  Running\n",
		"  db-1  | db: ready\n",
		"  local      finale_data\n",
		"   ✔ Volume finale_data  Removed\n",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	assert.NotContains(t, r.Stdout, "Recreate", "the second up keeps every container")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the demo leaves its roots behind")
}
