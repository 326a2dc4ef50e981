package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	lesson04 "minibox/04-storage/commands"
	"minibox/04-storage/images"
	"minibox/06-image/build"
	"minibox/06-image/commands"
	"minibox/internal/testkit"
)

// The builder's Executor runs a RUN step in a real container of the
// engine: its output is relayed, its diff becomes a layer (kept as a blob
// named by its diffID and unpacked in the layer store), and the container
// and its snapshot are gone afterwards, whatever the exit status.
func TestExecutorRun(t *testing.T) {
	testkit.Root(t)
	// The engine re-executes this binary as the monitor and the runtime.
	t.Setenv(testkit.ProgramEnv, "1")
	execRoot, err := os.MkdirTemp("", "mbx")
	require.NoError(t, err)
	defer os.RemoveAll(execRoot)
	data := t.TempDir()
	importBusybox(t, data)
	e, err := commands.Lesson06(lesson04.Globals{DataRoot: data, ExecRoot: execRoot})
	require.NoError(t, err)
	st := e.Options().Images.(*images.Store)
	base, err := st.Resolve("busybox")
	require.NoError(t, err)
	x := &commands.Executor{Engine: e}

	// The request's command, environment, directory and user, with stdout
	// and stderr both relayed.
	var out bytes.Buffer
	res, err := x.Run(context.Background(), build.RunRequest{
		Image: base.ID, Cmd: []string{"/bin/sh", "-c", "echo out; echo err >&2; pwd; id -u; echo A=$A"},
		Env: []string{"PATH=/bin:/usr/bin", "A=1"}, WorkingDir: "/tmp", User: "65534", Network: "none", Stdout: &out,
	})
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode)
	// stdout and stderr are two pipes: their lines interleave in any order.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.ElementsMatch(t, []string{"out", "err", "/tmp", "65534", "A=1"}, lines)
	noContainers(t, data)

	out.Reset()
	res, err = x.Run(context.Background(), build.RunRequest{
		Image: base.ID, Cmd: []string{"/bin/sh", "-c", "echo hi > /f"}, Network: "none", Stdout: &out,
	})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode)
	require.False(t, res.Empty)
	l := res.Layer
	assert.Equal(t, l.DiffID, l.Digest, "a local layer's blob is its uncompressed tar")
	assert.True(t, st.Layers.Has(l.DiffID))
	rc, size, err := st.Blobs().Open(l.Digest)
	require.NoError(t, err)
	defer rc.Close()
	assert.Equal(t, l.Size, size)
	files := tarFiles(t, rc)
	assert.Equal(t, "hi\n", files["f"], "the layer: %v", files)
	noContainers(t, data)

	// A failing step: its status, no layer, and no container either.
	res, err = x.Run(context.Background(), build.RunRequest{
		Image: base.ID, Cmd: []string{"/bin/sh", "-c", "exit 3"}, Network: "none", Stdout: io.Discard,
	})
	require.NoError(t, err)
	assert.Equal(t, 3, res.ExitCode)
	assert.Empty(t, res.Layer.DiffID)
	noContainers(t, data)
}

// tarFiles reads a layer tar: regular files by name, their content.
func tarFiles(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[filepath.Clean(h.Name)] = string(data)
	}
}

// noContainers checks that no container and no snapshot is left.
func noContainers(t *testing.T, data string) {
	t.Helper()
	for _, dir := range []string{"containers", "storage/overlay", "storage/vfs"} {
		ents, err := os.ReadDir(filepath.Join(data, dir))
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		assert.Empty(t, names, "left in %s", dir)
	}
}
