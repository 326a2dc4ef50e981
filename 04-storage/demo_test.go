package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

// TestDemo runs the demo as setup.sh does and checks what it shows: the
// diff, a whiteout and an opaque directory in both spellings, the volume's
// file read after its container is gone; and that it removed its roots.
func TestDemo(t *testing.T) {
	testkit.Root(t)
	tmp := t.TempDir()
	cmd := testkit.Command(testkit.Self(t), "demo")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	r := testkit.RunCommand(t, cmd)
	require.Equal(t, 0, r.Code, "stdout %s\nstderr %s", r.Stdout, r.Stderr)
	for _, want := range []string{
		"  $ minibox diff writer\n  C /bin\n  D /bin/vi\n  C /etc\n  D /etc/group\n  C /etc/hostname\n  D /etc/passwd\n  A /notes\n  C /root\n  A /root/todo\n",
		"  bin/vi         character device 0/0: a whiteout, vi is deleted\n",
		"  etc/           directory, trusted.overlay.opaque=y: the image's etc/ is hidden\n",
		"  bin/.wh.vi         an empty file: delete vi\n",
		"  etc/.wh..wh..opq   an empty file: hide everything below in etc/\n",
		"  $ minibox rm writer\n  writer\n  $ minibox volume ls\n  DRIVER     VOLUME NAME\n  local      notes\n",
		"  $ minibox run --rm -v notes:/notes busybox cat /notes/greeting\n  hello\n",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the demo leaves its data root behind")
}
