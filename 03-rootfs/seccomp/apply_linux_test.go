package seccomp

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

// probeRun is how a probe ended: its lines by check name, its exit.
type probeRun struct {
	lines  map[string]string // check name -> the rest of its line
	state  *os.ProcessState
	stderr string
}

// probe runs the test binary as a seccomp probe (see probe_linux_test.go).
func probe(t *testing.T, cmd *exec.Cmd) probeRun {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the probe did not finish in a minute; stderr: %s", errb.String())
	}
	r := probeRun{lines: map[string]string{}, state: cmd.ProcessState, stderr: errb.String()}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok && !strings.HasPrefix(l, "#") {
			r.lines[k] = v
		}
	}
	return r
}

// fields reads the "K=V" words of a status line.
func fields(line string) map[string]string {
	m := map[string]string{}
	for _, w := range strings.Fields(line) {
		if k, v, ok := strings.Cut(w, "="); ok {
			m[k] = v
		}
	}
	return m
}

func probeCmd(t *testing.T, args ...string) *exec.Cmd {
	return exec.Command(testkit.Self(t), append([]string{probeArg}, args...)...)
}

// exited requires that the probe ran to its end.
func (r probeRun) exited(t *testing.T) {
	t.Helper()
	require.True(t, r.state.Exited(), "the probe died: %v; stderr: %s", r.state, r.stderr)
	require.Equal(t, 0, r.state.ExitCode(), "stderr: %s", r.stderr)
}

func TestApplyDefault(t *testing.T) {
	testkit.Root(t)
	dir := t.TempDir()
	r := probe(t, probeCmd(t, "exec", "default",
		"getpid", "write", "file-io="+dir, "mkdir="+dir, "mkdirat="+dir, "fork", "status",
		"unshare-uts", "mount", "keyctl", "kcmp", "clone-newuts"))
	r.exited(t)
	for check, want := range map[string]string{
		// what ordinary programs do
		"getpid": "ok", "write": "ok", "file-io": "ok", "mkdir": "ok", "mkdirat": "ok",
		// what a container must not do without CAP_SYS_ADMIN or CAP_SYS_PTRACE,
		// even as root with every capability, as this probe is
		"unshare-uts": "EPERM", "mount": "EPERM", "keyctl": "EPERM", "kcmp": "EPERM", "clone-newuts": "EPERM",
	} {
		assert.Equal(t, want, r.lines[check], check)
	}
	// The checks ran in a program started by execve from the filtered
	// thread: the filter is on (mode 2), the Go runtime started its threads
	// (clone for a thread is allowed), and a child forked from it has the
	// filter too. Root holds CAP_SYS_ADMIN, so no_new_privs was not needed.
	status := fields(r.lines["status"])
	assert.Equal(t, "2", status["Seccomp"])
	assert.Equal(t, "0", status["NoNewPrivs"])
	assert.NotEqual(t, "1", status["Threads"], "the Go runtime runs more than one thread")
	assert.True(t, strings.HasPrefix(r.lines["fork"], "ok "), r.lines["fork"])
	assert.Equal(t, "2", fields(r.lines["fork"])["Seccomp"], "a child keeps the filter")
}

func TestApplyDefaultWithSysAdmin(t *testing.T) {
	testkit.Root(t)
	r := probe(t, probeCmd(t, "exec", "default+sysadmin", "unshare-uts", "mount", "clone-newuts", "keyctl"))
	r.exited(t)
	assert.Equal(t, "ok", r.lines["unshare-uts"], "CAP_SYS_ADMIN's rule allows unshare")
	assert.Equal(t, "ENOENT", r.lines["mount"], "mount reaches the kernel, which finds no target")
	assert.Equal(t, "ok", r.lines["clone-newuts"])
	assert.Equal(t, "EPERM", r.lines["keyctl"], "keyctl stays forbidden")
}

func TestApplyCustomProfile(t *testing.T) {
	testkit.Root(t)
	dir := t.TempDir()
	profile := writeProfile(t, `{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
	}`)
	r := probe(t, probeCmd(t, "exec", profile,
		"mkdir="+dir, "mkdirat="+dir, "getpid", "write", "file-io="+dir, "fork", "mount", "keyctl", "kcmp"))
	r.exited(t)
	assert.Equal(t, "EACCES", r.lines["mkdir"])
	assert.Equal(t, "EACCES", r.lines["mkdirat"])
	for _, check := range []string{"getpid", "write", "file-io"} {
		assert.Equal(t, "ok", r.lines[check], check)
	}
	assert.True(t, strings.HasPrefix(r.lines["fork"], "ok "), r.lines["fork"])
	assert.Equal(t, "2", fields(r.lines["fork"])["Seccomp"])
	assert.Equal(t, "ENOENT", r.lines["mount"], "everything else reaches the kernel")
	for _, check := range []string{"keyctl", "kcmp"} {
		assert.NotEqual(t, "EACCES", r.lines[check], check)
		assert.NotEqual(t, "EPERM", r.lines[check], check)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no directory was made")
}

func TestApplyKillProcess(t *testing.T) {
	testkit.Root(t)
	dir := t.TempDir()
	profile := writeProfile(t, `{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]
	}`)
	r := probe(t, probeCmd(t, "exec", profile, "getpid", "mkdirat="+dir, "write"))
	ws, ok := r.state.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "the probe should be killed, but: %v; stderr: %s", r.state, r.stderr)
	assert.Equal(t, syscall.SIGSYS, ws.Signal())
	assert.Equal(t, "ok", r.lines["getpid"], "the calls before mkdir ran")
	assert.NotContains(t, r.lines, "write", "nothing ran after mkdir")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestApplyWithoutSysAdmin: a process without CAP_SYS_ADMIN may install a
// filter only with no_new_privs, which Apply then sets.
func TestApplyWithoutSysAdmin(t *testing.T) {
	testkit.Root(t)
	// The test binary may sit where nobody cannot reach it: run it from an
	// open descriptor, as testkit.ProgramAsNobody does.
	f, err := os.Open(testkit.Self(t))
	require.NoError(t, err)
	defer f.Close()
	cmd := exec.Command("/proc/self/fd/3", probeArg, "here", "default", "getpid", "keyctl", "status")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	r := probe(t, cmd)
	r.exited(t)
	assert.Equal(t, "ok", r.lines["getpid"])
	assert.Equal(t, "EPERM", r.lines["keyctl"])
	status := fields(r.lines["status"])
	assert.Equal(t, "2", status["Seccomp"])
	assert.Equal(t, "1", status["NoNewPrivs"], "Apply set no_new_privs")
}
