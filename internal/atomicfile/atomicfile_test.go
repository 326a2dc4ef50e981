package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name    string
		old     []byte // nil: no file before
		data    []byte
		perm    os.FileMode
		wantErr bool
	}{
		{name: "new file", data: []byte("hello\n"), perm: 0o600},
		{name: "replaces old content", old: []byte("a much longer old content"), data: []byte("new"), perm: 0o644},
		{name: "empty", old: []byte("x"), data: []byte{}, perm: 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.json")
			if tt.old != nil {
				require.NoError(t, os.WriteFile(path, tt.old, 0o600))
			}
			require.NoError(t, WriteFile(path, tt.data, tt.perm))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, tt.data, got)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tt.perm, fi.Mode().Perm())
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, entries, 1, "no temporary file is left behind")
		})
	}
}

func TestWriteFileErrorLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	// The target is a non-empty directory: rename(2) fails with EISDIR
	// (or ENOTEMPTY), and nothing else in dir may change.
	path := filepath.Join(dir, "target")
	require.NoError(t, os.MkdirAll(filepath.Join(path, "child"), 0o700))
	err := WriteFile(path, []byte("x"), 0o600)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the temporary file is removed")
	assert.Equal(t, "target", entries[0].Name())

	err = WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
