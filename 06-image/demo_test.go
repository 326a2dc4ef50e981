package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

// TestDemo runs the demo and checks what it shows; it leaves nothing.
func TestDemo(t *testing.T) {
	testkit.Root(t)
	tmp := t.TempDir()
	cmd := testkit.Command(testkit.Self(t), "demo")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	r := testkit.RunCommand(t, cmd)
	require.Equal(t, 0, r.Code, "stdout %s\nstderr %s", r.Stdout, r.Stderr)
	for _, want := range []string{
		"Step 3/4 : RUN echo \"$GREETING from a build step\" > /greeting\n",
		" ---> Using cache\n",
		"  $ minibox run --rm --network none hello\n  hello from a build step\n",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	if _, err := os.Stat(registryBinary); err == nil {
		assert.Contains(t, r.Stdout, "Unable to find image '127.0.0.1:")
		assert.Contains(t, r.Stdout, "/demo/hello:latest' locally\n")
	}
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the demo leaves its roots behind")
}
