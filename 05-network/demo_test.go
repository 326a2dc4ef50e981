package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

// TestDemo runs the demo inside a sandbox namespace (its bridge and rules
// stay there) and checks what it shows.
func TestDemo(t *testing.T) {
	testkit.Root(t)
	sb := testkit.NewSandbox(t)
	tmp := t.TempDir()
	cmd := sb.Command(testkit.Self(t), "demo")
	cmd.Env = append(os.Environ(), testkit.ProgramEnv+"=1", "TMPDIR="+tmp)
	r := testkit.RunCommand(t, cmd)
	require.Equal(t, 0, r.Code, "stdout %s\nstderr %s", r.Stdout, r.Stderr)
	for _, want := range []string{
		"  $ minibox run --rm --network demo-net busybox wget -q -O - http://web/\n  hello from web\n",
		"options ndots:0\n",
		"  host$ curl http://127.0.0.1:",
		"  hello from pub\n",
		"  $ minibox network rm demo-net\n  demo-net\n",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the demo leaves its roots behind")
}
