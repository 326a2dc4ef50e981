package rootfs_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/namespaces"
	"minibox/03-rootfs/rootfs"
	"minibox/internal/testkit"
)

// The test binary is three programs: the tests, the container's init (with
// this lesson's steps) and, copied into a container's root as /probe, the
// breakout probe of probe_linux_test.go.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == probeArg {
		os.Exit(runProbe(os.Args[2:]))
	}
	testkit.MainProgram(m, func() {
		if namespaces.IsInit() {
			namespaces.InitWithGate(rootfs.LateRlimits, rootfs.Setup, rootfs.Finish)
		}
	})
}

// nsAll are the namespaces of our test containers. No cgroup namespace:
// lesson 01's init unshares it after the steps, and by then Finish has
// dropped CAP_SYS_ADMIN (see the lesson's notes).
var nsAll = []specs.LinuxNamespace{
	{Type: specs.PIDNamespace}, {Type: specs.UTSNamespace}, {Type: specs.IPCNamespace},
	{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace},
}

// newSpec is a container as `docker run` would make it: Docker's mounts,
// masked and read-only paths and capabilities, running args in root.
func newSpec(root string, args ...string) *specs.Spec {
	return &specs.Spec{
		Version:  specs.Version,
		Hostname: "rootfs-test",
		Root:     &specs.Root{Path: root},
		Mounts:   rootfs.DefaultMounts(),
		Process: &specs.Process{
			Args:         args,
			Env:          []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
			Cwd:          "/",
			Capabilities: rootfs.CapabilitiesOf(rootfs.DefaultCapabilities()),
		},
		Linux: &specs.Linux{
			Namespaces:    append([]specs.LinuxNamespace(nil), nsAll...),
			MaskedPaths:   rootfs.DefaultMaskedPaths(),
			ReadonlyPaths: rootfs.DefaultReadonlyPaths(),
		},
	}
}

// sh runs a shell script in a Docker-like container.
func sh(root, script string) *specs.Spec { return newSpec(root, "sh", "-c", script) }

type result struct {
	code           int
	stdout, stderr string
	startErr       error // the init's report when the command never started
}

// run runs spec to the end through lesson 01's Start/Release/Wait.
func run(t *testing.T, spec *specs.Spec) result {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	require.NoError(t, err)
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	require.NoError(t, err)
	defer errf.Close()
	c, err := namespaces.Start(spec, namespaces.Stdio{Stdout: out, Stderr: errf})
	require.NoError(t, err)
	timer := time.AfterFunc(time.Minute, func() { _ = unix.Kill(c.Pid, unix.SIGKILL) })
	defer timer.Stop()
	var r result
	r.startErr = c.Release()
	r.code, err = c.Wait()
	require.NoError(t, err)
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	r.stdout, r.stderr = string(o), string(e)
	return r
}

// ok runs spec and requires that it ran and exited 0.
func ok(t *testing.T, spec *specs.Spec) string {
	t.Helper()
	r := run(t, spec)
	require.NoError(t, r.startErr)
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	return r.stdout
}

func randomName(prefix string) string { return fmt.Sprintf("%s-%08x", prefix, rand.Uint32()) }

// mountinfo parses /proc/self/mountinfo text into mount point -> options
// (the per-mount ones, field 6, e.g. "ro,nosuid") and the mount's root.
type mountEntry struct{ root, point, options, fstype string }

func parseMountinfo(s string) []mountEntry {
	var out []mountEntry
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(l)
		if len(f) < 10 {
			continue
		}
		i := 6
		for i < len(f) && f[i] != "-" {
			i++
		}
		out = append(out, mountEntry{root: f[3], point: f[4], options: f[5], fstype: f[i+1]})
	}
	return out
}

func TestPivotRootHidesTheHost(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	inside := randomName("inside")
	require.NoError(t, os.WriteFile(filepath.Join(root, inside), []byte("x"), 0o644))
	hostDir := t.TempDir()
	marker := filepath.Join(hostDir, randomName("host-marker"))
	secret := randomName("secret")
	require.NoError(t, os.WriteFile(marker, []byte(secret), 0o644))

	out := ok(t, sh(root, fmt.Sprintf(`cat /proc/self/mountinfo; echo ---
cd /../../..; pwd; ls -a; echo ---
ls %s 2>&1 || echo unreachable; cat %s 2>&1 || echo unreachable`, hostDir, marker)))
	parts := strings.Split(out, "---\n")
	require.Len(t, parts, 3, out)

	mounts := parseMountinfo(parts[0])
	var rootMounts []mountEntry
	for _, m := range mounts {
		if m.point == "/" {
			rootMounts = append(rootMounts, m)
		}
		ok := m.point == "/" || m.point == "/proc" || m.point == "/sys" || m.point == "/dev" ||
			strings.HasPrefix(m.point, "/proc/") || strings.HasPrefix(m.point, "/sys/") || strings.HasPrefix(m.point, "/dev/")
		assert.True(t, ok, "a mount the container should not have: %+v", m)
	}
	require.Len(t, rootMounts, 1, "exactly one root mount: the host's old root is detached")
	assert.True(t, strings.HasSuffix(rootMounts[0].root, strings.TrimPrefix(root, "/")) || strings.HasSuffix(root, rootMounts[0].root),
		"/ is the rootfs directory %s, got %s", root, rootMounts[0].root)

	listing := strings.Fields(parts[1])
	assert.Equal(t, "/", listing[0], "cd /../../.. stays at the container's root")
	assert.Contains(t, listing, inside, "the file planted in the rootfs is at /")
	assert.Contains(t, listing, "bin")
	assert.NotContains(t, listing, filepath.Base(marker))
	assert.Equal(t, 2, strings.Count(parts[2], "unreachable"), "the host's files are out of reach: %s", parts[2])
	assert.NotContains(t, parts[2], secret)
}

func TestDevHasItsNodesAndLinks(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	out := ok(t, sh(root, `stat -c '%n %F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty
stat -c 'devmode %a' /dev
for l in fd stdin stdout stderr ptmx; do echo link $l $(readlink /dev/$l); done
test -c /dev/pts/ptmx && echo ptmx-node
test -d /dev/shm && echo shm-dir
echo x > /dev/null && echo null-ok
echo urandom $(head -c 8 /dev/urandom | wc -c)
echo zero $(head -c 5 /dev/zero | wc -c)
echo full-write; echo x > /dev/full || echo full-refused
grep -E ' /dev(/[a-z]+)? ' /proc/self/mountinfo | sed 's/.* - /type /'`))
	for _, want := range []string{
		"/dev/null character special file 1:3 666",
		"/dev/zero character special file 1:5 666",
		"/dev/full character special file 1:7 666",
		"/dev/random character special file 1:8 666",
		"/dev/urandom character special file 1:9 666",
		"/dev/tty character special file 5:0 666",
		"devmode 755",
		"link fd /proc/self/fd",
		"link stdin /proc/self/fd/0",
		"link stdout /proc/self/fd/1",
		"link stderr /proc/self/fd/2",
		"link ptmx pts/ptmx",
		"ptmx-node", "shm-dir", "null-ok", "urandom 8", "zero 5", "full-refused",
	} {
		assert.Contains(t, out, want+"\n")
	}
	for _, typ := range []string{"type tmpfs", "type devpts", "type mqueue"} {
		assert.Contains(t, out, typ)
	}
}

func TestMountsInOrderWithOptions(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	rw, ro := t.TempDir(), t.TempDir()
	secret := randomName("content")
	name := randomName("file")
	require.NoError(t, os.WriteFile(filepath.Join(rw, name), []byte(secret), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(ro, name), []byte(secret), 0o644))
	hostFile := filepath.Join(t.TempDir(), "single")
	require.NoError(t, os.WriteFile(hostFile, []byte(secret), 0o644))

	spec := sh(root, fmt.Sprintf(`cat /data/%[1]s; echo
cat /data/ro/%[1]s; echo
cat /etc/single; echo
touch /data/ro/new 2>&1 || echo ro-refused
touch /data/created && echo rw-ok
touch /sys/x 2>&1 || echo sys-refused
grep -E ' /(data|data/ro|etc/single|sys|tmp) ' /proc/self/mountinfo`, name))
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: rw, Options: []string{"rbind", "nosuid", "nodev"}},
		// Mounted inside the previous one: order matters.
		specs.Mount{Destination: "/data/ro", Type: "bind", Source: ro, Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/etc/single", Source: hostFile, Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec", "size=1m"}},
	)
	out := ok(t, spec)
	lines := strings.Split(out, "\n")
	require.GreaterOrEqual(t, len(lines), 3, out)
	assert.Equal(t, []string{secret, secret, secret}, lines[:3], "the host's files are visible through the bind mounts")
	assert.Contains(t, out, "Read-only file system")
	assert.Contains(t, out, "ro-refused")
	assert.Contains(t, out, "rw-ok")
	assert.Contains(t, out, "sys-refused")
	assert.FileExists(t, filepath.Join(rw, "created"), "a write through a rw bind mount lands on the host")
	assert.NoFileExists(t, filepath.Join(ro, "new"))

	opts := map[string]string{}
	for _, m := range parseMountinfo(out[strings.Index(out, "rw-ok"):]) {
		opts[m.point] = m.options
	}
	assert.Regexp(t, `^ro,`, opts["/data/ro"])
	assert.Regexp(t, `^ro,`, opts["/etc/single"])
	assert.Regexp(t, `^ro,`, opts["/sys"])
	assert.Regexp(t, `^rw,nosuid,nodev`, opts["/data"])
	assert.Contains(t, opts["/tmp"], "noexec")

	// A mount point that the image lacks is created, as a file for a file.
	fi, err := os.Stat(filepath.Join(root, "etc/single"))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular())
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	script := `echo timer_list $(cat /proc/timer_list | wc -c)
echo keys $(cat /proc/keys | wc -c)
echo firmware $(ls -A /sys/firmware | wc -l)
echo 0 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo ns_last_pid-written || echo ns_last_pid-refused
echo mountinfo
cat /proc/self/mountinfo`
	out := ok(t, sh(root, script))
	assert.Contains(t, out, "timer_list 0\n")
	assert.Contains(t, out, "keys 0\n")
	assert.Contains(t, out, "firmware 0\n")
	assert.Contains(t, out, "ns_last_pid-refused\n")

	// Every path of the lists that this kernel has is a mount of its own:
	// read-only for ReadonlyPaths; for MaskedPaths /dev/null over a file,
	// an empty read-only tmpfs over a directory. The container's /proc and
	// /sys are fresh instances of the host's kernel: a path the host has,
	// the container has.
	mounts := containerMounts(t, out)
	checked := 0
	for _, p := range rootfs.DefaultReadonlyPaths() {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		checked++
		if m, ok := mounts[p]; assert.True(t, ok, "read-only path %s is a mount", p) {
			assert.Regexp(t, `^ro(,|$)`, m.options, "read-only path %s", p)
		}
	}
	require.NotZero(t, checked, "this kernel has none of the read-only paths")
	checked = 0
	for _, p := range rootfs.DefaultMaskedPaths() {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		checked++
		m, ok := mounts[p]
		if !assert.True(t, ok, "masked path %s is a mount", p) {
			continue
		}
		if fi.IsDir() {
			assert.Equal(t, "tmpfs", m.fstype, "masked directory %s", p)
			assert.Regexp(t, `^ro(,|$)`, m.options, "masked directory %s", p)
		} else {
			assert.Equal(t, "/null", m.root, "masked file %s is the container's /dev/null", p)
		}
	}
	require.NotZero(t, checked, "this kernel has none of the masked paths")

	// The same container without the lists and with every capability:
	// the files are there and writable, so it is the lists that protect.
	spec := sh(root, script)
	spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil
	spec.Process.Capabilities = rootfs.CapabilitiesOf(rootfs.AllCapabilities())
	out = ok(t, spec)
	assert.NotContains(t, out, "timer_list 0\n")
	assert.NotContains(t, out, "firmware 0\n")
	assert.Contains(t, out, "ns_last_pid-written\n")
	mounts = containerMounts(t, out)
	for _, p := range append(rootfs.DefaultReadonlyPaths(), rootfs.DefaultMaskedPaths()...) {
		assert.NotContains(t, mounts, p, "without the lists nothing is mounted on %s", p)
	}
}

// containerMounts parses the mountinfo that follows the line "mountinfo" in
// out into mount point -> the mount on top there (the last one listed).
func containerMounts(t *testing.T, out string) map[string]mountEntry {
	t.Helper()
	_, info, found := strings.Cut(out, "mountinfo\n")
	require.True(t, found, "the script printed its mountinfo: %s", out)
	mounts := map[string]mountEntry{}
	for _, m := range parseMountinfo(info) {
		mounts[m.point] = m
	}
	require.Contains(t, mounts, "/", "mountinfo: %s", info)
	return mounts
}

func TestReadonlyRootAndSysctl(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	spec := sh(root, `touch /x 2>&1 || echo root-refused
touch /tmp/y && echo tmp-ok
cat /proc/sys/net/ipv4/ip_unprivileged_port_start`)
	spec.Root.Readonly = true
	port := strconv.Itoa(100 + rand.IntN(900))
	spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": port}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}})
	out := ok(t, spec)
	assert.Contains(t, out, "Read-only file system")
	assert.Contains(t, out, "root-refused\n")
	assert.Contains(t, out, "tmp-ok\n")
	assert.Contains(t, out, port+"\n", "the sysctl was written in the container's network namespace")
	host, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	require.NoError(t, err)
	assert.NotEqual(t, port, strings.TrimSpace(string(host)), "the host's value is its own")
	assert.NoFileExists(t, filepath.Join(root, "x"))

	// A sysctl of the whole machine is refused before anything runs.
	spec = sh(root, "true")
	spec.Linux.Sysctl = map[string]string{"kernel.panic": "1"}
	r := run(t, spec)
	require.Error(t, r.startErr)
	assert.Contains(t, r.startErr.Error(), "not namespaced")
}

func TestWorkingDirectoryIsCreated(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	dir := "/work/" + randomName("dir") + "/deeper"
	spec := sh(root, "pwd")
	spec.Process.Cwd = dir
	assert.Equal(t, dir+"\n", ok(t, spec))
	assert.DirExists(t, filepath.Join(root, dir))
}

func TestUser(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	uid := 1000 + rand.IntN(50000)
	g1, g2 := uid+1, uid+2
	appendFile(t, filepath.Join(root, "etc/passwd"), fmt.Sprintf("alice:x:%d:%d:Alice:/home/alice:/bin/sh\n", uid, uid))
	appendFile(t, filepath.Join(root, "etc/group"), fmt.Sprintf("alice:x:%d:\ndev:x:%d:bob,alice\nops:x:%d:alice\n", uid, g1, g2))

	t.Run("numeric", func(t *testing.T) {
		spec := sh(root, `id -u; id -g; id -G; echo $HOME; grep CapEff /proc/self/status`)
		spec.Process.User = specs.User{UID: uint32(uid + 7), GID: uint32(uid + 8)}
		out := ok(t, spec)
		assert.Equal(t, fmt.Sprintf("%d\n%d\n%d\n/\nCapEff:\t0000000000000000\n", uid+7, uid+8, uid+8), out,
			"no supplementary groups of the runtime's root, HOME / and no capabilities for a non-root user")
	})
	t.Run("by name", func(t *testing.T) {
		u, home, err := rootfs.LookupUser(root, "alice")
		require.NoError(t, err)
		assert.Equal(t, "/home/alice", home)
		spec := sh(root, `id -u; id -g; id -G; echo $HOME`)
		spec.Process.User = u
		out := ok(t, spec)
		assert.Equal(t, fmt.Sprintf("%d\n%d\n%d %d %d\n/home/alice\n", uid, uid, uid, g1, g2), out)
	})
	t.Run("ambient keeps a capability", func(t *testing.T) {
		spec := sh(root, `id -u; grep CapEff /proc/self/status`)
		spec.Process.User = specs.User{UID: uint32(uid), GID: uint32(uid)}
		c := rootfs.CapabilitiesOf(rootfs.DefaultCapabilities())
		c.Inheritable = []string{"CAP_NET_BIND_SERVICE"}
		c.Ambient = []string{"CAP_NET_BIND_SERVICE"}
		spec.Process.Capabilities = c
		out := ok(t, spec)
		assert.Equal(t, fmt.Sprintf("%d\nCapEff:\t%016x\n", uid, uint64(1)<<capability.CAP_NET_BIND_SERVICE), out)
	})
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(text)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// capMask is the /proc/PID/status form of a capability list.
func capMask(t *testing.T, names []string) string {
	t.Helper()
	var m uint64
	byName := map[string]capability.Cap{}
	for _, c := range capability.ListKnown() {
		byName["CAP_"+strings.ToUpper(c.String())] = c
	}
	for _, n := range names {
		c, ok := byName[n]
		require.True(t, ok, n)
		m |= 1 << c
	}
	return fmt.Sprintf("%016x", m)
}

func statusField(t *testing.T, out, key string) string {
	t.Helper()
	s := bufio.NewScanner(strings.NewReader(out))
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in %q", key, out)
	return ""
}

func TestCapabilities(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	const script = `grep -E '^(Cap|NoNewPrivs)' /proc/self/status
ip link set lo down 2>/dev/null && echo lo-down || echo lo-refused
mount -t tmpfs none /tmp 2>/dev/null && echo mounted || echo mount-refused`

	t.Run("docker default", func(t *testing.T) {
		out := ok(t, sh(root, script))
		want := capMask(t, rootfs.DefaultCapabilities())
		assert.Equal(t, want, statusField(t, out, "CapEff"))
		assert.Equal(t, want, statusField(t, out, "CapPrm"))
		assert.Equal(t, want, statusField(t, out, "CapBnd"))
		assert.Equal(t, "0000000000000000", statusField(t, out, "CapAmb"))
		assert.Equal(t, "0", statusField(t, out, "NoNewPrivs"))
		assert.Contains(t, out, "lo-refused")
		assert.Contains(t, out, "mount-refused")
	})
	t.Run("with NET_ADMIN and SYS_ADMIN", func(t *testing.T) {
		spec := sh(root, script)
		spec.Process.Capabilities = rootfs.CapabilitiesOf(append(rootfs.DefaultCapabilities(), "CAP_NET_ADMIN", "CAP_SYS_ADMIN"))
		out := ok(t, spec)
		assert.Contains(t, out, "lo-down")
		assert.Contains(t, out, "mounted")
	})
	t.Run("no_new_privs", func(t *testing.T) {
		spec := sh(root, script)
		spec.Process.NoNewPrivileges = true
		assert.Equal(t, "1", statusField(t, ok(t, spec), "NoNewPrivs"))
	})
	t.Run("all means all the runtime holds", func(t *testing.T) {
		all := rootfs.AllCapabilities()
		for _, n := range all {
			c := capByName(t, n)
			held, err := capability.GetBound(c)
			require.NoError(t, err)
			assert.True(t, held, n)
		}
		spec := sh(root, script)
		spec.Process.Capabilities = rootfs.CapabilitiesOf(all)
		out := ok(t, spec)
		host, err := os.ReadFile("/proc/self/status")
		require.NoError(t, err)
		assert.Equal(t, statusField(t, string(host), "CapBnd"), statusField(t, out, "CapEff"))
	})
	t.Run("a capability the runtime lacks is a clear error", func(t *testing.T) {
		var missing string
		for _, c := range capability.ListKnown() {
			if held, err := capability.GetBound(c); err == nil && !held {
				missing = "CAP_" + strings.ToUpper(c.String())
				break
			}
		}
		if missing == "" {
			t.Skip("this runtime holds every capability the kernel has")
		}
		spec := sh(root, "true")
		spec.Process.Capabilities = rootfs.CapabilitiesOf([]string{missing})
		r := run(t, spec)
		require.Error(t, r.startErr)
		assert.Contains(t, r.startErr.Error(), missing)
		assert.Contains(t, r.startErr.Error(), "bounding set")
	})
}

func capByName(t *testing.T, name string) capability.Cap {
	for _, c := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(c.String()) == name {
			return c
		}
	}
	t.Fatalf("unknown capability %s", name)
	return 0
}

func TestRlimits(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	var host unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &host))
	soft, hard := 100+rand.Uint64N(500), 1000+rand.Uint64N(1000)
	spec := sh(root, "ulimit -n; ulimit -Hn")
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: soft, Hard: hard}}
	assert.Equal(t, fmt.Sprintf("%d\n%d\n", soft, hard), ok(t, spec))

	// An address space far below what the Go init has reserved: set at
	// the very end (LateRlimits), the init lives to execute the command.
	mib := 32 + rand.Uint64N(32)
	spec = sh(root, "ulimit -v")
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_AS", Soft: mib << 20, Hard: mib << 20}}
	assert.Equal(t, fmt.Sprintf("%d\n", mib<<10), ok(t, spec))

	// Above our own hard limit: only CAP_SYS_RESOURCE may raise it.
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: host.Max + 1, Hard: host.Max + 1}}
	r := run(t, spec)
	if held, _ := capability.GetBound(capability.CAP_SYS_RESOURCE); held {
		require.NoError(t, r.startErr, "with CAP_SYS_RESOURCE a hard limit may be raised")
		return
	}
	require.Error(t, r.startErr)
	assert.Contains(t, r.startErr.Error(), "above the runtime's own hard limit "+strconv.FormatUint(host.Max, 10))
	assert.Contains(t, r.startErr.Error(), "CAP_SYS_RESOURCE")
}

// installProbe copies this test binary into root as /probe. When it is
// dynamically linked (go test builds with cgo), its ELF interpreter and
// libraries come along, at the same paths: the container has no /lib.
func installProbe(t *testing.T, root string) {
	t.Helper()
	self := testkit.Self(t)
	testkit.CopyExecutable(t, self, filepath.Join(root, "probe"))
	f, err := elf.Open(self)
	require.NoError(t, err)
	defer f.Close()
	var interp string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			_, err := p.ReadAt(b, 0)
			require.NoError(t, err)
			interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if interp == "" {
		return // static: nothing else needed
	}
	// The dynamic loader, asked to --list, names every library it loads.
	out, err := exec.Command(interp, "--list", self).Output()
	require.NoError(t, err, "list the test binary's libraries with %s --list", interp)
	paths := []string{interp}
	for _, field := range strings.Fields(string(out)) {
		if filepath.IsAbs(field) {
			paths = append(paths, field)
		}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		dst := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, b, 0o755))
	}
}

func TestBreakouts(t *testing.T) {
	testkit.Root(t)
	root := testkit.RootfsCopy(t)
	installProbe(t, root)
	hostDir := t.TempDir()
	marker := filepath.Join(hostDir, randomName("host-marker"))
	require.NoError(t, os.WriteFile(marker, []byte(probeSecret), 0o644))

	withCaps := func(add []string, drop ...string) *specs.LinuxCapabilities {
		var caps []string
		for _, c := range append(rootfs.DefaultCapabilities(), add...) {
			if !contains(drop, c) {
				caps = append(caps, c)
			}
		}
		return rootfs.CapabilitiesOf(caps)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		caps  *specs.LinuxCapabilities
		plain bool // no masked or read-only paths
		want  string
	}{
		{"chroot escape stops at the container's root", []string{"chroot-escape", marker}, withCaps(nil), false, "contained"},
		{"chroot escape without CAP_SYS_CHROOT", []string{"chroot-escape", marker}, withCaps(nil, "CAP_SYS_CHROOT"), false, "chroot: operation not permitted"},
		{"chroot escape with every capability", []string{"chroot-escape", marker}, rootfs.CapabilitiesOf(rootfs.AllCapabilities()), false, "contained"},
		{"mount without CAP_SYS_ADMIN", []string{"mount-tmpfs", "/tmp"}, withCaps(nil), false, "mount: operation not permitted"},
		{"mount with CAP_SYS_ADMIN", []string{"mount-tmpfs", "/tmp"}, withCaps([]string{"CAP_SYS_ADMIN"}), false, "ok"},
		{"lo down without CAP_NET_ADMIN", []string{"lo-down"}, withCaps(nil), false, "lo down: operation not permitted"},
		{"lo down with CAP_NET_ADMIN", []string{"lo-down"}, withCaps([]string{"CAP_NET_ADMIN"}), false, "ok"},
		{"write /proc/sys, read-only path", []string{"write", "/proc/sys/kernel/ns_last_pid", "0"}, rootfs.CapabilitiesOf(rootfs.AllCapabilities()), false, "write: read-only file system"},
		{"write /proc/sys, no read-only paths", []string{"write", "/proc/sys/kernel/ns_last_pid", "0"}, rootfs.CapabilitiesOf(rootfs.AllCapabilities()), true, "ok"},
		{"read masked /proc/timer_list", []string{"read", "/proc/timer_list"}, rootfs.CapabilitiesOf(rootfs.AllCapabilities()), false, "read 0 bytes"},
		{"read /proc/timer_list unmasked", []string{"read", "/proc/timer_list"}, rootfs.CapabilitiesOf(rootfs.AllCapabilities()), true, "read some bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := newSpec(root, append([]string{"/probe", probeArg}, tc.args...)...)
			spec.Process.Capabilities = tc.caps
			if tc.plain {
				spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil
			}
			r := run(t, spec)
			require.NoError(t, r.startErr)
			assert.Equal(t, tc.want, strings.TrimSpace(r.stdout), r.stderr)
		})
	}

	// The control experiment: under a plain chroot, the same probe gets out.
	// This is why runtimes pivot_root.
	t.Run("plain chroot is escapable", func(t *testing.T) {
		cmd := exec.Command("/probe", probeArg, "chroot-escape", marker)
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Equal(t, "escaped", strings.TrimSpace(string(out)))
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
