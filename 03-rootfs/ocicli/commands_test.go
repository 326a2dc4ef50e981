package ocicli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/01-namespaces/cli"
)

// mounted is a program that hosts the runtime under a hidden `runtime`
// command, as the engine's does.
func mounted() *cobra.Command {
	root := &cobra.Command{Use: "minibox"}
	rt := &cobra.Command{Use: "runtime", Hidden: true, Short: "minibox's OCI runtime, as a shim drives runc"}
	var g Flags
	g.AddFlags(rt)
	rt.AddCommand(Commands(&g)...)
	root.AddCommand(rt)
	return root
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Execute(mounted(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommandsMountUnderRuntime(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := run("runtime", "--root", dir, "list", "--format", "json")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "[]\n", out)

	log := filepath.Join(dir, "log.json")
	code, _, stderr = run("runtime", "--root", dir, "--log", log, "--log-format", "json", "state", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `container "nope" does not exist`)
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"level":"error"`)

	code, _, stderr = run("runtime", "--root", dir, "exec", "nope", "true")
	assert.NotEqual(t, 0, code)
	assert.NotEmpty(t, stderr)

	var names []string
	for _, c := range Commands(&Flags{}) {
		names = append(names, strings.Fields(c.Use)[0])
	}
	assert.Equal(t, []string{"create", "start", "state", "kill", "delete", "list", "spec", "exec"}, names)
}

func TestApplyExecFlags(t *testing.T) {
	cmd := newExecCmd(&Flags{})
	require.NoError(t, cmd.ParseFlags([]string{"-t", "--no-new-privs"}))
	p := &specs.Process{
		Env:          []string{"A=1"},
		Cwd:          "/",
		User:         specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{5}},
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Inheritable: []string{}},
	}
	spec := *p.Capabilities
	err := applyExecFlags(cmd, p, execFlags{cwd: "/tmp", user: "10:20", env: []string{"B=2"}, caps: []string{"net_admin"}, gids: []uint{7}, tty: true, noNew: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"A=1", "B=2"}, p.Env)
	assert.Equal(t, "/tmp", p.Cwd)
	assert.Equal(t, specs.User{UID: 10, GID: 20, AdditionalGids: []uint32{7}}, p.User)
	assert.True(t, p.Terminal)
	assert.True(t, p.NoNewPrivileges)
	assert.Equal(t, []string{"CAP_KILL", "CAP_NET_ADMIN"}, p.Capabilities.Bounding)
	assert.Equal(t, []string{"CAP_NET_ADMIN"}, p.Capabilities.Effective)
	assert.Equal(t, []string{"CAP_NET_ADMIN"}, p.Capabilities.Ambient, "ambient, since the spec has an inheritable set")
	assert.Equal(t, []string{"CAP_KILL"}, spec.Bounding, "the spec's own lists are not changed")

	for _, bad := range []string{"root", "1:x", "-1"} {
		assert.Error(t, applyExecFlags(cmd, &specs.Process{}, execFlags{user: bad}), bad)
	}
}
