package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	"minibox/05-network/network"
	"minibox/internal/testkit"
)

// These tests run lesson 07's program as a user runs it: `minibox compose
// ...` in a copy of one of the examples, the program being this test
// binary (testkit.MainProgram). Each test has its own data and exec roots
// and its own sandbox network namespace that plays the host: the compose
// networks' bridges, the published ports' rules and the resolvers are made
// there, and the test's Go client reaches the published ports from there
// as a browser on the host would.

func TestMain(m *testing.M) { testkit.MainProgram(m, main) }

// cbox is one test's minibox and compose project.
type cbox struct {
	t          *testing.T
	sb         *testkit.Sandbox
	data, exec string
	dir        string   // the project directory: a copy of an example
	project    string   // -p: random, so nothing can depend on a fixed name
	env        []string // extra environment of the program
}

// newCbox copies the example into a temporary directory, imports busybox
// (Debian's busybox-static) as the image "busybox" the examples start from,
// and cleans up at the end: the project down with its volumes, then
// whatever is left, then a check that nothing of minibox's stays in the
// sandbox (testkit.Root's residue check covers the real host).
func newCbox(t *testing.T, example string) *cbox {
	t.Helper()
	testkit.Root(t)
	sb := testkit.NewSandbox(t)
	execRoot, err := os.MkdirTemp("", "mbx")
	require.NoError(t, err)
	b := &cbox{t: t, sb: sb, data: t.TempDir(), exec: execRoot, project: randomName("e2e")}
	b.dir = filepath.Join(t.TempDir(), example)
	copyTree(t, filepath.Join("examples", example), b.dir)
	importBusybox(t, b.data)
	t.Cleanup(func() {
		b.run("compose", "-p", b.project, "down", "-v", "--remove-orphans")
		if out := b.run("ps", "-aq", "--no-trunc"); out.Code == 0 {
			for _, id := range strings.Fields(out.Stdout) {
				b.run("rm", "-f", id)
			}
		}
		if out := b.run("network", "ls", "-q", "-f", "type=custom"); out.Code == 0 {
			for _, id := range strings.Fields(out.Stdout) {
				b.run("network", "rm", id)
			}
		}
		if out := b.run("volume", "ls", "-q"); out.Code == 0 {
			for _, v := range strings.Fields(out.Stdout) {
				b.run("volume", "rm", "-f", v)
			}
		}
		b.noneOfOurs()
		os.RemoveAll(execRoot)
	})
	return b
}

// copyTree copies the example src (files, modes, hidden files) to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, fi.Mode().Perm())
	})
	require.NoError(t, err, "copy %s", src)
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

// run runs minibox ARGS in the sandbox, in the project directory.
func (b *cbox) run(args ...string) testkit.Result {
	b.t.Helper()
	return b.runIn(b.dir, args...)
}

func (b *cbox) runIn(dir string, args ...string) testkit.Result {
	b.t.Helper()
	cmd := b.sb.Command(testkit.Self(b.t), append([]string{"--data-root", b.data, "--exec-root", b.exec}, args...)...)
	cmd.Env = append(append(cleanEnviron(), testkit.ProgramEnv+"=1"), b.env...)
	cmd.Dir = dir
	return testkit.RunCommand(b.t, cmd)
}

// ok runs minibox ARGS and requires it to succeed; its stdout, trimmed.
func (b *cbox) ok(args ...string) string {
	b.t.Helper()
	r := b.run(args...)
	require.Equal(b.t, 0, r.Code, "minibox %s:\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Stdout, r.Stderr)
	return strings.TrimSpace(r.Stdout)
}

// compose runs `minibox compose -p PROJECT ARGS` (its result, not checked).
func (b *cbox) compose(args ...string) testkit.Result {
	b.t.Helper()
	return b.run(append([]string{"compose", "-p", b.project}, args...)...)
}

// composeOK runs `minibox compose -p PROJECT ARGS` and requires success;
// stdout and stderr together (compose's progress goes to stderr).
func (b *cbox) composeOK(args ...string) string {
	b.t.Helper()
	r := b.compose(args...)
	require.Equal(b.t, 0, r.Code, "minibox compose -p %s %s:\nstdout: %s\nstderr: %s", b.project, strings.Join(args, " "), r.Stdout, r.Stderr)
	return r.Stdout + r.Stderr
}

// composeOut is composeOK's stdout alone, trimmed (what exec or ps -q print).
func (b *cbox) composeOut(args ...string) string {
	b.t.Helper()
	r := b.compose(args...)
	require.Equal(b.t, 0, r.Code, "minibox compose -p %s %s:\nstdout: %s\nstderr: %s", b.project, strings.Join(args, " "), r.Stdout, r.Stderr)
	return strings.TrimSpace(r.Stdout)
}

// name is the container name compose gives a service's first container.
func (b *cbox) name(service string) string { return b.project + "-" + service + "-1" }

// inspect is `minibox inspect -f FORMAT CTR`.
func (b *cbox) inspect(format, ctr string) string {
	b.t.Helper()
	return b.ok("inspect", "-f", format, ctr)
}

// health is the container's health status ("" without a healthcheck).
func (b *cbox) health(ctr string) string {
	b.t.Helper()
	return b.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}}", ctr)
}

// ids are the IDs of the project's containers (`compose ps -aq`), sorted
// as compose prints them.
func (b *cbox) ids() []string {
	b.t.Helper()
	return strings.Fields(b.composeOut("ps", "-aq"))
}

// idOf is the full ID of a container.
func (b *cbox) idOf(ctr string) string {
	b.t.Helper()
	return b.inspect("{{.Id}}", ctr)
}

// list is the set of names `minibox KIND ls ARGS` prints (networks,
// volumes).
func (b *cbox) list(kind string, args ...string) map[string]bool {
	b.t.Helper()
	set := map[string]bool{}
	// `network ls -q` prints IDs, `volume ls -q` names (as Docker's do;
	// minibox's volume ls has no --format).
	format := []string{"--format", "{{.Name}}"}
	if kind == "volume" {
		format = []string{"-q"}
	}
	for _, n := range strings.Fields(b.ok(append(append([]string{kind, "ls"}, format...), args...)...)) {
		set[n] = true
	}
	return set
}

// edit rewrites the project's file NAME: old must occur in it.
func (b *cbox) edit(name, old, new string) {
	b.t.Helper()
	p := filepath.Join(b.dir, name)
	data, err := os.ReadFile(p)
	require.NoError(b.t, err)
	require.Contains(b.t, string(data), old, "%s", p)
	require.NoError(b.t, os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644))
}

// client is an HTTP client whose connections are made in the sandbox,
// the test's host: a Go program on the host reaching the published ports.
func (b *cbox) client() *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		b.sb.Do(b.t, func() {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
		})
		return c, err
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
}

// get fetches url from the host until it answers 200 (for 20 s: the
// service may not listen yet); the body.
func (b *cbox) get(url string) string {
	b.t.Helper()
	var last string
	for deadline := time.Now().Add(20 * time.Second); ; {
		code, body, err := b.getOnce(url)
		if err == nil && code == http.StatusOK {
			return body
		}
		last = fmt.Sprintf("status %d, body %q, error %v", code, body, err)
		if time.Now().After(deadline) {
			b.t.Fatalf("GET %s from the host: %s", url, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *cbox) getOnce(url string) (int, string, error) {
	resp, err := b.client().Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// waitFor polls cond for up to 30 s.
func (b *cbox) waitFor(what string, cond func() bool) {
	b.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// crash kills the container's main process from the host with SIGKILL:
// an exit that is not a stop (restart policies restart it).
func (b *cbox) crash(ctr string) {
	b.t.Helper()
	pid, err := strconv.Atoi(b.inspect("{{.State.Pid}}", ctr))
	require.NoError(b.t, err)
	require.Greater(b.t, pid, 1)
	require.NoError(b.t, syscall.Kill(pid, syscall.SIGKILL))
}

// noneOfOurs checks that nothing of minibox's is left in the sandbox or
// the roots: no bridge or veth, no firewall rule of ours, no namespace
// file, no endpoint, no monitor and no resolver of this box.
func (b *cbox) noneOfOurs() {
	b.t.Helper()
	b.sb.Do(b.t, func() {
		ls, err := netlink.LinkList()
		require.NoError(b.t, err)
		for _, l := range ls {
			n := l.Attrs().Name
			require.False(b.t, strings.HasPrefix(n, "veth") || strings.HasPrefix(n, "br-") || n == network.DefaultBridge, "link %s left", n)
		}
		rules, err := testkit.NftRuleset()
		require.NoError(b.t, err)
		require.NotContains(b.t, strings.Join(rules, "\n"), "minibox", "firewall rules left")
	})
	for _, d := range []string{"netns", "endpoints"} {
		ents, _ := os.ReadDir(filepath.Join(b.exec, d))
		require.Empty(b.t, ents, "%s left in the exec root", d)
	}
	for _, pid := range testkit.AllPIDs() {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		for _, arg := range []string{engine.MonitorArg, network.ResolverArg} {
			require.NotContains(b.t, string(cmdline), arg+"\x00"+b.data+"\x00", "process %d left", pid)
		}
	}
}

// cleanEnviron is the test's environment without what would change how
// compose reads the examples (COMPOSE_FILE, COMPOSE_PROJECT_NAME, a
// USERNAME of the machine's user for the reddit example's images).
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "COMPOSE_") || strings.HasPrefix(kv, "USERNAME=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func randomName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
