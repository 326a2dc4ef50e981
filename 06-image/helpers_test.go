package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"minibox/04-storage/containerfs"
	"minibox/04-storage/storage"
	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.MainProgram(m, main) }

// box is one test's minibox installation: its own data and exec roots
// (the exec root short, for unix(7) socket paths), busybox imported.
type box struct {
	t          *testing.T
	data, exec string
	env        []string // extra environment of the program
	sb         *testkit.Sandbox
}

func newBox(t *testing.T) *box {
	t.Helper()
	testkit.Root(t)
	execRoot, err := os.MkdirTemp("", "mbx")
	require.NoError(t, err)
	b := &box{t: t, data: t.TempDir(), exec: execRoot}
	importBusybox(t, b.data)
	t.Cleanup(func() {
		if out := b.run("ps", "-aq", "--no-trunc"); out.Code == 0 {
			for _, id := range strings.Fields(out.Stdout) {
				b.run("rm", "-f", id)
			}
		}
		os.RemoveAll(execRoot)
	})
	return b
}

// importBusybox imports busybox-static's root as the image busybox.
func importBusybox(t *testing.T, data string) {
	t.Helper()
	var layer bytes.Buffer
	_, err := storage.WriteTar(&layer, testkit.BusyboxRootfs(t))
	require.NoError(t, err)
	st, err := containerfs.New(data)
	require.NoError(t, err)
	_, err = st.Images.Import(bytes.NewReader(layer.Bytes()), "busybox",
		[]string{`CMD ["sh"]`, "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "")
	require.NoError(t, err)
}

func (b *box) args(args ...string) []string {
	return append([]string{"--data-root", b.data, "--exec-root", b.exec}, args...)
}

// run runs the program (in the box's sandbox when it has one).
func (b *box) run(args ...string) testkit.Result {
	b.t.Helper()
	return b.runIn("", args...)
}

func (b *box) runIn(stdin string, args ...string) testkit.Result {
	b.t.Helper()
	var cmd = testkit.Command(testkit.Self(b.t), b.args(args...)...)
	if b.sb != nil {
		cmd = b.sb.Command(testkit.Self(b.t), b.args(args...)...)
	}
	cmd.Env = append(append(os.Environ(), testkit.ProgramEnv+"=1"), b.env...)
	cmd.Stdin = strings.NewReader(stdin)
	return testkit.RunCommand(b.t, cmd)
}

func (b *box) ok(args ...string) string {
	b.t.Helper()
	r := b.run(args...)
	require.Equal(b.t, 0, r.Code, "minibox %v: stdout %q stderr %q", args, r.Stdout, r.Stderr)
	return strings.TrimSuffix(r.Stdout, "\n")
}
