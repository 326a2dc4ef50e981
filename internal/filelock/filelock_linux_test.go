package filelock

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tryHeld reports whether someone else holds a lock on path, by trying.
func tryHeld(t *testing.T, path string) bool {
	t.Helper()
	l, ok, err := TryExclusive(path)
	require.NoError(t, err)
	l.Unlock()
	return !ok
}

func TestLocks(t *testing.T) {
	tests := []struct {
		name string
		dir  bool
		take func(string) (*Lock, error)
	}{
		{name: "exclusive file", take: Exclusive},
		{name: "exclusive dir", dir: true, take: Exclusive},
		{name: "shared file", take: Shared},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lock")
			if tt.dir {
				require.NoError(t, os.Mkdir(path, 0o700))
			}
			l, err := tt.take(path)
			require.NoError(t, err)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, tt.dir, fi.IsDir())
			assert.True(t, tryHeld(t, path), "a second open description is excluded")
			l.Unlock()
			assert.False(t, tryHeld(t, path), "unlock releases")
			l.Unlock() // twice is harmless
		})
	}
}

func TestSharedHoldersShare(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, err := Shared(path)
	require.NoError(t, err)
	defer a.Unlock()
	b, err := Shared(path) // would block forever if shared excluded shared
	require.NoError(t, err)
	b.Unlock()
}

func TestExclusiveWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, err := Exclusive(path)
	require.NoError(t, err)
	got := make(chan *Lock)
	go func() {
		b, err := Exclusive(path)
		assert.NoError(t, err)
		got <- b
	}()
	select {
	case <-got:
		t.Fatal("second exclusive lock taken while the first is held")
	default:
	}
	a.Unlock()
	(<-got).Unlock()
}

func TestErrors(t *testing.T) {
	_, err := Exclusive(filepath.Join(t.TempDir(), "missing", "lock"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	gone := filepath.Join(t.TempDir(), "gone")
	_, ok, err := TryExclusive(gone)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.False(t, ok)
	assert.NoFileExists(t, gone, "TryExclusive creates nothing")
}
