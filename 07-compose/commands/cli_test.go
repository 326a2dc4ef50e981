package commands

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/containerfs"
	"minibox/04-storage/storage"
	lesson05 "minibox/05-network/commands"
	"minibox/05-network/network"
	lesson06 "minibox/06-image/commands"
	"minibox/internal/testkit"
)

// These tests run compose's commands through a program wired as lesson
// 07's (07-compose/main.go): this test binary, in a sandbox network
// namespace of the test's own, with its own data and exec roots. The
// reconciler's scenarios (recreate, health gating, volumes) are
// 07-compose's end-to-end tests; these are about what this package prints
// and relays.

func TestMain(m *testing.M) { testkit.MainProgram(m, programMain) }

// programMain is 07-compose/main.go's wiring (without the demo).
func programMain() {
	if network.IsResolver() {
		network.RunResolver()
	}
	n := lesson05.Install()
	i := lesson06.Install()
	x := Install()
	lesson04.MainCLI("minibox", "minibox (lesson 07's commands under test)", Lesson07,
		func(c *lesson04.CLI) []*cobra.Command {
			return append(append(n.Commands(c), i.Commands(c)...), x.Commands(c)...)
		})
}

type box struct {
	t          *testing.T
	sb         *testkit.Sandbox
	data, exec string
	dir        string // the project directory
	project    string
}

func newBox(t *testing.T, composeFile string) *box {
	t.Helper()
	testkit.Root(t)
	execRoot, err := os.MkdirTemp("", "mbx")
	require.NoError(t, err)
	b := &box{t: t, sb: testkit.NewSandbox(t), data: t.TempDir(), exec: execRoot, project: randomName()}
	b.dir = filepath.Join(t.TempDir(), "app")
	require.NoError(t, os.Mkdir(b.dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "compose.yaml"), []byte(composeFile), 0o644))
	var layer bytes.Buffer
	_, err = storage.WriteTar(&layer, testkit.BusyboxRootfs(t))
	require.NoError(t, err)
	st, err := containerfs.New(b.data)
	require.NoError(t, err)
	_, err = st.Images.Import(bytes.NewReader(layer.Bytes()), "busybox",
		[]string{`CMD ["sh"]`, "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "")
	require.NoError(t, err)
	t.Cleanup(func() {
		b.compose("down", "-v", "-t", "1")
		if r := b.run("ps", "-aq", "--no-trunc"); r.Code == 0 {
			for _, id := range strings.Fields(r.Stdout) {
				b.run("rm", "-f", id)
			}
		}
		os.RemoveAll(execRoot)
	})
	return b
}

func (b *box) cmdIn(dir string, args ...string) *exec.Cmd {
	cmd := b.sb.Command(testkit.Self(b.t), append([]string{"--data-root", b.data, "--exec-root", b.exec}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COMPOSE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, testkit.ProgramEnv+"=1")
	cmd.Dir = dir
	return cmd
}

func (b *box) run(args ...string) testkit.Result {
	b.t.Helper()
	return testkit.RunCommand(b.t, b.cmdIn(b.dir, args...))
}

func (b *box) compose(args ...string) testkit.Result {
	b.t.Helper()
	return b.run(append([]string{"compose", "-p", b.project}, args...)...)
}

// ok runs compose ARGS, requires status 0 and returns stdout.
func (b *box) ok(args ...string) string {
	b.t.Helper()
	r := b.compose(args...)
	require.Equal(b.t, 0, r.Code, "compose %s:\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Stdout, r.Stderr)
	return r.Stdout
}

// randomName is a project name no other run uses.
func randomName() string {
	var b [4]byte
	rand.Read(b[:])
	return "e" + hex.EncodeToString(b[:])
}

const servicesFile = `services:
  web:
    image: busybox
    command: ["sh", "-c", "echo web says hi; echo web warns >&2; exec httpd -f -p 80"]
    ports: ["18080:80"]
    stop_grace_period: 1s
  worker:
    image: busybox
    command: ["sh", "-c", "echo w1; echo w2; echo w3; exec sleep 1000"]
    stop_grace_period: 1s
`

// waitLogs waits until the service's log has want (the containers print
// right after they start).
func (b *box) waitLogs(service, want string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r := b.compose("logs", "--no-color", service); strings.Contains(r.Stdout, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("no %q in %s's logs", want, service)
}

func TestComposeListsAndRelays(t *testing.T) {
	b := newBox(t, servicesFile)
	b.ok("up", "-d")
	web, worker := b.project+"-web-1", b.project+"-worker-1"
	b.waitLogs("worker", "w3")
	b.waitLogs("web", "web says hi")

	t.Run("ps", func(t *testing.T) {
		lines := strings.Split(strings.TrimRight(b.ok("ps"), "\n"), "\n")
		require.Len(t, lines, 3, lines)
		assert.Regexp(t, `^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS$`, lines[0])
		assert.Regexp(t, `^`+web+`\s+busybox\s+"sh -c echo web says…"\s+web\s+.* ago\s+Up .*0\.0\.0\.0:18080->80/tcp$`, lines[1])
		assert.Regexp(t, `^`+worker+`\s+busybox\s+"sh -c echo w1; echo…"\s+worker\s+.* ago\s+Up `, lines[2])
		ids := strings.Fields(b.ok("ps", "-q"))
		require.Len(t, ids, 2)
		assert.Len(t, ids[0], 12)
		assert.Equal(t, web+" running web\n", b.ok("ps", "--format", "{{.Name}} {{.State}} {{.Service}}", "web"))
		assert.Equal(t, "web\nworker\n", b.ok("ps", "--services"))
		js := b.ok("ps", "--format", "json")
		assert.Equal(t, 2, strings.Count(js, "\n"), "one object a line")
		assert.Contains(t, js, `"Publishers":[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":18080,"Protocol":"tcp"}]`)
		r := b.compose("ps", "nosuch")
		assert.Equal(t, 1, r.Code)
		assert.Equal(t, "no such service: nosuch\n", r.Stderr)
		r = b.compose("ps", "--format", "{{.Name")
		assert.Equal(t, 1, r.Code)
		assert.Contains(t, r.Stderr, "template parsing error")
		// Without a file, -p alone names the project (compose's projectOrName).
		r = testkit.RunCommand(t, b.cmdIn(t.TempDir(), "compose", "-p", b.project, "ps", "-q"))
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Equal(t, ids, strings.Fields(r.Stdout))
		r = testkit.RunCommand(t, b.cmdIn(t.TempDir(), "compose", "ps"))
		assert.Equal(t, 1, r.Code)
		assert.Equal(t, "no configuration file provided: not found\n", r.Stderr)
	})

	t.Run("logs", func(t *testing.T) {
		r := b.compose("logs", "--no-color")
		require.Equal(t, 0, r.Code, r.Stderr)
		// Prefixes padded to the longest name, stderr lines on stderr,
		// no colour when stdout is not a terminal.
		assert.Contains(t, r.Stdout, "web-1     | web says hi\n")
		// The containers' logs are read side by side, so their lines may
		// interleave; each container's stay in order.
		i1, i2, i3 := strings.Index(r.Stdout, "worker-1  | w1\n"), strings.Index(r.Stdout, "worker-1  | w2\n"), strings.Index(r.Stdout, "worker-1  | w3\n")
		assert.True(t, i1 >= 0 && i1 < i2 && i2 < i3, r.Stdout)
		assert.Contains(t, r.Stderr, "web-1     | web warns\n")
		assert.NotContains(t, r.Stdout, "\x1b[")
		assert.Equal(t, "worker-1  | w3\n", b.ok("logs", "--tail", "1", "worker"))
		assert.Equal(t, "w2\nw3\n", b.ok("logs", "--no-log-prefix", "-n", "2", "worker"))
		assert.Regexp(t, regexp.MustCompile(`(?m)^worker-1  \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z w1$`), b.ok("logs", "-t", "worker"))
		assert.Contains(t, b.ok("--ansi", "always", "logs", "worker"), "\x1b[36mworker-1  | \x1b[0mw1\n")
		r = b.compose("logs", "--tail", "x")
		assert.Equal(t, 1, r.Code)
		assert.Contains(t, r.Stderr, `invalid value for "tail"`)
	})

	t.Run("exec", func(t *testing.T) {
		r := b.compose("exec", "-T", "-e", "X=42", "worker", "sh", "-c", "echo $X; echo oops >&2; exit 3")
		assert.Equal(t, 3, r.Code, "exec's status is the command's")
		assert.Equal(t, "42\n", r.Stdout)
		assert.Equal(t, "oops\n", r.Stderr)
		assert.Equal(t, "/tmp\n", b.ok("exec", "-T", "-w", "/tmp", "worker", "pwd"))
		assert.Equal(t, "65534\n", b.ok("exec", "-T", "-u", "nobody", "worker", "id", "-u"))
		r = b.compose("exec", "-T", "--index", "2", "worker", "true")
		assert.Equal(t, 1, r.Code)
		assert.Equal(t, "service \"worker\" is not running container #2\n", r.Stderr)
		r = b.compose("exec", "-T", "nosuch", "true")
		assert.Equal(t, "no such service: nosuch\n", r.Stderr)
	})

	t.Run("top", func(t *testing.T) {
		out := b.ok("top")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		require.GreaterOrEqual(t, len(lines), 3, out)
		assert.Regexp(t, `^SERVICE\s+#\s+UID\s+PID\s+PPID\s+CMD$`, lines[0])
		assert.Regexp(t, `(?m)^web\s+1\s+0\s+\d+\s+\d+\s+httpd -f -p 80$`, out)
		assert.Regexp(t, `(?m)^worker\s+1\s+0\s+\d+\s+\d+\s+sleep 1000$`, out)
		assert.NotContains(t, b.ok("top", "web"), "sleep")
	})

	t.Run("port", func(t *testing.T) {
		assert.Equal(t, "0.0.0.0:18080\n", b.ok("port", "web", "80"))
		r := b.compose("port", "web", "81")
		assert.Equal(t, 1, r.Code)
		assert.Equal(t, "no port 81/tcp for container "+web+": 80/tcp\n", r.Stderr)
		r = b.compose("port", "--protocol", "udp", "web", "80")
		assert.Equal(t, "no port 80/udp for container "+web+": 80/tcp\n", r.Stderr)
	})

	t.Run("images", func(t *testing.T) {
		out := b.ok("images")
		assert.Regexp(t, `^CONTAINER\s+REPOSITORY\s+TAG\s+PLATFORM\s+IMAGE ID\s+SIZE\s+CREATED\n`, out)
		assert.Regexp(t, `(?m)^`+web+`\s+busybox\s+latest\s+linux/\w+\s+[0-9a-f]{12}\s+[0-9.]+[kM]B\s+`, out)
		assert.Regexp(t, `(?m)^`+worker+`\s+busybox\s+latest\s+`, out)
		assert.Len(t, strings.Fields(b.ok("images", "-q")), 1, "one image, once")
	})

	t.Run("run", func(t *testing.T) {
		r := b.compose("run", "--rm", "-T", "-e", "Y=7", "worker", "sh", "-c", "echo run $Y; exit 5")
		assert.Equal(t, 5, r.Code, r.Stderr)
		assert.Contains(t, r.Stdout, "run 7\n")
		assert.NotContains(t, b.ok("ps", "-a", "--format", "{{.Name}}"), "-run-", "--rm removed it")
		r = b.compose("run", "-T", "nosuch")
		assert.Equal(t, "no such service: nosuch\n", r.Stderr)
	})

	// A stopped service: ps hides it without -a, exec and port say so.
	b.ok("stop", "worker")
	assert.NotContains(t, b.ok("ps"), worker)
	assert.Regexp(t, worker+`\s+.*Exited \(137\)|`+worker+`\s+.*Exited \(143\)`, b.ok("ps", "-a"))
	assert.Equal(t, worker+"\n", b.ok("ps", "-a", "--status", "exited", "--format", "{{.Name}}"))
	r := b.compose("exec", "-T", "worker", "true")
	assert.Equal(t, 1, r.Code)
	assert.Equal(t, "service \"worker\" is not running\n", r.Stderr)
}

const shortLivedFile = `services:
  a:
    image: busybox
    command: ["sh", "-c", "for i in 1 2 3; do echo a$$i; sleep 0.3; done"]
  b:
    image: busybox
    command: ["sh", "-c", "for i in 1 2 3; do echo b$$i; sleep 0.2; done; exit 4"]
`

// TestComposeAttachedUpAndFollow: `up` without -d relays both services'
// output until both exited, then says how; `logs -f` follows several
// containers to their end.
func TestComposeAttachedUpAndFollow(t *testing.T) {
	b := newBox(t, shortLivedFile)
	r := b.compose("up", "--no-color")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "Attaching to a-1, b-1\n")
	for _, l := range []string{"a-1  | a1\n", "a-1  | a2\n", "a-1  | a3\n", "b-1  | b1\n", "b-1  | b3\n", "a-1 exited with code 0\n", "b-1 exited with code 4\n"} {
		assert.Contains(t, r.Stdout, l)
	}
	assert.Less(t, strings.Index(r.Stdout, "a-1  | a3"), strings.Index(r.Stdout, "a-1 exited"), "the exit after the last line")

	b.ok("start")
	out := b.ok("logs", "-f", "--no-color")
	// Each ran twice now; -f returned because both exited.
	assert.Equal(t, 2, strings.Count(out, "a-1  | a3\n"), out)
	assert.Equal(t, 2, strings.Count(out, "b-1  | b3\n"), out)
}

// TestComposeUpCtrlC: Ctrl-C stops an attached `up`'s services, as
// compose does, and the program ends.
func TestComposeUpCtrlC(t *testing.T) {
	b := newBox(t, servicesFile)
	cmd := b.cmdIn(b.dir, "compose", "-p", b.project, "up", "--no-color")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	seen := ""
	for deadline := time.After(60 * time.Second); !strings.Contains(seen, "worker-1  | w3") || !strings.Contains(seen, "web-1     | web says hi"); {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "up ended early: %s %s", seen, stderr.String())
			seen += l + "\n"
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no output from up: %s %s", seen, stderr.String())
		}
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	go func() {
		for l := range lines {
			seen += l + "\n"
		}
		done <- cmd.Wait()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("up did not end after Ctrl-C: %s", stderr.String())
	}
	assert.Contains(t, stderr.String(), "Gracefully stopping... (press Ctrl+C again to force)")
	ps := b.ok("ps", "-a", "--format", "{{.Service}} {{.State}}")
	assert.Equal(t, "web exited\nworker exited\n", ps, "both stopped, not removed")
}
