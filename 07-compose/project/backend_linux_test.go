package project

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	lesson05 "minibox/05-network/commands"
	"minibox/05-network/network"
	lesson06 "minibox/06-image/commands"
	"minibox/07-compose/model"
	"minibox/internal/testkit"
)

// The real backend's tests run the test binary as minibox (lessons 04-06)
// with one hidden command more, compose-backend, that runs Compose over
// NewBackend in-process: every create, start, network create, volume
// create and build of a scenario is minibox's own command on a fresh
// command tree. They run it in a sandbox network namespace, as lesson 05's
// tests do, so bridges and firewall rules are never the real host's.

func TestMain(m *testing.M) {
	// The engine re-executes this binary as a container's monitor, as the
	// OCI runtime (`runtime ...`), and lesson 05 as a network's resolver.
	if engine.IsMonitor() || network.IsResolver() || (len(os.Args) > 1 && os.Args[1] == "runtime") {
		programMain()
	}
	testkit.MainProgram(m, programMain)
}

func programMain() {
	if network.IsResolver() {
		network.RunResolver()
	}
	n := lesson05.Install()
	i := lesson06.Install()
	lesson04.MainCLI("minibox", "minibox with the compose backend's test command", lesson06.Lesson06,
		func(c *lesson04.CLI) []*cobra.Command {
			return append(append(n.Commands(c), i.Commands(c)...), backendCmd(c))
		})
}

// scenario is what compose-backend reads on stdin.
type scenario struct {
	Project model.Project
	Up      UpOptions
	Down    DownOptions
	Service string
	Run     RunOptions
}

func backendCmd(c *lesson04.CLI) *cobra.Command {
	return &cobra.Command{
		Use: "compose-backend up|down|run", Hidden: true, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var s scenario
			if err := json.NewDecoder(cmd.InOrStdin()).Decode(&s); err != nil {
				return err
			}
			comp := &Compose{Project: &s.Project, Backend: NewBackend(c), Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()}
			ctx := context.Background()
			switch args[0] {
			case "up":
				return comp.Up(ctx, s.Up)
			case "down":
				return comp.Down(ctx, s.Down)
			case "run":
				s.Run.Stdout, s.Run.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
				code, err := comp.RunOneoff(ctx, s.Service, s.Run)
				fmt.Fprintf(cmd.OutOrStdout(), "exit %d\n", code)
				return err
			}
			return fmt.Errorf("unknown action %s", args[0])
		},
	}
}

// rbox is one test's minibox: its roots, busybox, a sandbox.
type rbox struct {
	t          *testing.T
	sb         *testkit.Sandbox
	data, exec string
}

func newRbox(t *testing.T) *rbox {
	t.Helper()
	testkit.Root(t)
	sb := testkit.NewSandbox(t)
	execRoot, err := os.MkdirTemp("", "mbx")
	require.NoError(t, err)
	b := &rbox{t: t, sb: sb, data: t.TempDir(), exec: execRoot}
	var layer bytes.Buffer
	_, err = storage.WriteTar(&layer, testkit.BusyboxRootfs(t))
	require.NoError(t, err)
	st, err := containerfs.New(b.data)
	require.NoError(t, err)
	_, err = st.Images.Import(bytes.NewReader(layer.Bytes()), "busybox",
		[]string{`CMD ["sh"]`, "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, "")
	require.NoError(t, err)
	t.Cleanup(func() {
		if out := b.run("", "ps", "-aq", "--no-trunc"); out.Code == 0 {
			for _, id := range strings.Fields(out.Stdout) {
				b.run("", "rm", "-f", "-v", id)
			}
		}
		if out := b.run("", "network", "ls", "-q", "-f", "type=custom"); out.Code == 0 {
			for _, id := range strings.Fields(out.Stdout) {
				b.run("", "network", "rm", id)
			}
		}
		os.RemoveAll(execRoot)
	})
	return b
}

func (b *rbox) run(stdin string, args ...string) testkit.Result {
	b.t.Helper()
	cmd := b.sb.Command(testkit.Self(b.t), append([]string{"--data-root", b.data, "--exec-root", b.exec}, args...)...)
	cmd.Env = append(os.Environ(), testkit.ProgramEnv+"=1")
	cmd.Stdin = strings.NewReader(stdin)
	return testkit.RunCommand(b.t, cmd)
}

func (b *rbox) ok(args ...string) string {
	b.t.Helper()
	r := b.run("", args...)
	require.Equal(b.t, 0, r.Code, "minibox %v: stdout %q stderr %q", args, r.Stdout, r.Stderr)
	return strings.TrimSuffix(r.Stdout, "\n")
}

// compose runs a scenario; its stdout (the progress lines) and stderr.
func (b *rbox) compose(action string, s scenario) testkit.Result {
	b.t.Helper()
	in, err := json.Marshal(s)
	require.NoError(b.t, err)
	return b.run(string(in), "compose-backend", action)
}

func (b *rbox) composeOK(action string, s scenario) string {
	b.t.Helper()
	r := b.compose(action, s)
	require.Equal(b.t, 0, r.Code, "compose-backend %s: stdout %q stderr %q", action, r.Stdout, r.Stderr)
	return r.Stdout
}

func (b *rbox) inspect(ref string) *engine.Info {
	b.t.Helper()
	var out []struct {
		*engine.Container
		State engine.State
	}
	require.NoError(b.t, json.Unmarshal([]byte(b.ok("inspect", ref)), &out))
	require.Len(b.t, out, 1)
	return &engine.Info{Container: out[0].Container, State: out[0].State}
}

func (b *rbox) id(ref string) string {
	b.t.Helper()
	return b.ok("inspect", "-f", "{{.Id}}", ref)
}

func rbProject() model.Project {
	return model.Project{
		Name: "rb", WorkingDir: "/src/rb", Files: []string{"/src/rb/compose.yaml"},
		Services: []model.Service{
			{Name: "web", Image: "busybox", Scale: 1, Command: []string{"sleep", "1000"},
				Environment: []string{"GREETING=hello there"}, Labels: map[string]string{"tier": "front"},
				DependsOn: map[string]model.Dependency{"db": {Condition: "service_started", Required: true}}},
			{Name: "db", Image: "busybox", Scale: 1, Command: []string{"sh", "-c", "echo ready > /data/state; exec sleep 1000"},
				Volumes: []model.Mount{{Type: "volume", Source: "data", Target: "/data"}}},
		},
		Networks: map[string]model.Network{"default": {Name: "rb_default"}},
		Volumes:  map[string]model.Volume{"data": {Name: "rb_data"}},
	}
}

func TestRealBackendUpKeepRecreateDown(t *testing.T) {
	b := newRbox(t)
	p := rbProject()
	out := b.composeOK("up", scenario{Project: p, Up: UpOptions{Detach: true}})
	assert.Equal(t, ` ✔ Network rb_default  Created
 ✔ Volume rb_data  Created
 ✔ Container rb-db-1  Created
 ✔ Container rb-web-1  Created
 ✔ Container rb-db-1  Started
 ✔ Container rb-web-1  Started
`, out)

	web := b.inspect("rb-web-1")
	assert.True(t, web.State.Running)
	web0 := p.Services[0]
	assert.Equal(t, model.ConfigHash(web0), web.Config.Labels[model.LabelConfigHash])
	assert.Equal(t, "rb", web.Config.Labels[model.LabelProject])
	assert.Equal(t, "web", web.Config.Labels[model.LabelService])
	assert.Equal(t, "1", web.Config.Labels[model.LabelNumber])
	assert.Equal(t, "False", web.Config.Labels[model.LabelOneoff])
	assert.Equal(t, "front", web.Config.Labels["tier"])
	assert.Equal(t, "db:service_started:false", web.Config.Labels[model.LabelDependsOn])
	assert.Equal(t, web.Image, web.Config.Labels[model.LabelImage], "the image ID")
	assert.Contains(t, web.Config.Env, "GREETING=hello there")
	require.Contains(t, web.NetworkSettings.Networks, "rb_default")
	assert.Contains(t, web.NetworkSettings.Networks["rb_default"].Aliases, "web")
	// A fresh command tree for each create: db did not get web's flags.
	db := b.inspect("rb-db-1")
	assert.NotContains(t, db.Config.Env, "GREETING=hello there")
	assert.NotContains(t, db.Config.Labels, "tier")
	assert.Equal(t, "ready", b.ok("exec", "rb-db-1", "cat", "/data/state"))
	// The service's name resolves on the project's network.
	b.ok("exec", "rb-web-1", "nslookup", "db")

	assert.Equal(t, "rb_default", b.ok("network", "ls", "-f", "label=com.docker.compose.project=rb", "--format", "{{.Name}}"))
	assert.Equal(t, "default", b.ok("network", "inspect", "-f", `{{index .Labels "com.docker.compose.network"}}`, "rb_default"))
	assert.Equal(t, "data rb", b.ok("volume", "inspect", "-f", `{{index .Labels "com.docker.compose.volume"}} {{index .Labels "com.docker.compose.project"}}`, "rb_data"))

	// Again: nothing changes.
	ids := []string{b.id("rb-web-1"), b.id("rb-db-1")}
	out = b.composeOK("up", scenario{Project: p, Up: UpOptions{Detach: true}})
	assert.Equal(t, " ✔ Container rb-db-1  Running\n ✔ Container rb-web-1  Running\n", out)
	assert.Equal(t, ids, []string{b.id("rb-web-1"), b.id("rb-db-1")})

	// web's environment changes: web alone is made again.
	p.Services[0].Environment = []string{"GREETING=bye"}
	out = b.composeOK("up", scenario{Project: p, Up: UpOptions{Detach: true}})
	assert.Equal(t, " ✔ Container rb-db-1  Running\n ✔ Container rb-web-1  Recreated\n ✔ Container rb-web-1  Started\n", out)
	assert.NotEqual(t, ids[0], b.id("rb-web-1"))
	assert.Equal(t, ids[1], b.id("rb-db-1"))
	assert.Contains(t, b.inspect("rb-web-1").Config.Env, "GREETING=bye")

	// down: the containers and the network go, the named volume stays.
	out = b.composeOK("down", scenario{Project: p, Down: DownOptions{Timeout: ptr(1)}})
	assert.Equal(t, ` ✔ Container rb-web-1  Stopped
 ✔ Container rb-web-1  Removed
 ✔ Container rb-db-1  Stopped
 ✔ Container rb-db-1  Removed
 ✔ Network rb_default  Removed
`, out)
	assert.Empty(t, b.ok("ps", "-aq"))
	assert.Empty(t, b.ok("network", "ls", "-q", "-f", "type=custom"))
	assert.Equal(t, "rb_data", b.ok("volume", "ls", "-q"))
	out = b.composeOK("down", scenario{Project: p, Down: DownOptions{Volumes: true}})
	assert.Equal(t, " ✔ Volume rb_data  Removed\n", out)
	assert.Empty(t, b.ok("volume", "ls", "-q"))
}

// TestRealBackendWhatNoFlagSays: the fields set on the request (several
// words of entrypoint, restart policy, healthcheck, stop signal and
// timeout) and a second network joined with network connect.
func TestRealBackendWhatNoFlagSays(t *testing.T) {
	b := newRbox(t)
	grace := 2 * time.Second
	p := model.Project{Name: "nf", WorkingDir: "/src/nf",
		Services: []model.Service{{Name: "app", Image: "busybox", Scale: 1,
			Entrypoint: []string{"sh", "-c"}, Command: []string{"echo started; exec sleep 1000"},
			Restart: "on-failure:2", StopSignal: "SIGUSR1", StopGracePeriod: &grace, Init: ptr(true),
			Healthcheck: &model.Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Hour, Retries: 2},
			Networks:    map[string]model.ServiceNetwork{"front": {Priority: 1, Aliases: []string{"www"}}, "back": {Aliases: []string{"api"}}},
			Resources:   model.Resources{Memory: 32 << 20, Pids: 50},
		}},
		Networks: map[string]model.Network{"front": {Name: "nf_front"}, "back": {Name: "nf_back", Internal: true}},
	}
	out := b.composeOK("up", scenario{Project: p, Up: UpOptions{Detach: true}})
	assert.Equal(t, " ✔ Network nf_front  Created\n ✔ Network nf_back  Created\n ✔ Container nf-app-1  Created\n ✔ Container nf-app-1  Started\n", out)
	in := b.inspect("nf-app-1")
	assert.Equal(t, []string{"sh", "-c"}, in.Config.Entrypoint)
	assert.Equal(t, "sh", in.Path)
	assert.Equal(t, []string{"-c", "echo started; exec sleep 1000"}, in.Args)
	assert.Equal(t, engine.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, in.HostConfig.RestartPolicy)
	assert.Equal(t, "SIGUSR1", in.Config.StopSignal)
	require.NotNil(t, in.Config.StopTimeout)
	assert.Equal(t, 2, *in.Config.StopTimeout)
	require.NotNil(t, in.Config.Healthcheck)
	assert.Equal(t, []string{"CMD", "true"}, in.Config.Healthcheck.Test)
	assert.Equal(t, time.Hour, in.Config.Healthcheck.Interval)
	assert.True(t, in.HostConfig.Init)
	assert.Equal(t, int64(32<<20), in.HostConfig.Memory)
	require.NotNil(t, in.HostConfig.PidsLimit)
	assert.Equal(t, int64(50), *in.HostConfig.PidsLimit)
	assert.Equal(t, "nf_front", in.HostConfig.NetworkMode)
	require.Contains(t, in.NetworkSettings.Networks, "nf_front")
	require.Contains(t, in.NetworkSettings.Networks, "nf_back")
	assert.Equal(t, []string{"app", "www"}, filterAliases(in.NetworkSettings.Networks["nf_front"].Aliases))
	assert.Equal(t, []string{"app", "api"}, filterAliases(in.NetworkSettings.Networks["nf_back"].Aliases))
	assert.Equal(t, "started", b.ok("logs", "nf-app-1"))

	out = b.composeOK("down", scenario{Project: p})
	assert.Contains(t, out, " ✔ Network nf_back  Removed\n ✔ Network nf_front  Removed\n")
	assert.Empty(t, b.ok("ps", "-aq"))
}

// filterAliases drops what the engine adds itself (the short ID).
func filterAliases(a []string) []string {
	var out []string
	for _, s := range a {
		if len(s) != 12 || strings.Trim(s, "0123456789abcdef") != "" {
			out = append(out, s)
		}
	}
	return out
}

// TestRealBackendBuildAndRun: a service with build: is built (PROJECT-
// SERVICE) and a one-off container runs in it.
func TestRealBackendBuildAndRun(t *testing.T) {
	b := newRbox(t)
	ctxDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(ctxDir, "Dockerfile.dev"),
		[]byte("FROM busybox\nARG WHO\nRUN echo built for $WHO > /greeting\nCMD [\"sleep\", \"1000\"]\n"), 0o644))
	who := "compose"
	p := model.Project{Name: "bd", WorkingDir: ctxDir,
		Services: []model.Service{{Name: "app", Image: "bd-app", Scale: 1, NetworkMode: "none",
			Build: &model.Build{Context: ctxDir, Dockerfile: "Dockerfile.dev", Args: map[string]*string{"WHO": &who}}}},
	}
	out := b.composeOK("up", scenario{Project: p, Up: UpOptions{Detach: true}})
	assert.Contains(t, out, " ✔ Service app  Built\n ✔ Container bd-app-1  Created\n ✔ Container bd-app-1  Started\n")
	assert.Equal(t, "built for compose", b.ok("exec", "bd-app-1", "cat", "/greeting"))
	imageID := b.ok("image", "inspect", "-f", "{{.Id}}", "bd-app")
	assert.Equal(t, imageID, b.inspect("bd-app-1").Config.Labels[model.LabelImage])

	r := b.compose("run", scenario{Project: p, Service: "app", Run: RunOptions{Command: []string{"cat", "/greeting"}, Rm: true, NoTTY: true}})
	require.Equal(t, 0, r.Code, "%s", r.Stderr)
	assert.Equal(t, "built for compose\nexit 0\n", r.Stdout)
	r = b.compose("run", scenario{Project: p, Service: "app", Run: RunOptions{Command: []string{"sh", "-c", "exit 7"}, Rm: true, NoTTY: true}})
	assert.Equal(t, "exit 7\n", r.Stdout)
	assert.Equal(t, "bd-app-1", b.ok("ps", "-a", "--format", "{{.Names}}"), "the one-offs removed (--rm)")

	out = b.composeOK("down", scenario{Project: p, Down: DownOptions{RMI: "local"}})
	assert.Contains(t, out, " ✔ Image bd-app  Removed\n")
	assert.NotEqual(t, 0, b.run("", "image", "inspect", "bd-app").Code)
}
