package testkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The reference Docker of the interop tests and benchmarks: Debian's
// docker.io 20.10 (dockerd and its own client). /usr/local/bin/docker may be
// a newer client (28.x) that speaks an API version this dockerd refuses, so
// the client is named by its full path.
const (
	DockerdBinary   = "/usr/sbin/dockerd"
	DockerCLIBinary = "/usr/bin/docker"
	// DockerCgroupParent is where the test dockerd puts its containers'
	// cgroups: under minibox's prefix, the only cgroups this project touches.
	DockerCgroupParent = "/" + CgroupPrefix + "/dockerd-test"
)

// DockerdFlags are the daemon's flags besides its paths: no firewall rule
// (--iptables=false; ip6tables is off by default in 20.10, and said so),
// no ip_forward sysctl, no masquerade, no docker0 bridge (containers run
// with --network none), no docker-proxy, cgroups made by dockerd itself
// (cgroupfs, not systemd: PID 1 may not be systemd) under
// DockerCgroupParent, and the vfs storage driver: a layer is a plain
// directory copy, so the daemon makes no overlay mounts on the host.
var DockerdFlags = []string{
	"--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
	"--bridge=none", "--userland-proxy=false",
	"--cgroup-parent=" + DockerCgroupParent, "--exec-opt", "native.cgroupdriver=cgroupfs",
	"--storage-driver=vfs",
}

// dockerFixedPaths are paths that dockerd 20.10 and its containerd 1.6
// create whatever their --exec-root says (containerd's shim sockets live in
// /run/containerd/s); Stop removes those of them that did not exist before
// the daemon started (an empty directory only). /etc/docker/key.json is
// kept away by deprecated-key-path in our own daemon.json.
var dockerFixedPaths = []string{"/run/docker/plugins", "/run/docker", "/run/containerd/s", "/run/containerd", "/run/runc"}

// Docker is a running dockerd of the tests: its data root, exec root,
// socket, pidfile, configuration and log are in Dir, a short directory under
// /tmp (unix(7) socket paths hold at most 107 bytes, and containerd's socket
// lies under the exec root).
type Docker struct {
	Dir           string
	Socket        string        // the API's unix socket
	Host          string        // unix://Socket, the client's -H
	PID           int           // dockerd
	ContainerdPID int           // the containerd that dockerd started (its child)
	StartTime     time.Duration // from exec to the first OK of /_ping

	exited chan struct{}
	proc   *os.Process
}

var (
	dockerMu   sync.Mutex
	sharedOnce sync.Once
	shared     *Docker
	sharedErr  error
	// running holds the daemons that have not been stopped: Snapshot
	// leaves them out of the residue.
	running = map[*Docker]bool{}
	// made is what the running daemons made outside their directories (of
	// dockerFixedPaths and dockerCgroupDirs, what did not exist when the
	// first of them started); the last one to stop removes it.
	made = map[string]bool{}
)

// Dockerd returns the package's test dockerd, started on first use (about
// half a second here) and shared by the package's tests: under Main (the
// package's TestMain) it is stopped when the tests end; without Main each
// test gets its own, stopped in its Cleanup. It needs root; a missing
// dockerd or client skips the test (fails it under MINIBOX_REQUIRE_ROOT=1).
//
// The shared daemon, its containerd, its data-root mount and the cgroup
// parent it makes are not residue of the test that started it (Snapshot
// leaves them out). What a test does with it is: each test's Cleanup fails
// the test, and removes them, if containers are left in the daemon.
func Dockerd(t testing.TB) *Docker {
	t.Helper()
	RequireRoot(t)
	for _, b := range []string{DockerdBinary, DockerCLIBinary, "/usr/bin/containerd", "/usr/sbin/runc"} {
		Require(t, b+" (apt-get install docker.io)", func() error { return executable(b) })
	}
	if !inMain {
		d, err := StartDockerd()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			d.removeContainers(t)
			if err := d.Stop(); err != nil {
				t.Error(err)
			}
		})
		return d
	}
	sharedOnce.Do(func() {
		d, err := StartDockerd()
		dockerMu.Lock()
		shared, sharedErr = d, err
		dockerMu.Unlock()
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	t.Cleanup(func() { shared.removeContainers(t) })
	return shared
}

// StartDockerd starts a dockerd of its own (see Dockerd, which tests use)
// and waits up to 30 s for its API.
func StartDockerd() (*Docker, error) {
	dir, err := os.MkdirTemp("/tmp", "mbd")
	if err != nil {
		return nil, fmt.Errorf("dockerd directory: %w", err)
	}
	d := &Docker{Dir: dir, Socket: filepath.Join(dir, "sock"), exited: make(chan struct{})}
	d.Host = "unix://" + d.Socket
	dockerMu.Lock()
	if len(running) == 0 {
		for _, p := range append(dockerFixedPaths, dockerCgroupNames()...) {
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
				made[p] = true
			}
		}
	}
	running[d] = true
	dockerMu.Unlock()
	// Our own daemon.json (not /etc/docker/daemon.json): 20.10 writes its
	// identity key to /etc/docker/key.json unless told otherwise.
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "{\"deprecated-key-path\": %q}\n", filepath.Join(dir, "key.json")), 0o644); err != nil {
		return nil, d.failStart(fmt.Errorf("dockerd configuration: %w", err))
	}
	if err := os.MkdirAll(filepath.Join(dir, "cli"), 0o700); err != nil {
		return nil, d.failStart(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cli", "config.json"), []byte("{}\n"), 0o600); err != nil {
		return nil, d.failStart(err)
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, d.failStart(err)
	}
	args := append([]string{"--config-file", cfg,
		"--data-root", filepath.Join(dir, "d"), "--exec-root", filepath.Join(dir, "e"),
		"--pidfile", filepath.Join(dir, "pid"), "-H", d.Host}, DockerdFlags...)
	cmd := exec.Command(DockerdBinary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir}
	// Its own process group: a ^C of the test run reaches only the test,
	// which stops the daemon in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, d.failStart(fmt.Errorf("start dockerd: %w", err))
	}
	logf.Close()
	d.proc, d.PID = cmd.Process, cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(d.exited) }()

	client := d.HTTPClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := client.Get("http://docker/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-d.exited:
			return nil, d.failStart(fmt.Errorf("dockerd exited before it answered /_ping: %s", d.Log()))
		default:
		}
		if time.Now().After(deadline) {
			return nil, d.failStart(fmt.Errorf("dockerd did not answer /_ping in 30 s: %s", d.Log()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.StartTime = time.Since(start)
	// dockerd has started its containerd by now (it answers only after).
	b, err := os.ReadFile(filepath.Join(dir, "e", "containerd", "containerd.pid"))
	if err != nil {
		return nil, d.failStart(fmt.Errorf("dockerd's containerd: %w", err))
	}
	if d.ContainerdPID, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return nil, d.failStart(fmt.Errorf("dockerd's containerd pidfile: %w", err))
	}
	return d, nil
}

func (d *Docker) failStart(err error) error {
	if serr := d.Stop(); serr != nil {
		return fmt.Errorf("%w (and stopping it: %v)", err, serr)
	}
	return err
}

// HTTPClient talks to the daemon's API socket (any URL host).
func (d *Docker) HTTPClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.Socket)
		},
	}}
}

// Command is Debian's docker client for this daemon: -H its socket, and a
// configuration directory of its own (no user's config.json, context or
// credential helper is read).
func (d *Docker) Command(args ...string) *exec.Cmd {
	cmd := exec.Command(DockerCLIBinary, append([]string{"-H", d.Host}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + d.Dir, "DOCKER_CONFIG=" + filepath.Join(d.Dir, "cli")}
	return cmd
}

// CLI runs the docker client with args (for at most two minutes) and
// returns how it ended.
func (d *Docker) CLI(t testing.TB, args ...string) Result {
	t.Helper()
	return RunCommand(t, d.Command(args...))
}

// Log is what dockerd wrote so far (for failure messages; the last 4 KiB).
func (d *Docker) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dockerd.log"))
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// removeContainers fails t if the test left containers in the daemon, and
// removes them.
func (d *Docker) removeContainers(t testing.TB) {
	out, err := d.Command("ps", "-aq").Output()
	if err != nil {
		t.Errorf("docker ps -aq: %v", err)
		return
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return
	}
	t.Errorf("left behind: docker containers %s", strings.Join(ids, " "))
	if out, err := d.Command(append([]string{"rm", "-f"}, ids...)...).CombinedOutput(); err != nil {
		t.Errorf("docker rm -f: %v: %s", err, out)
	}
}

// Stop stops the daemon by its PID (SIGTERM; it stops its containerd and
// their shims first) and waits for both to exit (20 s each, then SIGKILL),
// then removes what the daemon leaves outside Dir (the fixed paths and the
// cgroup parent it made) and Dir itself, unless something is still mounted
// under it. Stopping twice is harmless.
func (d *Docker) Stop() error {
	var errs []error
	if d.proc != nil {
		select {
		case <-d.exited:
		default:
			if err := d.proc.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("stop dockerd %d: %w", d.PID, err))
			}
			select {
			case <-d.exited:
			case <-time.After(20 * time.Second):
				errs = append(errs, fmt.Errorf("dockerd %d did not stop in 20 s after SIGTERM: killed", d.PID))
				_ = d.proc.Kill()
				<-d.exited
			}
		}
		d.proc = nil
	}
	if d.ContainerdPID != 0 {
		if err := waitGone(d.ContainerdPID, "containerd", 20*time.Second); err != nil {
			errs = append(errs, err)
		}
		d.ContainerdPID = 0
	}
	dockerMu.Lock()
	delete(running, d)
	if len(running) == 0 { // the last daemon: what they made goes
		for _, c := range dockerCgroupNames() { // deepest first
			if made[c] {
				if err := removeCgroupTree(c); err != nil {
					errs = append(errs, err)
				}
			}
		}
		for _, p := range dockerFixedPaths { // deepest first
			if made[p] {
				if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, fmt.Errorf("remove what dockerd made: %w", err))
				}
			}
		}
		clear(made)
	}
	dockerMu.Unlock()
	if d.Dir != "" {
		if m := mountsUnder(d.Dir); len(m) > 0 {
			errs = append(errs, fmt.Errorf("dockerd left mounts under %s (the directory is kept): %s", d.Dir, strings.Join(m, " ")))
		} else if err := os.RemoveAll(d.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove the dockerd directory: %w", err))
		} else {
			d.Dir = ""
		}
	}
	return errors.Join(errs...)
}

// waitGone waits until pid has exited, and kills it if it is still the
// program named comm after timeout (a PID can be reused: we check the name).
func waitGone(pid int, comm string, timeout time.Duration) error {
	alive := func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		s := string(b)
		i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		// A zombie has exited; it only waits for its parent (or init).
		return i >= 0 && j > i && s[i+1:j] == comm && !strings.HasPrefix(strings.TrimSpace(s[j+1:]), "Z")
	}
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !alive() {
			return nil
		}
	}
	if alive() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return fmt.Errorf("%s %d outlived dockerd by %s: killed", comm, pid, timeout)
	}
	return nil
}

// dockerCgroupNames lists, deepest first, the cgroup directories that the
// daemon's containers make above themselves: DockerCgroupParent and
// minibox's prefix, in every hierarchy (v1's and v2's).
func dockerCgroupNames() []string {
	var out []string
	roots := []string{"/sys/fs/cgroup"}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil { // not v2 alone: v1 hierarchies, maybe v2's "unified"
		es, _ := os.ReadDir("/sys/fs/cgroup")
		roots = roots[:0]
		for _, e := range es {
			if e.IsDir() {
				roots = append(roots, "/sys/fs/cgroup/"+e.Name())
			}
		}
	}
	for _, name := range []string{DockerCgroupParent, "/" + CgroupPrefix} {
		for _, r := range roots {
			out = append(out, r+name)
		}
	}
	return out
}

// removeCgroupTree removes a cgroup directory and its children (rmdir
// only: the kernel refuses a cgroup that still has processes). A directory
// that is gone is fine; minibox's prefix that holds other cgroups is kept.
func removeCgroupTree(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		err := syscall.Rmdir(dirs[i])
		if err == nil || errors.Is(err, syscall.ENOENT) {
			continue
		}
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EBUSY) {
			if strings.HasSuffix(dirs[i], "/"+CgroupPrefix) {
				continue // another cgroup of minibox's lives here
			}
		}
		return fmt.Errorf("remove dockerd's cgroup %s: %w", dirs[i], err)
	}
	return nil
}

// mountsUnder lists the mount points at or under dir.
func mountsUnder(dir string) []string {
	mps, _ := mountPoints()
	var out []string
	for _, m := range mps {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	return out
}

// stopShared stops the package's shared daemon (from Main).
func stopShared() error {
	dockerMu.Lock()
	d := shared
	dockerMu.Unlock()
	if d == nil {
		return nil
	}
	return d.Stop()
}

// leaveOutDaemons removes from r what running test daemons hold by
// design: their own processes, their data-root mount, and the cgroup
// parent they made (a container's cgroup below it is still residue).
func leaveOutDaemons(r *Residue) {
	dockerMu.Lock()
	defer dockerMu.Unlock()
	if len(running) == 0 {
		return
	}
	pids := map[string]bool{}
	mounts := map[string]bool{}
	cgroups := map[string]bool{}
	for d := range running {
		pids[strconv.Itoa(d.PID)] = true
		pids[strconv.Itoa(d.ContainerdPID)] = true
		mounts[filepath.Join(d.Dir, "d")] = true
	}
	for p := range made {
		cgroups[p] = true
	}
	keep := func(l []string, drop func(string) bool) []string {
		var out []string
		for _, x := range l {
			if !drop(x) {
				out = append(out, x)
			}
		}
		return out
	}
	r.Processes = keep(r.Processes, func(p string) bool { pid, _, _ := strings.Cut(p, " "); return pids[pid] })
	r.Mounts = keep(r.Mounts, func(m string) bool { return mounts[m] })
	r.Cgroups = keep(r.Cgroups, func(c string) bool { return cgroups[c] })
}
