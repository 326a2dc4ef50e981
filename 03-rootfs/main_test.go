package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.MainProgram(m, main) }

// runIn runs `run --rootfs dir ARGS...` with stdin.
func runIn(t *testing.T, dir, stdin string, args ...string) testkit.Result {
	t.Helper()
	return testkit.Program(t, stdin, append([]string{"run", "--rootfs", dir}, args...)...)
}

// ok runs a container that must succeed and returns its output.
func ok(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r := runIn(t, dir, "", args...)
	require.Equal(t, 0, r.Code, "stdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	return r.Stdout
}

func randName(prefix string) string { return fmt.Sprintf("%s%08x", prefix, rand.Uint32()) }

func TestRootIsTheRootfs(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	marker := randName("marker-")
	require.NoError(t, os.WriteFile(filepath.Join(dir, marker), nil, 0o644))
	out := ok(t, dir, "--", "ls", "/")
	assert.Contains(t, strings.Fields(out), marker)
	// The host's files are gone: a directory every Debian host has but
	// the busybox root has not.
	r := runIn(t, dir, "", "--", "ls", "/boot")
	assert.NotEqual(t, 0, r.Code)
}

func TestEnvironment(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	value := randName("v-")
	leak := randName("MINIBOX_LEAK_")
	t.Setenv(leak, "host")
	pass := randName("MINIBOX_PASS_")
	t.Setenv(pass, value+"-passed")
	envFile := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(envFile, []byte("# comment\nFROM_FILE="+value+"-file\n"), 0o644))

	out := ok(t, dir, "--hostname", "envbox", "-e", "MY_VAR="+value, "-e", pass, "-e", "MINIBOX_UNSET_XYZ", "--env-file", envFile, "--", "env")
	env := strings.Split(strings.TrimSpace(out), "\n")
	assert.Contains(t, env, "MY_VAR="+value)
	assert.Contains(t, env, pass+"="+value+"-passed")
	assert.Contains(t, env, "FROM_FILE="+value+"-file")
	assert.Contains(t, env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	assert.Contains(t, env, "HOSTNAME=envbox")
	assert.Contains(t, env, "HOME=/root", "HOME from the image's /etc/passwd")
	assert.NotContains(t, out, leak, "the host's environment must not leak in")
	assert.NotContains(t, out, "MINIBOX_UNSET_XYZ")
}

func TestWorkdir(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	assert.Equal(t, "/\n", ok(t, dir, "--", "pwd"), "the default is /, not the caller's directory")
	wd := "/" + randName("w") + "/" + randName("sub")
	assert.Equal(t, wd+"\n", ok(t, dir, "-w", wd, "--", "pwd"))
	fi, err := os.Stat(filepath.Join(dir, wd))
	require.NoError(t, err, "-w created the directory in the root filesystem")
	assert.True(t, fi.IsDir())
}

func TestUserByNumber(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	uid, gid := 1000+rand.IntN(50000), 1000+rand.IntN(50000)
	out := ok(t, dir, "-u", fmt.Sprintf("%d:%d", uid, gid), "--", "sh", "-c", "id -u; id -g; echo $HOME")
	assert.Equal(t, fmt.Sprintf("%d\n%d\n/\n", uid, gid), out)
}

func TestUserByName(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	name := randName("u")
	uid, gid, extra := 1000+rand.IntN(50000), 1000+rand.IntN(50000), 60000+rand.IntN(1000)
	f, err := os.OpenFile(filepath.Join(dir, "etc/passwd"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "%s:x:%d:%d::/home/%s:/bin/sh\n", name, uid, gid, name)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	f, err = os.OpenFile(filepath.Join(dir, "etc/group"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "extra:x:%d:%s\n", extra, name)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	out := ok(t, dir, "-u", name, "--", "sh", "-c", "id -u; id -g; id -G; echo $HOME")
	assert.Equal(t, fmt.Sprintf("%d\n%d\n%d %d\n/home/%s\n", uid, gid, gid, extra, name), out)

	r := runIn(t, dir, "", "-u", "nosuchuser", "--", "id")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "unable to find user nosuchuser: no matching entries in passwd file")
}

func TestReadOnlyRoot(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	r := runIn(t, dir, "", "--read-only", "--", "touch", "/x")
	assert.NotEqual(t, 0, r.Code)
	assert.Contains(t, r.Stdout+r.Stderr, "Read-only file system")
	_, err := os.Stat(filepath.Join(dir, "x"))
	assert.True(t, os.IsNotExist(err))
	ok(t, dir, "--read-only", "--tmpfs", "/tmp", "--", "touch", "/tmp/x")
	ok(t, dir, "--", "touch", "/x") // and without --read-only it works
}

// capEff reads a capability mask line ("CapEff:\t0000...") as a number.
func capMask(t *testing.T, status, key string) uint64 {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, found := strings.CutPrefix(l, key+":"); found {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no %s in %q", key, status)
	return 0
}

const (
	capNetAdmin = 12
	capNetRaw   = 13
	capSysAdmin = 21
)

func TestCapabilities(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	status := func(args ...string) uint64 {
		return capMask(t, ok(t, dir, append(args, "--", "cat", "/proc/self/status")...), "CapEff")
	}
	def := status()
	assert.NotZero(t, def&(1<<capNetRaw), "Docker's default keeps NET_RAW")
	assert.Zero(t, def&(1<<capNetAdmin|1<<capSysAdmin), "and has no NET_ADMIN or SYS_ADMIN")
	assert.Equal(t, def&^(1<<capNetRaw), status("--cap-drop", "NET_RAW"))
	assert.Equal(t, def|1<<capNetAdmin, status("--cap-add", "net_admin"))
	assert.Equal(t, uint64(1)<<capNetAdmin, status("--cap-drop", "ALL", "--cap-add", "CAP_NET_ADMIN"))

	r := runIn(t, dir, "", "--cap-add", "FLY", "--", "true")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "unknown capability")
	// A dropped capability refuses: mount needs CAP_SYS_ADMIN.
	r = runIn(t, dir, "", "--", "sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt")
	assert.NotEqual(t, 0, r.Code)
}

func TestPrivileged(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	host, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	out := ok(t, dir, "--privileged", "--", "cat", "/proc/self/status")
	assert.Equal(t, capMask(t, string(host), "CapBnd"), capMask(t, out, "CapEff"), "every capability the runtime holds")

	read := "head -c 64 /proc/timer_list | wc -c; test -e /dev/kmsg && echo hostdev || echo nodev"
	assert.Equal(t, "0\nnodev\n", ok(t, dir, "--", "sh", "-c", read), "masked by default, no host devices")
	assert.Equal(t, "64\nhostdev\n", ok(t, dir, "--privileged", "--", "sh", "-c", read))
	ok(t, dir, "--privileged", "--", "sh", "-c", "mkdir -p /mnt && mount -t tmpfs none /mnt")
}

func TestNoNewPrivileges(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	grep := []string{"--", "grep", "NoNewPrivs", "/proc/self/status"}
	assert.Equal(t, "NoNewPrivs:\t0\n", ok(t, dir, grep...))
	assert.Equal(t, "NoNewPrivs:\t1\n", ok(t, dir, append([]string{"--security-opt", "no-new-privileges"}, grep...)...))
	assert.Equal(t, "NoNewPrivs:\t1\n", ok(t, dir, append([]string{"--security-opt", "no-new-privileges=true"}, grep...)...))
	assert.Equal(t, "NoNewPrivs:\t0\n", ok(t, dir, append([]string{"--security-opt", "no-new-privileges=false"}, grep...)...))
}

func TestUlimit(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	soft := 100 + rand.IntN(900)
	hard := soft + rand.IntN(1000)
	out := ok(t, dir, "--ulimit", fmt.Sprintf("nofile=%d:%d", soft, hard), "--", "sh", "-c", "ulimit -n; ulimit -Hn")
	assert.Equal(t, fmt.Sprintf("%d\n%d\n", soft, hard), out)
	assert.Equal(t, "512\n1024\n", ok(t, dir, "--ulimit", "nofile=512:1024", "--", "sh", "-c", "ulimit -n; ulimit -Hn"))

	for _, bad := range []string{"nofile=2:1", "files=1", "nofile"} {
		r := runIn(t, dir, "", "--ulimit", bad, "--", "true")
		assert.Equal(t, 125, r.Code, bad)
		assert.Contains(t, r.Stderr, "invalid ulimit", bad)
	}
}

func TestVolumes(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	vol := t.TempDir()
	name, content := randName("f-"), randName("c-")
	require.NoError(t, os.WriteFile(filepath.Join(vol, name), []byte(content), 0o644))

	assert.Equal(t, content, ok(t, dir, "-v", vol+":/data", "--", "cat", "/data/"+name))
	ok(t, dir, "-v", vol+":/data", "--", "sh", "-c", "echo from-container > /data/back")
	b, err := os.ReadFile(filepath.Join(vol, "back"))
	require.NoError(t, err)
	assert.Equal(t, "from-container\n", string(b))

	r := runIn(t, dir, "", "-v", vol+":/data:ro", "--", "sh", "-c", "cat /data/"+name+" && touch /data/nope")
	assert.NotEqual(t, 0, r.Code)
	assert.Equal(t, content, r.Stdout)
	assert.Contains(t, r.Stderr, "Read-only file system")
	_, err = os.Stat(filepath.Join(vol, "nope"))
	assert.True(t, os.IsNotExist(err))

	for bad, msg := range map[string]string{
		"data:/data":                          "invalid volume specification",
		vol + ":relative":                     "must be absolute",
		filepath.Join(vol, "missing") + ":/d": "bind source path does not exist",
	} {
		r := runIn(t, dir, "", "-v", bad, "--", "true")
		assert.Equal(t, 125, r.Code, bad)
		assert.Contains(t, r.Stderr, msg, bad)
	}
}

func TestExitCodes(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	code := 1 + rand.IntN(120)
	assert.Equal(t, code, runIn(t, dir, "", "--", "sh", "-c", fmt.Sprintf("exit %d", code)).Code)
	missing := randName("no-such-command-")
	r := runIn(t, dir, "", "--", missing)
	assert.Equal(t, 127, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, missing)
	// The host has /usr/bin/env, the busybox root has not: the command is
	// looked up in the container's root, not the host's.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "usr/bin/env")))
	assert.Equal(t, 127, runIn(t, dir, "", "--", "/usr/bin/env").Code)
}

func TestBadInputCreatesNothing(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	for _, args := range [][]string{
		{"run", "--", "true"},
		{"run", "--rootfs", filepath.Join(dir, "nope"), "--", "true"},
		{"run", "--rootfs", dir, "--cap-drop", "nope", "--", "true"},
		{"run", "--rootfs", dir, "-v", "x", "--", "true"},
		{"run", "--rootfs", dir, "--tmpfs", "x", "--", "true"},
		{"run", "--rootfs", dir, "-u", "a:b:c", "--", "true"},
		{"run", "--rootfs", dir, "-w", "rel", "--", "true"},
		{"run", "--rootfs", dir, "--security-opt", "nope", "--", "true"},
		{"run", "--rootfs", dir, "-e", "=x", "--", "true"},
	} {
		r := testkit.Program(t, "", args...)
		assert.Equal(t, 125, r.Code, "%v: %s", args, r.Stderr)
		assert.NotEmpty(t, r.Stderr, args)
	}
}

func TestMemoryLimitStillBites(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	r := runIn(t, dir, "", "-m", "32m", "--memory-swap", "32m", "--", "sh", "-c", "tail /dev/zero")
	assert.Equal(t, 137, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, "OOM")
}

func TestStdin(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	line := randName("line-") + "\n"
	r := runIn(t, dir, line, "-i", "--", "cat")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, line, r.Stdout)
	r = runIn(t, dir, line, "--", "cat")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Empty(t, r.Stdout, "without -i stdin is /dev/null")
}

func TestTTY(t *testing.T) {
	testkit.Root(t)
	dir := testkit.RootfsCopy(t)
	out := ok(t, dir, "-t", "--", "sh", "-c", "test -t 0 && test -t 1 && test -t 2 && echo tty $TERM $(tty)")
	// The pty is the container's own: the first of its own devpts.
	assert.Equal(t, "tty xterm /dev/pts/0\r\n", out, "a terminal turns \\n into \\r\\n")
	out = ok(t, dir, "--", "sh", "-c", "test -t 1 && echo tty || echo notty")
	assert.Equal(t, "notty\n", out)
	r := runIn(t, dir, "", "-it", "--", "true")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "not a TTY")
}

// TestDevicesCgroupStopsMknod is a breakout attempt: root in the container
// keeps CAP_MKNOD (Docker's default), makes a node for a host device that
// is not in its /dev (loop-control, c 10:237) and opens it. The devices
// cgroup must refuse the open; --privileged allows it. The node is made on
// a tmpfs mounted with "dev": on a nodev filesystem (many a /tmp) the open
// would fail anyway, and prove nothing.
func TestDevicesCgroupStopsMknod(t *testing.T) {
	testkit.Root(t)
	testkit.Require(t, "the loop driver (/dev/loop-control)", func() error {
		_, err := os.Stat("/dev/loop-control")
		return err
	})
	dir := testkit.RootfsCopy(t)
	const script = `mknod /mnt/lc c 10 237 && echo made
cat /mnt/lc >/dev/null 2>/mnt/err; cat /mnt/err
echo x > /dev/null && echo null-ok`
	out := ok(t, dir, "--tmpfs", "/mnt:dev", "--", "sh", "-c", script)
	assert.Contains(t, out, "made\n", "mknod itself is allowed, as in Docker")
	// Both layouts refuse with EPERM: v1's devices.deny and v2's eBPF
	// program (the kernel turns the program's "deny" into -EPERM in
	// devcgroup_check_permission). EACCES would mean something else (a
	// nodev mount), which is why the node is made on a dev tmpfs.
	assert.Contains(t, out, "can't open '/mnt/lc': Operation not permitted", "the devices cgroup refuses the node")
	assert.Contains(t, out, "null-ok\n")

	out = ok(t, dir, "--tmpfs", "/mnt:dev", "--privileged", "--", "sh", "-c", script)
	assert.Contains(t, out, "made\n")
	assert.NotContains(t, out, "can't open '/mnt/lc'", "privileged: every device may be opened")
}
