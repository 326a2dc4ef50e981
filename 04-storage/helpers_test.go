package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.MainProgram(m, main) }

// box is one test's minibox installation: its own data and exec roots,
// the default runtime is this program's own (lesson 03's, `minibox runtime`).
type box struct {
	t          *testing.T
	data, exec string
}

func newBox(t *testing.T) *box {
	t.Helper()
	testkit.Root(t)
	// Unix socket paths are short (unix(7)): the exec root is too.
	execRoot, err := os.MkdirTemp("", "mbx")
	require.NoError(t, err)
	b := &box{t: t, data: t.TempDir(), exec: execRoot}
	b.importImages()
	t.Cleanup(func() {
		// Whatever a failed test left: rm -f it all, then no monitor of
		// ours may be left.
		if out := b.run("ps", "-aq", "--no-trunc"); out.Code == 0 {
			for _, id := range strings.Fields(out.Stdout) {
				b.run("rm", "-f", id)
			}
		}
		b.noMonitors()
		os.RemoveAll(execRoot)
	})
	return b
}

// The images every box has, imported from the busybox fixture as a tar
// (as `docker import` does): busybox, and busybox-usr1 with a stop signal
// and a working directory of its own.
var boxImages = map[string][]string{
	"busybox":      nil,
	"busybox-usr1": {"STOPSIGNAL SIGUSR1", "WORKDIR /tmp"},
}

// importImages imports boxImages into the box's data root through the
// image store the program opens (containerfs.New over the same root).
func (b *box) importImages() {
	b.t.Helper()
	var layer bytes.Buffer
	_, err := storage.WriteTar(&layer, testkit.BusyboxRootfs(b.t))
	require.NoError(b.t, err)
	st, err := containerfs.New(b.data)
	require.NoError(b.t, err)
	common := []string{`CMD ["sh"]`, "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV FROM_IMAGE=yes"}
	for ref, changes := range boxImages {
		_, err := st.Images.Import(bytes.NewReader(layer.Bytes()), ref, append(append([]string{}, common...), changes...), "")
		require.NoError(b.t, err, "import %s", ref)
	}
}

func (b *box) args(args ...string) []string {
	return append([]string{"--data-root", b.data, "--exec-root", b.exec}, args...)
}

// run runs minibox with the box's roots.
func (b *box) run(args ...string) testkit.Result {
	b.t.Helper()
	return testkit.Program(b.t, "", b.args(args...)...)
}

// runIn runs minibox with stdin.
func (b *box) runIn(stdin string, args ...string) testkit.Result {
	b.t.Helper()
	return testkit.Program(b.t, stdin, b.args(args...)...)
}

// ok runs minibox, requires success and returns stdout without the last newline.
func (b *box) ok(args ...string) string {
	b.t.Helper()
	r := b.run(args...)
	require.Equal(b.t, 0, r.Code, "minibox %v: stdout %q stderr %q", args, r.Stdout, r.Stderr)
	return strings.TrimSuffix(r.Stdout, "\n")
}

// command prepares a run of minibox that the test controls itself.
func (b *box) command(args ...string) *exec.Cmd {
	return testkit.Command(testkit.Self(b.t), b.args(args...)...)
}

// state reads the engine's own state file (with the monitor's PID).
func (b *box) state(id string) engine.State {
	b.t.Helper()
	var st engine.State
	data, err := os.ReadFile(filepath.Join(b.data, "containers", id, "state.json"))
	require.NoError(b.t, err)
	require.NoError(b.t, json.Unmarshal(data, &st))
	return st
}

// monitors lists the PIDs of monitors of this box.
func (b *box) monitors() []int {
	var out []int
	for _, pid := range testkit.AllPIDs() {
		cmdline, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), engine.MonitorArg+"\x00"+b.data+"\x00") {
			out = append(out, pid)
		}
	}
	return out
}

func (b *box) noMonitors() {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(b.monitors()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.Empty(b.t, b.monitors(), "monitors left running")
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// random is a random lowercase word for names and values.
func random(prefix string) string {
	b := make([]byte, 5)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
