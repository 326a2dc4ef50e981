package initproto

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithFilesNumbersFromExtraFd(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	// Lesson 01's Start hands the init descriptors 0 to ExtraFd-1.
	attr := &syscall.ProcAttr{Files: make([]uintptr, ExtraFd)}
	WithFiles(r, nil, w)(attr)
	require.Len(t, attr.Files, ExtraFd+3)
	assert.Equal(t, r.Fd(), attr.Files[ExtraFd])
	assert.Equal(t, ^uintptr(0), attr.Files[ExtraFd+1], "a nil file leaves its number closed")
	assert.Equal(t, w.Fd(), attr.Files[ExtraFd+2])

	// What the init sees: only the numbers that were given.
	require.Len(t, attr.Env, 1)
	t.Setenv(extraFilesEnv, attr.Env[0][len(extraFilesEnv)+1:])
	assert.Equal(t, []int{ExtraFd, ExtraFd + 2}, extraFiles())
	assert.True(t, ExtraFile(ExtraFd))
	assert.False(t, ExtraFile(ExtraFd+1))
	assert.False(t, ExtraFile(2), "stdio is never an extra file")
}

func TestGatesRunInOrderAndStopAtAnError(t *testing.T) {
	var ran []string
	gate := func(name string, err error) Gate {
		return func(*specs.Spec, func()) error { ran = append(ran, name); return err }
	}
	boom := errors.New("boom")
	err := Gates(gate("a", nil), gate("b", boom), gate("c", nil))(&specs.Spec{}, func() {})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"a", "b"}, ran)
}

func TestSpecAndExtraTravelTogether(t *testing.T) {
	t.Cleanup(func() { received = nil })
	tests := []struct {
		name  string
		extra any
	}{
		{"with extra", specs.State{ID: "box", Pid: 42}},
		{"without", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			received = nil
			var buf bytes.Buffer
			require.NoError(t, SendSpec(&buf, &specs.Spec{Hostname: "box-1"}, tt.extra))
			spec, err := ReadSpec(&buf)
			require.NoError(t, err)
			assert.Equal(t, "box-1", spec.Hostname)
			var st specs.State
			ok, err := Extra(&st)
			require.NoError(t, err)
			assert.Equal(t, tt.extra != nil, ok)
			if ok {
				assert.Equal(t, tt.extra, st)
			}
		})
	}
	_, err := ReadSpec(bytes.NewBufferString(`{"hostname":"x"} {broken`))
	assert.ErrorContains(t, err, "after the spec")
}
