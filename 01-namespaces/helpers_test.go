package main

// The tests run this lesson's program as a user would, as a separate
// process. That process is the test binary itself: TestMain turns it into
// the program when MINIBOX_TEST_MAIN=1, and into a small probe when asked
// with `helper NAME ...`. Because a lesson-01 container shares the host's
// files, the probe can be run inside containers as the command.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/namespaces"
	"minibox/internal/testkit"
)

const testMainEnv = "MINIBOX_TEST_MAIN"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "helper" {
		os.Exit(helper(os.Args[2], os.Args[3:]))
	}
	if os.Getenv(testMainEnv) == "1" || namespaces.IsInit() {
		main()
		return
	}
	testkit.Main(m)
}

// self is the path of the test binary, which is also the program.
func self(t testing.TB) string {
	t.Helper()
	p, err := os.Executable()
	require.NoError(t, err)
	return p
}

// result is how a run of the program ended.
type result struct {
	code           int
	stdout, stderr string
}

// program runs the lesson's program with args and returns how it ended.
func program(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	cmd := execCommand(self(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	return runCmd(t, cmd)
}

// execCommand prepares a run of the program at path.
func execCommand(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), testMainEnv+"=1")
	return cmd
}

// runCmd runs cmd for at most a minute and returns how it ended.
func runCmd(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the program did not finish in a minute: %s", errb.String())
	}
	if err != nil {
		_, isExit := err.(*exec.ExitError)
		require.True(t, isExit, "run the program: %v", err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// box is a running program whose stdin and stdout the test holds.
type box struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *bytes.Buffer
}

// startProgram starts the program and keeps it running; the test talks to
// it line by line. The program is killed when the test ends.
func startProgram(t testing.TB, args ...string) *box {
	t.Helper()
	cmd := exec.Command(self(t), args...)
	cmd.Env = append(os.Environ(), testMainEnv+"=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	b := &box{t: t, cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), stderr: &bytes.Buffer{}}
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

// line reads the next line the container printed.
func (b *box) line() string {
	b.t.Helper()
	got := make(chan bool, 1)
	go func() { got <- b.lines.Scan() }()
	select {
	case ok := <-got:
		require.True(b.t, ok, "the container's output ended early; stderr: %s", b.stderr.String())
		return b.lines.Text()
	case <-time.After(30 * time.Second):
		b.t.Fatalf("no line from the container in 30s; stderr: %s", b.stderr.String())
		return ""
	}
}

// wait closes the container's stdin and returns the program's exit status.
func (b *box) wait() int {
	b.t.Helper()
	_ = b.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.t.Fatalf("the program did not exit in 30s; stderr: %s", b.stderr.String())
	}
	return b.cmd.ProcessState.ExitCode()
}

// initPID finds the container's init: the program's only child.
func (b *box) initPID() int {
	b.t.Helper()
	kids := children(b.cmd.Process.Pid)
	require.Len(b.t, kids, 1, "the runtime should have exactly one child, the container's init")
	return kids[0]
}

// children lists the PIDs whose parent is pid, read from /proc/*/stat.
func children(pid int) []int {
	var out []int
	for _, p := range allPIDs() {
		if ppid, _, ok := statOf(p); ok && ppid == pid {
			out = append(out, p)
		}
	}
	sort.Ints(out)
	return out
}

func allPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// statOf reads the parent PID and the state letter of a process.
func statOf(pid int) (ppid int, state string, ok bool) {
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

// inNamespace lists the processes whose pid namespace has inode ino.
func inNamespace(ino uint64) []int {
	var out []int
	for _, p := range allPIDs() {
		if got, err := namespaces.NSInode(strconv.Itoa(p), "pid"); err == nil && got == ino {
			out = append(out, p)
		}
	}
	return out
}

// helper is the probe that runs inside containers. It prints facts, one
// per line, for the test to compare with what the host sees.
func helper(name string, args []string) int {
	switch name {
	case "ns": // the inode of each namespace we are in
		for _, t := range []string{"pid", "uts", "ipc", "mnt", "net", "cgroup", "user"} {
			ino, err := namespaces.NSInode("self", t)
			if err != nil {
				fmt.Println(t, "error", err)
				continue
			}
			fmt.Println(t, ino)
		}
		h, _ := os.Hostname()
		fmt.Println("hostname", h)
		links, _ := netlink.LinkList()
		for _, l := range links {
			fmt.Println("link", l.Attrs().Name, l.Attrs().Flags&net.FlagUp != 0)
		}
		cg, _ := os.ReadFile("/proc/self/cgroup")
		for _, l := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
			fmt.Println("cgroupfile", l)
		}
		return 0
	case "pids": // what /proc shows
		var pids []string
		for _, p := range allPIDs() {
			pids = append(pids, strconv.Itoa(p))
		}
		fmt.Printf("self %d\n", os.Getpid())
		fmt.Printf("pids %s\n", strings.Join(pids, ","))
		return 0
	case "ipc-has": // does a SysV shared memory segment with this key exist?
		key, _ := strconv.Atoi(args[0])
		_, err := unix.SysvShmGet(key, 0, 0)
		fmt.Println(err == nil)
		return 0
	case "ipc-make": // make one, wait for a line on stdin, remove it
		key, _ := strconv.Atoi(args[0])
		id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return 0
	case "mount-tmpfs": // mount a tmpfs on args[0], wait for a line on stdin
		if err := unix.Mount("tmpfs", args[0], "tmpfs", 0, "size=1m"); err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		return 0
	case "wait-signal": // exit with args[0] when a signal arrives
		code, _ := strconv.Atoi(args[0])
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2)
		fmt.Println("ready")
		sig := <-ch
		fmt.Println("got", int(sig.(syscall.Signal)))
		return code
	case "spawn-orphan": // start a child that outlives us by a little, then exit
		cmd := exec.Command(os.Args[0], "helper", "sleep", "150ms")
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			return 1
		}
		return 0
	case "sleep":
		d, _ := time.ParseDuration(args[0])
		time.Sleep(d)
		return 0
	case "zombies": // make args[0] orphans, let them die, count zombies; exit args[1]
		n, _ := strconv.Atoi(args[0])
		code, _ := strconv.Atoi(args[1])
		for i := 0; i < n; i++ {
			if err := exec.Command(os.Args[0], "helper", "spawn-orphan").Run(); err != nil {
				fmt.Println("error", err)
				return 1
			}
		}
		time.Sleep(time.Second)
		zombies := 0
		for _, p := range allPIDs() {
			if _, state, ok := statOf(p); ok && state == "Z" {
				zombies++
			}
		}
		fmt.Println("zombies", zombies)
		return code
	case "touch": // create args[0] and print its owner as seen inside
		if err := os.WriteFile(args[0], nil, 0o644); err != nil {
			fmt.Println("error", err)
			return 1
		}
		var st unix.Stat_t
		_ = unix.Stat(args[0], &st)
		fmt.Println("uid", st.Uid, "gid", st.Gid, "euid", os.Geteuid())
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper", name)
	return 2
}
