package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golang.org/x/sys/unix"

	"minibox/03-rootfs/oci"
	"minibox/internal/testkit"
)

// runtimeBox is a state directory and a bundle for the OCI command tests.
type runtimeBox struct {
	t            *testing.T
	root, bundle string
	spec         *specs.Spec
	inits        []int // PIDs of the inits that `create` made
}

// newBundle makes a bundle with our own `spec` command around a busybox
// root, with args as the process.
func newBundle(t *testing.T, args ...string) *runtimeBox {
	t.Helper()
	return newBundleWith(t, testkit.Command(testkit.Self(t), "spec"), args)
}

// newRuncBundle makes the bundle with `runc spec`, the reference tool's
// own template.
func newRuncBundle(t *testing.T, args ...string) *runtimeBox {
	t.Helper()
	testkit.Require(t, "runc (apt-get install runc) for `runc spec`", func() error {
		_, err := exec.LookPath("runc")
		return err
	})
	return newBundleWith(t, exec.Command("runc", "spec"), args)
}

func newBundleWith(t *testing.T, cmd *exec.Cmd, args []string) *runtimeBox {
	t.Helper()
	b := &runtimeBox{t: t, root: t.TempDir(), bundle: t.TempDir()}
	require.NoError(t, os.Rename(testkit.RootfsCopy(t), filepath.Join(b.bundle, "rootfs")))
	cmd.Dir = b.bundle
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%v: %s", cmd.Args, out)
	data, err := os.ReadFile(filepath.Join(b.bundle, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &b.spec))
	b.spec.Process.Terminal = false
	b.spec.Process.Args = args
	b.save()
	// A created container's init outlives the runtime process that made
	// it, and the kernel gives such orphans to the nearest "subreaper"
	// among their ancestors (else to PID 1). We become one, so that we can
	// reap the inits ourselves and leave no zombie behind.
	require.NoError(t, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	// Whatever a failed test left running is killed and removed.
	t.Cleanup(func() {
		states, _ := (oci.Store{Root: b.root}).List()
		for _, st := range states {
			b.cmd("delete", "--force", st.ID)
		}
		b.reap()
	})
	return b
}

// reap waits for the inits of the containers this test created. Each is
// waited for by its PID, so that no other child's status is taken.
func (b *runtimeBox) reap() {
	for _, pid := range b.inits {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			var ws unix.WaitStatus
			got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR || (err == nil && got == 0) {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			break // reaped, or not our child (ECHILD)
		}
	}
	b.inits = nil
}

// save writes b.spec as the bundle's config.json.
func (b *runtimeBox) save() {
	data, err := json.MarshalIndent(b.spec, "", "  ")
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(b.bundle, "config.json"), data, 0o644))
}

// cmd runs the runtime with --root. stdout and stderr are files, not pipes:
// a created container keeps the caller's stdio, and a pipe would stay open
// (and a reader waiting) for as long as the container lives.
func (b *runtimeBox) cmd(args ...string) testkit.Result {
	b.t.Helper()
	dir := b.t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	require.NoError(b.t, err)
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	require.NoError(b.t, err)
	defer stderr.Close()
	c := testkit.Command(testkit.Self(b.t), append([]string{"--root", b.root}, args...)...)
	c.Dir = b.bundle
	c.Stdout, c.Stderr = stdout, stderr
	err = c.Run()
	if err != nil {
		_, isExit := err.(*exec.ExitError)
		require.True(b.t, isExit, "run the runtime: %v", err)
	}
	if len(args) > 0 && args[0] == "create" && c.ProcessState.ExitCode() == 0 {
		id := args[len(args)-1]
		if data, err := os.ReadFile(filepath.Join(b.root, id, "state.json")); err == nil {
			var st specs.State
			if json.Unmarshal(data, &st) == nil {
				b.inits = append(b.inits, st.Pid)
			}
		}
	}
	out, _ := os.ReadFile(stdout.Name())
	errb, _ := os.ReadFile(stderr.Name())
	return testkit.Result{Code: c.ProcessState.ExitCode(), Stdout: string(out), Stderr: string(errb)}
}

// ok runs a runtime command that must succeed.
func (b *runtimeBox) ok(args ...string) string {
	b.t.Helper()
	r := b.cmd(args...)
	require.Equal(b.t, 0, r.Code, "%v: %s", args, r.Stderr)
	return r.Stdout
}

// state reads `state ID`.
func (b *runtimeBox) state(id string) specs.State {
	b.t.Helper()
	var st specs.State
	require.NoError(b.t, json.Unmarshal([]byte(b.ok("state", id)), &st))
	return st
}

// waitStatus polls `state` until the container has status want.
func (b *runtimeBox) waitStatus(id string, want specs.ContainerState) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := b.state(id)
		if st.Status == want {
			return
		}
		require.True(b.t, time.Now().Before(deadline), "container %s is %s, want %s", id, st.Status, want)
		time.Sleep(10 * time.Millisecond)
	}
}

// inRoot is a file in the bundle's root filesystem.
func (b *runtimeBox) inRoot(name string) string { return filepath.Join(b.bundle, "rootfs", name) }

func TestLifecycleOnARuncSpecBundle(t *testing.T) {
	testkit.Root(t)
	word := randName("hello-")
	b := newRuncBundle(t, "sh", "-c", "echo "+word+" > /tmp/out; sleep 0.2")
	b.spec.Root.Readonly = false
	b.save()
	id := randName("c")
	pidFile := filepath.Join(t.TempDir(), "pid")

	b.ok("create", "--bundle", b.bundle, "--pid-file", pidFile, id)
	st := b.state(id)
	assert.Equal(t, specs.StateCreated, st.Status)
	assert.Equal(t, id, st.ID)
	assert.Equal(t, b.bundle, st.Bundle)
	assert.Equal(t, b.spec.Version, st.Version)
	pid, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(st.Pid), string(pid), "the pid file holds the init's host PID")
	// create must not run the program: the init waits at its gate, set up.
	assert.NoFileExists(t, b.inRoot("tmp/out"))
	require.FileExists(t, "/proc/"+string(pid)+"/ns/mnt")
	ours, err := os.Readlink("/proc/self/ns/mnt")
	require.NoError(t, err)
	theirs, err := os.Readlink("/proc/" + string(pid) + "/ns/mnt")
	require.NoError(t, err)
	assert.NotEqual(t, ours, theirs)
	theirRoot, err := os.Stat("/proc/" + string(pid) + "/root/")
	require.NoError(t, err)
	rootfs, err := os.Stat(filepath.Join(b.bundle, "rootfs"))
	require.NoError(t, err)
	assert.True(t, os.SameFile(rootfs, theirRoot), "pivot_root happened at create")

	r := b.cmd("delete", id)
	assert.Equal(t, 1, r.Code, "a created container is not stopped: delete needs --force")
	assert.Contains(t, r.Stderr, "not stopped")

	b.ok("start", id)
	r = b.cmd("start", id)
	assert.Equal(t, 1, r.Code, "start twice")
	// Nobody waits for the init: state must see on its own that it ended.
	b.waitStatus(id, specs.StateStopped)
	out, err := os.ReadFile(b.inRoot("tmp/out"))
	require.NoError(t, err)
	assert.Equal(t, word+"\n", string(out))

	r = b.cmd("kill", id, "KILL")
	assert.Equal(t, 1, r.Code, "a stopped container cannot be signalled")
	b.ok("delete", id)
	r = b.cmd("state", id)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "does not exist")
	assert.NoDirExists(t, filepath.Join(b.root, id))
	assert.NoDirExists(t, "/sys/fs/cgroup/pids/minibox/"+id)
	assert.NoDirExists(t, "/sys/fs/cgroup/minibox/"+id)
}

func TestKillAndForcedDelete(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "sleep", "1000")
	for _, sig := range []string{"TERM", "SIGKILL", "9"} {
		t.Run(sig, func(t *testing.T) {
			id := randName("k")
			b.ok("create", id)
			b.ok("start", id)
			b.waitStatus(id, specs.StateRunning)
			// sleep is PID 1 of its namespace: the kernel drops a TERM it
			// has no handler for, so TERM must leave it running.
			b.ok("kill", id, sig)
			if sig == "TERM" {
				time.Sleep(100 * time.Millisecond)
				assert.Equal(t, specs.StateRunning, b.state(id).Status)
				b.ok("delete", "--force", id)
				return
			}
			b.waitStatus(id, specs.StateStopped)
			b.ok("delete", id)
		})
	}
	r := b.cmd("kill", randName("nope"), "KILL")
	assert.Equal(t, 1, r.Code)
	id := randName("k")
	b.ok("create", id)
	r = b.cmd("kill", id, "SIGNOPE")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "unknown signal")
	b.ok("delete", "--force", id)
	assert.NoDirExists(t, filepath.Join(b.root, id))
}

func TestCreateRefusesBadInput(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "true")
	id := randName("c")
	b.ok("create", id)
	r := b.cmd("create", id)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "already exists")
	assert.Equal(t, specs.StateCreated, b.state(id).Status, "the first container is untouched")
	b.ok("delete", "--force", id)

	for name, change := range map[string]func(s *specs.Spec){
		"version":    func(s *specs.Spec) { s.Version = "2.0.0" },
		"no command": func(s *specs.Spec) { s.Process.Args = []string{"/no/such/program"} },
		"bad cap":    func(s *specs.Spec) { s.Process.Capabilities.Bounding = []string{"CAP_NOPE"} },
	} {
		t.Run(name, func(t *testing.T) {
			saved := *b.spec
			proc := *b.spec.Process
			caps := *proc.Capabilities
			proc.Capabilities = &caps
			b.spec.Process = &proc
			change(b.spec)
			b.save()
			defer func() { *b.spec = saved; b.save() }()
			r := b.cmd("create", id)
			assert.NotEqual(t, 0, r.Code)
			assert.NotEmpty(t, r.Stderr)
			assert.NoDirExists(t, filepath.Join(b.root, id), "a failed create leaves no state")
		})
	}
}

func TestHooksRunAtTheirMoments(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "sh", "-c", "echo program >> /hooks/log")
	logDir := t.TempDir()
	log := filepath.Join(logDir, "log")
	// A hook appends its name and the state it read from stdin. Hooks run
	// in the runtime's mount namespace, except startContainer (after
	// pivot_root), which reaches the same file through a bind mount.
	hook := func(name, file string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `read -r s; echo "` + name + ` $s" >> ` + file}}
	}
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/hooks", Type: "bind", Source: logDir, Options: []string{"rbind", "rw"}})
	b.spec.Hooks = &specs.Hooks{
		Prestart:        []specs.Hook{hook("prestart", log)}, //nolint:staticcheck // still part of the spec
		CreateRuntime:   []specs.Hook{hook("createRuntime", log)},
		CreateContainer: []specs.Hook{hook("createContainer", log)},
		StartContainer:  []specs.Hook{hook("startContainer", "/hooks/log")},
		Poststart:       []specs.Hook{hook("poststart", log)},
		Poststop:        []specs.Hook{hook("poststop", log)},
	}
	b.spec.Annotations = map[string]string{"course": randName("a")}
	b.save()
	id := randName("h")
	b.ok("create", id)
	pid := b.state(id).Pid
	b.ok("start", id)
	b.waitStatus(id, specs.StateStopped)
	b.ok("delete", id)

	data, err := os.ReadFile(log)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var names []string
	for _, l := range lines {
		name, js, _ := strings.Cut(l, " ")
		names = append(names, name)
		if name == "program" {
			continue
		}
		var st specs.State
		require.NoError(t, json.Unmarshal([]byte(js), &st), "%s got %q", name, js)
		assert.Equal(t, id, st.ID, name)
		wantStatus := specs.StateCreated // after the environment is made (the spec's step 2)
		if name == "poststart" {
			wantStatus = specs.StateRunning
		} else if name == "poststop" {
			wantStatus = specs.StateStopped
		}
		assert.Equal(t, wantStatus, st.Status, name)
		assert.Equal(t, b.bundle, st.Bundle, name)
		assert.Equal(t, pid, st.Pid, name)
		assert.Equal(t, b.spec.Annotations, st.Annotations, name)
	}
	// poststart may run while the program does: both orders are right.
	assert.Subset(t, []string{"prestart", "createRuntime", "createContainer", "startContainer", "program", "poststart", "poststop"}, names)
	assert.Equal(t, []string{"prestart", "createRuntime", "createContainer", "startContainer"}, names[:4])
	assert.Equal(t, "poststop", names[len(names)-1])
}

func TestFailingHookFailsCreate(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "true")
	b.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo no network for you >&2; exit 3"}}}}
	b.save()
	id := randName("h")
	r := b.cmd("create", id)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "createRuntime hook #0")
	assert.Contains(t, r.Stderr, "no network for you")
	assert.NoDirExists(t, filepath.Join(b.root, id))
}

func TestConsoleSocket(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "sh", "-c", "tty; echo $((6*7))")
	b.spec.Process.Terminal = true
	b.save()
	id := randName("t")
	r := b.cmd("create", id)
	assert.Equal(t, 1, r.Code, "a terminal needs a console socket")
	assert.Contains(t, r.Stderr, "--console-socket")

	sock, got := consoleSocket(t)
	b.ok("create", "--console-socket", sock, id)
	master := <-got
	require.NotNil(t, master, "the runtime sent the pty master")
	defer master.Close()
	b.ok("start", id)
	b.waitStatus(id, specs.StateStopped)
	b.ok("delete", id)
	buf := make([]byte, 256)
	var out []byte
	for {
		n, err := master.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break // EIO: the slave side is closed
		}
	}
	assert.Equal(t, "/dev/pts/0\r\n42\r\n", string(out), "the pty comes from the container's own devpts")
}

func TestLogFile(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "true")
	log := filepath.Join(t.TempDir(), "log.json")
	id := randName("missing")
	r := b.cmd("--log", log, "--log-format", "json", "start", id)
	assert.Equal(t, 1, r.Code)
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	var entry struct{ Level, Msg, Time string }
	require.NoError(t, json.Unmarshal(data, &entry), "%s", data)
	assert.Equal(t, "error", entry.Level)
	assert.Contains(t, entry.Msg, id)
	_, err = time.Parse(time.RFC3339Nano, entry.Time)
	assert.NoError(t, err)
	r = b.cmd("--log-format", "yaml", "list")
	assert.Equal(t, 1, r.Code)
}

func TestSpecWritesAConfigOnce(t *testing.T) {
	dir := t.TempDir()
	cmd := testkit.Command(testkit.Self(t), "spec", "--bundle", dir)
	r := testkit.RunCommand(t, cmd)
	require.Equal(t, 0, r.Code, r.Stderr)
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	spec, err := oci.ParseConfig(data)
	require.NoError(t, err)
	assert.Equal(t, []string{"sh"}, spec.Process.Args)
	assert.True(t, spec.Process.Terminal)
	r = testkit.RunCommand(t, testkit.Command(testkit.Self(t), "spec", "--bundle", dir))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "exists already")
}

func TestRunBundle(t *testing.T) {
	testkit.Root(t)
	id := randName("r")
	b := newBundle(t, "sh", "-c", "echo $(hostname) $(grep -c minibox /proc/self/cgroup) $(ls /sys/fs/cgroup | grep -c .); exit 7")
	b.spec.Hostname = randName("h")
	b.save()
	r := b.cmd("run", "--bundle", b.bundle, id)
	assert.Equal(t, 7, r.Code, r.Stderr)
	// Its own hostname; its cgroup namespace hides where its cgroup is,
	// and /sys/fs/cgroup (the "cgroup" mount of `spec`) is not empty.
	assert.Regexp(t, "^"+b.spec.Hostname+" 0 [1-9][0-9]*\n$", r.Stdout)
	assert.NoDirExists(t, filepath.Join(b.root, id), "run deletes the container")
	assert.Equal(t, "", strings.TrimSpace(b.ok("list", "-q")))
}

// TestJoinAnotherContainersNamespaces puts a second container into the
// network, IPC and UTS namespaces of a first one, by path, as Kubernetes
// does with the containers of a pod.
func TestJoinAnotherContainersNamespaces(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "sleep", "1000")
	first := randName("pod")
	b.ok("create", first)
	pid := b.state(first).Pid

	shared := []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace}
	file := map[specs.LinuxNamespaceType]string{specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts"}
	for i, ns := range b.spec.Linux.Namespaces {
		for _, s := range shared {
			if ns.Type == s {
				b.spec.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", pid, file[s])
			}
		}
	}
	b.save()
	second := randName("pod")
	b.ok("create", second)
	pid2 := b.state(second).Pid
	for _, name := range []string{"net", "ipc", "uts", "pid", "mnt"} {
		a, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, name))
		require.NoError(t, err)
		c, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid2, name))
		require.NoError(t, err)
		if name == "pid" || name == "mnt" {
			assert.NotEqual(t, a, c, "%s: new for each container", name)
		} else {
			assert.Equal(t, a, c, "%s: joined", name)
		}
	}
	ours, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid2))
	require.NoError(t, err)
	assert.NotEqual(t, ours, theirs, "joined the first container's network namespace, not the host's")
	b.ok("delete", "--force", second)
	b.ok("delete", "--force", first)

	// The mount namespace cannot be joined from Go: a clear error.
	for i, ns := range b.spec.Linux.Namespaces {
		if ns.Type == specs.MountNamespace {
			b.spec.Linux.Namespaces[i].Path = "/proc/self/ns/mnt"
		}
	}
	b.save()
	r := b.cmd("create", randName("mnt"))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "single-threaded")
}

// TestCgroupMountShowsItsOwnCgroup: the "cgroup" mount of a bundle shows
// the container's own cgroup (its pids.max is the bundle's limit), made
// fresh in a cgroup namespace and bind-mounted without one.
func TestCgroupMountShowsItsOwnCgroup(t *testing.T) {
	testkit.Root(t)
	for _, cgroupNS := range []bool{true, false} {
		t.Run(fmt.Sprintf("cgroupns=%v", cgroupNS), func(t *testing.T) {
			b := newBundle(t, "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; ls /sys/fs/cgroup/systemd 2>/dev/null | wc -l")
			limit := int64(50 + rand.IntN(50))
			b.spec.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}
			if !cgroupNS {
				var kept []specs.LinuxNamespace
				for _, ns := range b.spec.Linux.Namespaces {
					if ns.Type != specs.CgroupNamespace {
						kept = append(kept, ns)
					}
				}
				b.spec.Linux.Namespaces = kept
			}
			b.save()
			r := b.cmd("run", randName("cg"))
			require.Equal(t, 0, r.Code, r.Stderr)
			lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
			require.Len(t, lines, 2, r.Stdout)
			assert.Equal(t, strconv.FormatInt(limit, 10), lines[0])
			assert.Equal(t, "0", lines[1], "a hierarchy without a cgroup of the container's own shows nothing of the host")
		})
	}
}

// TestAddressSpaceLimitAfterAWait: a created container waits for start
// with its init, a Go program that has reserved more address space than
// the RLIMIT_AS the bundle asks for. The limit must bind the program, not
// the waiting init.
func TestAddressSpaceLimitAfterAWait(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "sh", "-c", "ulimit -v > /dev/shm/x; cat /dev/shm/x")
	b.spec.Process.Rlimits = append(b.spec.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_AS", Soft: 48 << 20, Hard: 64 << 20})
	b.save()
	id := randName("as")
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	require.NoError(t, err)
	defer f.Close()
	c := testkit.Command(testkit.Self(t), "--root", b.root, "create", id)
	c.Dir, c.Stdout, c.Stderr = b.bundle, f, f
	require.NoError(t, c.Run())
	b.inits = append(b.inits, b.state(id).Pid)
	time.Sleep(300 * time.Millisecond) // the init's Go runtime goes on living meanwhile
	require.Equal(t, specs.StateCreated, b.state(id).Status)
	b.ok("start", id)
	b.waitStatus(id, specs.StateStopped)
	b.ok("delete", id)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "49152\n", string(data))
}

// TestDeleteForceRemovesAHalfCreatedContainer: a create killed before it
// wrote state.json leaves a state directory; delete --force cleans it up.
func TestDeleteForceRemovesAHalfCreatedContainer(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "true")
	id := randName("half")
	dir := filepath.Join(b.root, id)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	data, err := os.ReadFile(filepath.Join(b.bundle, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600))

	r := b.cmd("state", id)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "never fully created")
	r = b.cmd("delete", id)
	assert.Equal(t, 1, r.Code)
	assert.DirExists(t, dir)
	b.ok("delete", "--force", id)
	assert.NoDirExists(t, dir)
	b.ok("create", id)
	b.ok("delete", "--force", id)
}

// TestReviewRegressions covers what a review of the runtime found.
func TestReviewRegressions(t *testing.T) {
	testkit.Root(t)
	testkit.Require(t, "the loop driver (/dev/loop-control)", func() error {
		_, err := os.Stat("/dev/loop-control")
		return err
	})

	t.Run("a bundle without device rules still denies host devices", func(t *testing.T) {
		b := newBundle(t, "sh", "-c", "mknod /mnt/lc c 10 237 && cat /mnt/lc >/dev/null 2>/mnt/err; cat /mnt/err; echo x > /dev/null && echo null-ok")
		b.spec.Root.Readonly = false
		b.spec.Linux.Resources = nil
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{"dev"}})
		b.save()
		r := b.cmd("run", randName("dev"))
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Regexp(t, `can't open '/mnt/lc': (Operation not permitted|Permission denied)`, r.Stdout)
		assert.Contains(t, r.Stdout, "null-ok")
	})

	t.Run("a cgroup in use is refused and left alone", func(t *testing.T) {
		b := newBundle(t, "sleep", "1000")
		id := randName("cg")
		b.ok("create", id)
		pid := b.state(id).Pid
		other := &runtimeBox{t: t, root: t.TempDir(), bundle: b.bundle, spec: b.spec}
		r := other.cmd("create", id) // same ID, so the same default cgroup path
		assert.Equal(t, 1, r.Code)
		assert.Contains(t, r.Stderr, "already exists: another container uses it")
		assert.NoError(t, unix.Kill(pid, 0), "the first container still runs")
		assert.Equal(t, specs.StateCreated, b.state(id).Status)
		b.ok("delete", "--force", id)
	})

	t.Run("hooks and the program inherit none of the runtime's descriptors", func(t *testing.T) {
		b := newBundle(t, "ls", "/proc/self/fd")
		log := filepath.Join(t.TempDir(), "fds")
		b.spec.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "ls /proc/self/fd > " + log}}}}
		b.save()
		out := b.ok("run", randName("fd"))
		assert.ElementsMatch(t, []string{"0", "1", "2", "3"}, strings.Fields(out), "the program: stdio and ls's own directory only")
		data, err := os.ReadFile(log)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"0", "1", "2", "3"}, strings.Fields(string(data)), "the hook: stdio and ls's own directory only")
	})
}

// consoleSocket listens on a new console socket (closed when t ends) and
// returns its path and where the pty master the runtime sends arrives (nil
// if none came).
func consoleSocket(t *testing.T) (string, <-chan *os.File) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	got := make(chan *os.File, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer conn.Close()
		f, _ := conn.File()
		defer f.Close()
		master, err := oci.ReceiveConsole(f)
		if err != nil {
			master = nil
		}
		got <- master
	}()
	return sock, got
}
