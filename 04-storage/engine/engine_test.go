package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFramesRoundTrip(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeFrame(&b, frameStderr, []byte("oops\n")))
	require.NoError(t, writeFrame(&b, frameExit, []byte("42")))
	// Docker's stdcopy header: type, three zeros, big-endian length.
	assert.Equal(t, []byte{2, 0, 0, 0, 0, 0, 0, 5}, b.Bytes()[:8])
	typ, p, err := readFrame(&b)
	require.NoError(t, err)
	assert.Equal(t, byte(frameStderr), typ)
	assert.Equal(t, "oops\n", string(p))
	typ, p, err = readFrame(&b)
	require.NoError(t, err)
	assert.Equal(t, byte(frameExit), typ)
	assert.Equal(t, "42", string(p))
	_, _, err = readFrame(&b)
	assert.Error(t, err)
}

func TestLogWriterSplitsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x-json.log")
	w, err := openLog(path)
	require.NoError(t, err)
	w.write("stdout", []byte("one\ntw"))
	w.write("stderr", []byte("err\n"))
	w.write("stdout", []byte("o\nunfinished"))
	w.close()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var en LogEntry
		require.NoError(t, json.Unmarshal([]byte(line), &en))
		assert.False(t, en.Time.IsZero())
		got = append(got, en.Stream+":"+en.Log)
	}
	assert.Equal(t, []string{"stdout:one\n", "stderr:err\n", "stdout:two\n", "stdout:unfinished"}, got)
}

func TestStartCode(t *testing.T) {
	assert.Equal(t, 127, startCode(`exec: "nope": executable file not found in $PATH`))
	assert.Equal(t, 127, startCode(`exec /x: no such file or directory`))
	assert.Equal(t, 126, startCode(`exec: "/etc": permission denied`))
	assert.Equal(t, 126, startCode(`exec: "/etc": is a directory`))
	assert.Equal(t, 125, startCode(`cgroup: no space left on device`))
}

func TestObserveTrustsOnlyLiveProcesses(t *testing.T) {
	self, ok := startTime(os.Getpid())
	require.True(t, ok)
	running := State{Status: "running", Running: true, Pid: os.Getpid(), PidStart: self}
	assert.Equal(t, running, observe(running))
	// The same PID with another start time is another process.
	reused := running
	reused.PidStart = self + 1
	got := observe(reused)
	assert.Equal(t, "exited", got.Status)
	assert.Equal(t, 255, got.ExitCode)
	assert.False(t, got.Running)
}

func TestNamesAndIDs(t *testing.T) {
	e := &Engine{opts: Options{DataRoot: t.TempDir()}}
	require.NoError(t, os.MkdirAll(filepath.Join(e.opts.DataRoot, "names"), 0o700))
	id1, id2 := newID(), newID()
	assert.Len(t, id1, 64)
	assert.NotEqual(t, id1, id2)
	for _, id := range []string{id1, id2} {
		require.NoError(t, os.MkdirAll(e.dataDir(id), 0o700))
		require.NoError(t, writeJSON(filepath.Join(e.dataDir(id), "config.json"), &Container{ID: id}))
	}
	require.NoError(t, e.reserveName("web", id1))
	var ce *ConflictError
	require.ErrorAs(t, e.reserveName("web", id2), &ce)
	assert.Equal(t, id1, ce.ID)
	got, err := e.Lookup("web")
	require.NoError(t, err)
	assert.Equal(t, id1, got)
	got, err = e.Lookup("/web")
	require.NoError(t, err)
	assert.Equal(t, id1, got)
	got, err = e.Lookup(id2[:10])
	require.NoError(t, err)
	assert.Equal(t, id2, got)
	_, err = e.Lookup("zzz")
	assert.ErrorIs(t, err, ErrNotFound)
	// A name whose container is gone is stale and free again.
	require.NoError(t, os.RemoveAll(e.dataDir(id1)))
	require.NoError(t, e.reserveName("web", id2))
	assert.Regexp(t, `^[a-z]+_[a-z]+$`, randomName(0))
}
