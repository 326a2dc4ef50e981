package testkit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// A lesson's tests run the lesson's program as a user would: as a separate
// process. That process is the test binary itself: MainProgram turns it into
// the program when ProgramEnv=1, and into a probe (probes_linux.go) when
// started as `TESTBINARY helper NAME ARGS...`. While the containers of the
// early lessons share the host's files, a probe can be their command.

// ProgramEnv makes the test binary act as the lesson's program.
const ProgramEnv = "MINIBOX_TEST_MAIN"

// MainProgram is the TestMain of a lesson's program package:
//
//	func TestMain(m *testing.M) { testkit.MainProgram(m, main) }
func MainProgram(m *testing.M, programMain func()) {
	if len(os.Args) > 2 && os.Args[1] == "helper" {
		os.Exit(runProbe(os.Args[2], os.Args[3:]))
	}
	// A container's init is the test binary re-executed as `... init`
	// with a clean environment: the program's main recognises it.
	// So is the engine's init for other runtimes, run as /sbin/minibox-tini
	// (see namespaces.InitProgram) with the container's environment.
	if os.Getenv(ProgramEnv) == "1" || (len(os.Args) > 1 && os.Args[1] == "init") || filepath.Base(os.Args[0]) == "minibox-tini" {
		programMain()
		os.Exit(0)
	}
	Main(m)
}

// Self is the path of the test binary, which is also the program.
func Self(t testing.TB) string {
	t.Helper()
	p, err := os.Executable()
	require.NoError(t, err)
	return p
}

// Result is how a run of the program ended.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Program runs the program with args and stdin and returns how it ended.
func Program(t testing.TB, stdin string, args ...string) Result {
	t.Helper()
	cmd := Command(Self(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	return RunCommand(t, cmd)
}

// Command prepares a run of the program at path.
func Command(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), ProgramEnv+"=1")
	return cmd
}

// RunCommand runs cmd for at most two minutes and returns how it ended.
func RunCommand(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the program did not finish in two minutes: %s", errb.String())
	}
	if err != nil {
		_, isExit := err.(*exec.ExitError)
		require.True(t, isExit, "run the program: %v", err)
	}
	return Result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// ProgramAsNobody runs the program as UID 65534. The test binary sits in a
// directory only root may enter, so it is executed through an open
// descriptor, the way the runtime executes its own init.
func ProgramAsNobody(t testing.TB, args ...string) Result {
	t.Helper()
	f, err := os.Open(Self(t))
	require.NoError(t, err)
	defer f.Close()
	cmd := Command("/proc/self/fd/3", args...)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return RunCommand(t, cmd)
}

// Box is a running program whose stdin and stdout the test holds.
type Box struct {
	Cmd    *exec.Cmd
	t      testing.TB
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *bytes.Buffer
}

// StartProgram starts the program and keeps it running; the test talks to
// it line by line. It is killed when the test ends, if still running.
func StartProgram(t testing.TB, args ...string) *Box {
	t.Helper()
	cmd := Command(Self(t), args...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	b := &Box{Cmd: cmd, t: t, stdin: stdin, lines: bufio.NewScanner(stdout), stderr: &bytes.Buffer{}}
	cmd.Stderr = b.stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return b
}

// Line reads the next line the container printed.
func (b *Box) Line() string {
	b.t.Helper()
	got := make(chan bool, 1)
	go func() { got <- b.lines.Scan() }()
	select {
	case ok := <-got:
		require.True(b.t, ok, "the container's output ended early; stderr: %s", b.stderr.String())
		return b.lines.Text()
	case <-time.After(60 * time.Second):
		b.t.Fatalf("no line from the container in 60s; stderr: %s", b.stderr.String())
		return ""
	}
}

// Send writes a line to the container's stdin.
func (b *Box) Send(line string) {
	b.t.Helper()
	_, err := io.WriteString(b.stdin, line+"\n")
	require.NoError(b.t, err)
}

// Wait closes the container's stdin and returns the program's exit status.
func (b *Box) Wait() int {
	b.t.Helper()
	_ = b.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- b.Cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.t.Fatalf("the program did not exit in 60s; stderr: %s", b.stderr.String())
	}
	return b.Cmd.ProcessState.ExitCode()
}

// Stderr is what the program wrote to stderr so far.
func (b *Box) Stderr() string { return b.stderr.String() }

// InitPID finds the container's init: the program's only child.
func (b *Box) InitPID() int {
	b.t.Helper()
	kids := Children(b.Cmd.Process.Pid)
	require.Len(b.t, kids, 1, "the runtime should have exactly one child, the container's init")
	return kids[0]
}

// WaitForExec waits until the container's init has become comm: the
// command then runs as PID 1, with nothing of ours left in between.
func (b *Box) WaitForExec(comm string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if kids := Children(b.Cmd.Process.Pid); len(kids) == 1 {
			if got, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", kids[0])); strings.TrimSpace(string(got)) == comm {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.t.Fatalf("the container's init never became %s; stderr: %s", comm, b.stderr.String())
}

// Children lists the PIDs whose parent is pid, read from /proc/*/stat.
func Children(pid int) []int {
	var out []int
	for _, p := range AllPIDs() {
		if ppid, _, ok := StatOf(p); ok && ppid == pid {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

// AllPIDs lists the processes in /proc.
func AllPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// StatOf reads the parent PID and the state letter of a process.
func StatOf(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 2 {
		return 0, "", false
	}
	ppid, _ = strconv.Atoi(fields[1])
	return ppid, fields[0], true
}

// NSInode is the inode of /proc/PID/ns/TYPE (pid may be "self"): the
// identity of the namespace.
func NSInode(pid, nsType string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+pid+"/ns/"+nsType, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// InNamespace lists the processes whose pid namespace has inode ino.
func InNamespace(ino uint64) []int {
	var out []int
	for _, p := range AllPIDs() {
		if got, err := NSInode(strconv.Itoa(p), "pid"); err == nil && got == ino {
			out = append(out, p)
		}
	}
	return out
}

// Facts parses "key value..." lines into key -> values.
func Facts(out string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, " ")
		m[k] = append(m[k], v)
	}
	return m
}

// CopyExecutable copies the file at src to dst, mode 0755.
func CopyExecutable(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o755))
}
