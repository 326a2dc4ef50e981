package oci

import (
	"encoding/json"
	"io"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/initproto"
	"minibox/01-namespaces/namespaces"
	"minibox/internal/testkit"
)

// The test binary is the exec process too (forkExecProcess re-runs it).
// Right before its execve(2) it refuses to go on while dumpable: the errno
// comes back to the test through the error pipe.
func TestMain(m *testing.M) {
	if IsExecInit() {
		initproto.AtExec(func() error {
			if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err != nil || d != 0 {
				return unix.ENOTRECOVERABLE // allocates nothing
			}
			return nil
		})
		ExecInit()
	}
	os.Exit(m.Run())
}

// The exec process is our own binary in the container's PID namespace,
// with the container's capabilities from Finish on: dumpable, a root
// process of the container with the same capabilities could open its
// /proc/PID/exe (our binary, CVE-2019-5736). It must be non-dumpable up to
// the execve of the command.
func TestExecProcessIsNotDumpableBeforeExecve(t *testing.T) {
	testkit.Root(t)
	pid, specW, errR, err := forkExecProcess(&execNamespaces{}, namespaces.Stdio{}, nil)
	require.NoError(t, err)
	defer errR.Close()
	spec := specs.Spec{Process: &specs.Process{Args: []string{"/bin/true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, Linux: &specs.Linux{}}
	err = json.NewEncoder(specW).Encode(&spec)
	specW.Close()
	require.NoError(t, err)
	msg, err := io.ReadAll(errR)
	require.NoError(t, err)
	code, err := wait(pid)
	require.NoError(t, err)
	assert.Empty(t, string(msg), "the exec process reported a failure (dumpable before execve?)")
	assert.Equal(t, 0, code, "the command ran")
}
