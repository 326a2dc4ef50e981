package hooks

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunPassesStateArgsAndEnv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	st := &specs.State{Version: "1.2.0", ID: "web", Status: specs.StateCreating, Pid: 42, Bundle: "/b"}
	h := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `echo "$0 $GREETING $(cat)" > ` + out}, Env: []string{"GREETING=hi"}}
	require.NoError(t, Run("prestart", []specs.Hook{h}, st))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, `sh hi {"ociVersion":"1.2.0","id":"web","status":"creating","pid":42,"bundle":"/b"}`+"\n", string(data))
}

func TestRunStopsAtTheFirstFailure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	hooks := []specs.Hook{
		{Path: "/bin/sh", Args: []string{"sh", "-c", "echo broken >&2; exit 3"}},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + out}},
	}
	err := Run("createRuntime", hooks, &specs.State{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "createRuntime hook #0 (/bin/sh)")
	assert.Contains(t, err.Error(), "exit status 3: broken")
	assert.NoFileExists(t, out)

	errs := RunAll("poststop", hooks, &specs.State{})
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "poststop hook #0")
	assert.FileExists(t, out, "RunAll goes on after a failure")
}

func TestRunTimeoutAndBadPath(t *testing.T) {
	one := 1
	start := time.Now()
	err := Run("poststart", []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &one}}, &specs.State{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "timed out after 1s")
	assert.Less(t, time.Since(start), 20*time.Second)

	zero := 0
	assert.ErrorContains(t, Run("prestart", []specs.Hook{{Path: "/bin/true", Timeout: &zero}}, &specs.State{}), "positive")
	assert.ErrorContains(t, Run("prestart", []specs.Hook{{Path: "true"}}, &specs.State{}), "absolute")
	assert.ErrorContains(t, Run("prestart", []specs.Hook{{Path: "/no/such/hook"}}, &specs.State{}), "no such file")
	assert.NoError(t, Run("prestart", nil, &specs.State{}))
}

func TestHookThatLeavesAChildBehind(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The child keeps the hook's output pipe open after the hook exits.
	h := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 60 & echo $! > " + pidFile + "; echo done"}}
	start := time.Now()
	require.NoError(t, Run("createRuntime", []specs.Hook{h}, &specs.State{}))
	assert.Less(t, time.Since(start), 30*time.Second, "Run did not wait for the child")
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL)) // the sleep this test started
}
