package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/01-namespaces/cli"
)

// compose runs compose's tree (no engine: config needs none) and returns
// stdout, stderr and the exit status as the program would.
func composeRun(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	var out, errs bytes.Buffer
	top := (&CLI{Environ: env}).tree(nil)
	top.SetArgs(append([]string{"compose"}, args...))
	top.SetOut(&out)
	top.SetErr(&errs)
	top.SilenceErrors, top.SilenceUsage = true, true
	code := cli.Execute(top, append([]string{"compose"}, args...), &out, &errs)
	return out.String(), errs.String(), code
}

const demoFile = `services:
  web:
    image: busybox
    command: httpd -f -p 80
    ports: ["8080:80"]
    depends_on: [db]
  db:
    image: ${DB_IMAGE:-busybox}
    volumes: [data:/data]
volumes:
  data:
`

func TestConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My_App")
	require.NoError(t, os.Mkdir(dir, 0o755))
	file := filepath.Join(dir, "compose.yaml")
	require.NoError(t, os.WriteFile(file, []byte(demoFile), 0o644))
	env := []string{"DB_IMAGE=busybox:1.36"}

	out, errs, code := composeRun(t, env, "-f", file, "config", "--services")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, "db\nweb\n", out)
	out, _, code = composeRun(t, env, "-f", file, "config", "--volumes")
	require.Equal(t, 0, code)
	assert.Equal(t, "data\n", out)
	out, _, code = composeRun(t, env, "-f", file, "config", "-q")
	require.Equal(t, 0, code)
	assert.Empty(t, out)
	out, _, code = composeRun(t, env, "-f", file, "config", "--images")
	require.Equal(t, 0, code)
	assert.Equal(t, "busybox:1.36\nbusybox\n", out, "interpolated from the environment; services in the model's order")
	out, errs, code = composeRun(t, env, "--project-directory", dir, "config")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "name: my_app", "the directory's name, normalised")
	assert.Contains(t, out, "image: busybox:1.36")
	assert.Contains(t, out, "published: \"8080\"")

	_, errs, code = composeRun(t, env, "-f", file, "config", "cache")
	assert.Equal(t, 1, code)
	assert.Equal(t, "no such service: cache\n", errs)

	o := filepath.Join(t.TempDir(), "out.yaml")
	_, errs, code = composeRun(t, env, "-f", file, "config", "-o", o)
	require.Equal(t, 0, code, errs)
	data, err := os.ReadFile(o)
	require.NoError(t, err)
	assert.Contains(t, string(data), "services:")
}

func TestConfigNoFile(t *testing.T) {
	empty := t.TempDir()
	_, errs, code := composeRun(t, nil, "--project-directory", empty, "config")
	assert.Equal(t, 1, code)
	assert.Equal(t, "no configuration file provided: not found\n", errs)
}

func TestConfigBrokenFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	require.NoError(t, os.WriteFile(file, []byte("services:\n  web:\n    image: busybox\n   bad: [\n"), 0o644))
	_, errs, code := composeRun(t, nil, "-f", file, "config")
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "line", "compose-go's error names the line")
}
