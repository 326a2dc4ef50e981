package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/02-cgroups/cgroups"
	"minibox/internal/testkit"
)

// An OCI runtime under test: ours or runc, each with a state directory of
// its own, over the same bundle.
type ociRuntime struct {
	name    string
	command func(b *runtimeBox, args ...string) *exec.Cmd // with --root
	run     func(b *runtimeBox, args ...string) testkit.Result
}

// runtimes are ours and, when installed, runc: the exec tests run against
// both, to show that the bundle and the command line match runc's.
func runtimes(t *testing.T) []ociRuntime {
	list := []ociRuntime{{
		name: "minibox",
		command: func(b *runtimeBox, args ...string) *exec.Cmd {
			return testkit.Command(testkit.Self(t), append([]string{"--root", b.root}, args...)...)
		},
		run: func(b *runtimeBox, args ...string) testkit.Result { return b.cmd(args...) },
	}}
	if _, err := exec.LookPath("runc"); err == nil {
		root := t.TempDir()
		list = append(list, ociRuntime{
			name: "runc",
			command: func(b *runtimeBox, args ...string) *exec.Cmd {
				return exec.Command("runc", append([]string{"--root", root}, args...)...)
			},
			run: func(b *runtimeBox, args ...string) testkit.Result { return b.runc(root, args...) },
		})
	} else {
		// The comparison needs runc (apt-get install runc); ours is
		// tested all the same (the cgroup v2 VM has no runc).
		t.Log("runc is not installed: testing minibox's runtime alone")
	}
	return list
}

// removeRuncPrefix removes /minibox in every hierarchy when no container
// uses it any more, as our runtime's delete does: runc leaves the levels
// above a container's cgroup behind.
func removeRuncPrefix(t testing.TB, id string) {
	assert.NoError(t, cgroups.RemoveEmptyParents("", cgroups.Prefix+"/"+id))
}

// runc runs `runc --root root ARGS` as cmd runs ours: stdio in files.
func (b *runtimeBox) runc(root string, args ...string) testkit.Result {
	b.t.Helper()
	dir := b.t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	require.NoError(b.t, err)
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	require.NoError(b.t, err)
	defer stderr.Close()
	c := exec.Command("runc", append([]string{"--root", root}, args...)...)
	c.Dir = b.bundle
	c.Stdout, c.Stderr = stdout, stderr
	if err := c.Run(); err != nil {
		_, isExit := err.(*exec.ExitError)
		require.True(b.t, isExit, "run runc: %v", err)
	}
	out, _ := os.ReadFile(stdout.Name())
	errb, _ := os.ReadFile(stderr.Name())
	return testkit.Result{Code: c.ProcessState.ExitCode(), Stdout: string(out), Stderr: string(errb)}
}

// started creates and starts a container of b's bundle with rt, in the
// cgroup /minibox/ID (absolute, as the engine gives it), and returns its
// ID and its init's host PID. It is deleted when the test ends.
func (b *runtimeBox) started(rt ociRuntime) (string, int) {
	b.t.Helper()
	id := randName("x")
	b.spec.Linux.CgroupsPath = "/minibox/" + id
	b.save()
	r := rt.run(b, "create", id)
	require.Equal(b.t, 0, r.Code, "%s create: %s", rt.name, r.Stderr)
	b.t.Cleanup(func() { rt.run(b, "delete", "--force", id); b.waitReapers(); b.reap(); removeRuncPrefix(b.t, id) })
	var st specs.State
	r = rt.run(b, "state", id)
	require.NoError(b.t, json.Unmarshal([]byte(r.Stdout), &st), "%s state: %s %s", rt.name, r.Stdout, r.Stderr)
	if rt.name != "minibox" {
		b.inits = append(b.inits, st.Pid) // ours records its own in cmd
	}
	r = rt.run(b, "start", id)
	require.Equal(b.t, 0, r.Code, "%s start: %s", rt.name, r.Stderr)
	return id, st.Pid
}

// nsLink is readlink /proc/PID/ns/NAME as the host sees it.
func nsLink(t *testing.T, pid int, name string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
	require.NoError(t, err)
	return l
}

func TestExecJoinsTheContainer(t *testing.T) {
	testkit.Root(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			b := newBundle(t, "sleep", "1000")
			b.spec.Hostname = randName("h")
			marker := randName("marker-")
			require.NoError(t, os.WriteFile(b.inRoot(marker), []byte("inside\n"), 0o644))
			id, pid := b.started(rt)

			script := `for n in mnt pid net uts ipc cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done
echo "host $(hostname)"; echo "marker $(cat /` + marker + `)"
echo "debian $(test -e /etc/debian_version && echo host || echo none)"
echo "ps $(ps -o pid,args | grep -c '^ *1 sleep 1000')"`
			r := rt.run(b, "exec", id, "sh", "-c", script)
			require.Equal(t, 0, r.Code, r.Stderr)
			facts := testkit.Facts(r.Stdout)
			for _, n := range []string{"mnt", "pid", "net", "uts", "ipc", "cgroup"} {
				assert.Equal(t, []string{nsLink(t, pid, n)}, facts[n], "%s: the init's namespace", n)
			}
			assert.Equal(t, []string{b.spec.Hostname}, facts["host"])
			assert.Equal(t, []string{"inside"}, facts["marker"], "the container's root, not the host's")
			assert.Equal(t, []string{"none"}, facts["debian"])
			assert.Equal(t, []string{"1"}, facts["ps"], "ps lists the container's init as PID 1: %s", r.Stdout)
		})
	}
}

func TestExecProcessSettings(t *testing.T) {
	testkit.Root(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			b := newBundle(t, "sleep", "1000")
			b.spec.Process.NoNewPrivileges = false
			b.spec.Process.Env = append(b.spec.Process.Env, "FROM_SPEC=yes")
			// The container's seccomp filter binds the exec process too.
			b.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
			}}
			id, pid := b.started(rt)

			status := func(pid string) map[string][]string {
				data, err := os.ReadFile("/proc/" + pid + "/status")
				require.NoError(t, err)
				m := map[string][]string{}
				for _, l := range strings.Split(string(data), "\n") {
					k, v, _ := strings.Cut(l, ":")
					m[k] = strings.Fields(v)
				}
				return m
			}
			initCaps, err := strconv.ParseUint(status(strconv.Itoa(pid))["CapEff"][0], 16, 64)
			require.NoError(t, err)
			require.Zero(t, initCaps&(1<<25), "the bundle leaves out CAP_SYS_TIME")

			script := `echo "a $A"; echo "spec ${FROM_SPEC:-none}"; echo "cwd $(pwd)"; echo "uid $(id -u)"; echo "gid $(id -g)"; grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status | tr -d ':' | tr '\t' ' '`
			r := rt.run(b, "exec", "-e", "A=1", "--cwd", "/tmp", "-u", "1000:1001", "--no-new-privs", id, "sh", "-c", script)
			require.Equal(t, 0, r.Code, r.Stderr)
			facts := testkit.Facts(r.Stdout)
			assert.Equal(t, []string{"1"}, facts["a"])
			assert.Equal(t, []string{"yes"}, facts["spec"], "the container's environment, then -e")
			assert.Equal(t, []string{"/tmp"}, facts["cwd"])
			assert.Equal(t, []string{"1000"}, facts["uid"])
			assert.Equal(t, []string{"1001"}, facts["gid"])
			assert.Equal(t, []string{"1"}, facts["NoNewPrivs"])
			// A non-root user's capabilities end at execve(2) unless
			// they are ambient (capabilities(7)): the bundle has none.
			assert.Equal(t, []string{"0000000000000000"}, facts["CapEff"], r.Stdout)

			r = rt.run(b, "exec", id, "sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/sc && echo made")
			assert.NotEqual(t, 0, r.Code)
			assert.Regexp(t, `^Seccomp:\s+2\n$`, r.Stdout, "in filter mode")
			assert.Contains(t, r.Stderr, "Operation not permitted")

			// --cap adds to root's.
			r = rt.run(b, "exec", "--cap", "CAP_SYS_TIME", id, "sh", "-c", script)
			require.Equal(t, 0, r.Code, r.Stderr)
			facts = testkit.Facts(r.Stdout)
			require.Len(t, facts["CapEff"], 1, r.Stdout)
			caps, err := strconv.ParseUint(facts["CapEff"][0], 16, 64)
			require.NoError(t, err)
			assert.Equal(t, initCaps|1<<25, caps, "the container's capabilities and --cap")

			// Without the flags: the container's own process.
			r = rt.run(b, "exec", id, "sh", "-c", script)
			require.Equal(t, 0, r.Code, r.Stderr)
			facts = testkit.Facts(r.Stdout)
			assert.Equal(t, []string{"/"}, facts["cwd"])
			assert.Equal(t, []string{"0"}, facts["uid"])
			assert.Equal(t, []string{"0"}, facts["NoNewPrivs"])
			caps, err = strconv.ParseUint(facts["CapEff"][0], 16, 64)
			require.NoError(t, err)
			assert.Equal(t, initCaps, caps)

			// --process: a whole process from a file.
			proc := specs.Process{Args: []string{"sh", "-c", script}, Cwd: "/etc", Env: []string{"A=file", "PATH=/bin"}, User: specs.User{UID: 7, GID: 8}}
			data, err := json.Marshal(proc)
			require.NoError(t, err)
			file := filepath.Join(t.TempDir(), "process.json")
			require.NoError(t, os.WriteFile(file, data, 0o644))
			r = rt.run(b, "exec", "--process", file, id)
			require.Equal(t, 0, r.Code, r.Stderr)
			facts = testkit.Facts(r.Stdout)
			assert.Equal(t, []string{"file"}, facts["a"])
			assert.Equal(t, []string{"none"}, facts["spec"], "not the container's environment")
			assert.Equal(t, []string{"/etc"}, facts["cwd"])
			assert.Equal(t, []string{"7"}, facts["uid"])
			assert.Equal(t, []string{"8"}, facts["gid"])
			initBnd := status(strconv.Itoa(pid))["CapBnd"]
			assert.Equal(t, initBnd, facts["CapBnd"], "no capabilities in the file: the container's bounding set")

			// As root and without capabilities in the file: the
			// container's capabilities, not all of root's.
			proc = specs.Process{Args: []string{"sh", "-c", script}, Cwd: "/", Env: []string{"PATH=/bin"}}
			data, err = json.Marshal(proc)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(file, data, 0o644))
			r = rt.run(b, "exec", "--process", file, id)
			require.Equal(t, 0, r.Code, r.Stderr)
			facts = testkit.Facts(r.Stdout)
			assert.Equal(t, []string{"0"}, facts["uid"])
			require.Len(t, facts["CapEff"], 1, r.Stdout)
			caps, err = strconv.ParseUint(facts["CapEff"][0], 16, 64)
			require.NoError(t, err)
			assert.Equal(t, initCaps, caps, "the container's capabilities")
			assert.Equal(t, initBnd, facts["CapBnd"], "the container's bounding set")
		})
	}
}

func TestExecExitStatus(t *testing.T) {
	testkit.Root(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			b := newBundle(t, "sleep", "1000")
			id, _ := b.started(rt)
			r := rt.run(b, "exec", id, "sh", "-c", "exit 3")
			assert.Equal(t, 3, r.Code, r.Stderr)
			r = rt.run(b, "exec", id, "sh", "-c", "kill -9 $$")
			assert.Equal(t, 137, r.Code, "killed by SIGKILL: 128+9: %s", r.Stderr)
			r = rt.run(b, "exec", id, "sh", "-c", "echo out; echo err >&2")
			assert.Equal(t, 0, r.Code)
			assert.Equal(t, "out\n", r.Stdout, "the caller's stdout")
			assert.Contains(t, r.Stderr, "err\n", "the caller's stderr")

			if rt.name != "minibox" {
				// runc 1.1 reports a failed execve as its own error
				// (status 255); Docker maps it to 126/127 itself.
				r = rt.run(b, "exec", id, "no-such-program")
				assert.NotEqual(t, 0, r.Code)
				assert.Contains(t, r.Stderr, "executable file not found in $PATH")
				return
			}
			r = rt.run(b, "exec", id, "no-such-program")
			assert.Equal(t, 127, r.Code)
			assert.Contains(t, r.Stderr, `exec: "no-such-program": executable file not found in $PATH`)
			r = rt.run(b, "exec", id, "/no/such/file")
			assert.Equal(t, 127, r.Code)
			assert.Contains(t, r.Stderr, "no such file or directory")
			r = rt.run(b, "exec", id, "/etc/passwd")
			assert.Equal(t, 126, r.Code)
			assert.Contains(t, r.Stderr, "permission denied")
			r = rt.run(b, "exec", id, "/etc")
			assert.Equal(t, 126, r.Code)
			assert.Contains(t, r.Stderr, "is a directory")
			r = rt.run(b, "exec", id)
			assert.Equal(t, 1, r.Code)
			assert.Contains(t, r.Stderr, "no command")
		})
	}
}

func TestExecTTY(t *testing.T) {
	testkit.Root(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			b := newBundle(t, "sleep", "1000")
			id, _ := b.started(rt)
			sock, got := consoleSocket(t)
			// Detached: the caller of a console socket reads the pty
			// while the process runs (as a shim does).
			pidFile := filepath.Join(t.TempDir(), "pid")
			r := rt.run(b, "exec", "-t", "-d", "--pid-file", pidFile, "--console-socket", sock, id, "sh", "-c", "tty; echo $((6*7))")
			require.Equal(t, 0, r.Code, r.Stderr)
			b.reapLater(pidFile)
			var master *os.File
			select {
			case master = <-got:
			case <-time.After(10 * time.Second):
			}
			require.NotNil(t, master, "the runtime sent the pty master")
			defer master.Close()
			out := readAll(master)
			assert.Regexp(t, `^/dev/pts/[0-9]+\r\n42\r\n$`, out, "a pty of the container's own devpts")
		})
	}
}

// readAll reads a pty master until the slave side is closed (EIO).
func readAll(master *os.File) string {
	buf := make([]byte, 256)
	var out []byte
	_ = master.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return string(out)
		}
	}
}

// execReapers are, per box, the reapers of its detached exec processes.
var execReapers = map[*runtimeBox][]chan struct{}{}

// reapLater reaps the process in pidFile as soon as it ends. A detached
// exec process is an orphan that the kernel gives to us, the subreaper;
// and until it is reaped, the container's init cannot finish dying (a PID
// namespace's init waits for every other process in it to be reaped).
func (b *runtimeBox) reapLater(pidFile string) int {
	b.t.Helper()
	data, err := os.ReadFile(pidFile)
	require.NoError(b.t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(b.t, err, "pid file %q", data)
	done := make(chan struct{})
	execReapers[b] = append(execReapers[b], done)
	go func() {
		defer close(done)
		for {
			if _, err := unix.Wait4(pid, nil, 0, nil); err != unix.EINTR {
				return
			}
		}
	}()
	return pid
}

// waitReapers waits, after the containers were deleted, for the reapers.
func (b *runtimeBox) waitReapers() {
	for _, done := range execReapers[b] {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			b.t.Error("a detached exec process outlived its container")
		}
	}
	delete(execReapers, b)
}

func TestExecDetached(t *testing.T) {
	testkit.Root(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			b := newBundle(t, "sleep", "1000")
			id, initPid := b.started(rt)
			pidFile := filepath.Join(t.TempDir(), "pid")
			start := time.Now()
			r := rt.run(b, "exec", "-d", "--pid-file", pidFile, id, "sleep", "1000")
			require.Equal(t, 0, r.Code, r.Stderr)
			assert.Less(t, time.Since(start), 20*time.Second, "returns without waiting")
			assert.Empty(t, r.Stdout)
			pid := b.reapLater(pidFile)
			// runc's exec -d may return before its process finished
			// execve(2) (/proc/PID/cmdline reads empty, or runc's init, for
			// a moment): the process must become the command.
			var cmdline []byte
			assert.Eventually(t, func() bool {
				cmdline, _ = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				return string(cmdline) == "sleep\x001000\x00"
			}, 5*time.Second, 5*time.Millisecond, "the pid file names the process, as the host sees it: %q", &cmdline)
			for _, n := range []string{"mnt", "pid", "net", "uts", "ipc", "cgroup"} {
				assert.Equal(t, nsLink(t, initPid, n), nsLink(t, pid, n), n)
			}
			ours, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
			require.NoError(t, err)
			theirs, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", initPid))
			require.NoError(t, err)
			assert.Equal(t, string(theirs), string(ours), "in the container's cgroup")
			assert.Contains(t, string(ours), "/minibox/"+id)

			// The init's death ends the process too: the PID namespace
			// goes with its init.
			r = rt.run(b, "kill", id, "KILL")
			require.Equal(t, 0, r.Code, r.Stderr)
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, _, ok := testkit.StatOf(pid); !ok {
					break // died and reaped
				}
				require.True(t, time.Now().Before(deadline), "the exec process outlived the init")
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

func TestExecRefusesAStoppedContainer(t *testing.T) {
	testkit.Root(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			b := newBundle(t, "true")
			id, _ := b.started(rt)
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(rt.run(b, "state", id).Stdout, `"stopped"`) {
				require.True(t, time.Now().Before(deadline), "the container did not stop")
				time.Sleep(10 * time.Millisecond)
			}
			r := rt.run(b, "exec", id, "true")
			assert.NotEqual(t, 0, r.Code)
			assert.Contains(t, r.Stderr, "stopped")
			r = rt.run(b, "exec", randName("missing"), "true")
			assert.NotEqual(t, 0, r.Code)
			assert.Contains(t, r.Stderr, "not exist")
			r = rt.run(b, "kill", id, "KILL")
			assert.NotEqual(t, 0, r.Code, "a stopped container cannot be signalled")
			r = rt.run(b, "delete", id)
			assert.Equal(t, 0, r.Code, r.Stderr)
			assert.NoDirExists(t, "/sys/fs/cgroup/pids/minibox/"+id, "delete removed the cgroup")
			assert.NoDirExists(t, "/sys/fs/cgroup/unified/minibox/"+id)
			assert.NoDirExists(t, "/sys/fs/cgroup/minibox/"+id)
		})
	}
}

// TestCreateKeepsTheCallersStdio: without a terminal, the container's
// stdin, stdout and stderr are what `create` was started with, as runc's
// (a shim hands it pipes or files and keeps the other ends).
func TestCreateKeepsTheCallersStdio(t *testing.T) {
	testkit.Root(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			b := newBundle(t, "sh", "-c", "read line; echo out $line; echo err >&2")
			dir := t.TempDir()
			in := filepath.Join(dir, "in")
			require.NoError(t, os.WriteFile(in, []byte("hello\n"), 0o644))
			stdin, err := os.Open(in)
			require.NoError(t, err)
			defer stdin.Close()
			stdout, err := os.Create(filepath.Join(dir, "out"))
			require.NoError(t, err)
			defer stdout.Close()
			// stderr is a pipe, as a shim's are: it reaches EOF once the
			// container (the last holder of its write end) is gone.
			errR, errW, err := os.Pipe()
			require.NoError(t, err)
			defer errR.Close()
			id := randName("io")
			b.spec.Linux.CgroupsPath = "/minibox/" + id
			b.save()
			c := rt.command(b, "create", id)
			c.Dir = b.bundle
			c.Stdin, c.Stdout, c.Stderr = stdin, stdout, errW
			err = c.Run()
			errW.Close()
			t.Cleanup(func() { rt.run(b, "delete", "--force", id); b.reap(); removeRuncPrefix(t, id) })
			require.NoError(t, err, "%s create", rt.name)
			var st specs.State
			require.NoError(t, json.Unmarshal([]byte(rt.run(b, "state", id).Stdout), &st))
			b.inits = append(b.inits, st.Pid)
			assert.Equal(t, specs.StateCreated, st.Status)
			assert.Greater(t, st.Pid, 0)
			r := rt.run(b, "start", id)
			require.Equal(t, 0, r.Code, r.Stderr)
			errOut := make(chan string, 1)
			go func() {
				data, _ := io.ReadAll(errR)
				errOut <- string(data)
			}()
			select {
			case got := <-errOut:
				assert.Equal(t, "err\n", got)
			case <-time.After(10 * time.Second):
				t.Fatal("the container's stderr did not end")
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(rt.run(b, "state", id).Stdout, `"stopped"`) {
				require.True(t, time.Now().Before(deadline), "the container did not stop")
				time.Sleep(10 * time.Millisecond)
			}
			out, err := os.ReadFile(stdout.Name())
			require.NoError(t, err)
			assert.Equal(t, "out hello\n", string(out))
			r = rt.run(b, "delete", id)
			require.Equal(t, 0, r.Code, r.Stderr)
		})
	}
}

// TestExecTTYOnOurTerminal: `exec -t` without a console socket, not
// detached, copies the process's pty to and from our own terminal.
func TestExecTTYOnOurTerminal(t *testing.T) {
	testkit.Root(t)
	for _, rt := range runtimes(t) {
		t.Run(rt.name, func(t *testing.T) {
			b := newBundle(t, "sleep", "1000")
			id, _ := b.started(rt)
			master, slave, err := pty.Open()
			require.NoError(t, err)
			defer master.Close()
			c := rt.command(b, "exec", "-t", id, "sh", "-c", "tty; read line; echo got $line; exit 5")
			c.Dir = b.bundle
			c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
			require.NoError(t, c.Start())
			slave.Close()
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			out := make(chan string, 1)
			go func() { out <- readAll(master) }()
			time.Sleep(200 * time.Millisecond) // typed ahead is fine: the pty buffers it
			_, err = master.Write([]byte("hi\r"))
			require.NoError(t, err)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = c.Process.Kill()
				t.Fatal("exec -t did not end")
			}
			assert.Equal(t, 5, c.ProcessState.ExitCode())
			assert.Regexp(t, `/dev/pts/[0-9]+\r\n(hi\r\n)?got hi\r\n`, <-out)
		})
	}
}
