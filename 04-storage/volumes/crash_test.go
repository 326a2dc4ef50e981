package volumes

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A process killed inside Create or Remove leaves its .new- or .removed-
// directory: the next holder of the store's lock removes it (every such
// directory lives only while its maker holds that lock).
func TestTrashOfDeadProcessesIsSwept(t *testing.T) {
	s, err := New(t.TempDir())
	require.NoError(t, err)
	for _, d := range []string{".new-123", ".removed-456/v/_data"} {
		require.NoError(t, os.MkdirAll(filepath.Join(s.Root, d), 0o700))
	}
	_, _, err = s.Prune(Filter{}, false)
	require.NoError(t, err)
	assert.NoDirExists(t, filepath.Join(s.Root, ".new-123"))
	assert.NoDirExists(t, filepath.Join(s.Root, ".removed-456"))
}

// ReleaseAll finds a container's uses that its config never recorded.
func TestReleaseAll(t *testing.T) {
	s, err := New(t.TempDir())
	require.NoError(t, err)
	for _, n := range []string{"va", "vb", "vc"} {
		_, err := s.Create(n, nil, false)
		require.NoError(t, err)
	}
	require.NoError(t, s.Use("va", "ctr1"))
	require.NoError(t, s.Use("vc", "ctr1"))
	require.NoError(t, s.Use("vc", "ctr2"))
	got, err := s.ReleaseAll("ctr1")
	require.NoError(t, err)
	assert.Equal(t, []string{"va", "vc"}, got)
	users, err := s.Users("vc")
	require.NoError(t, err)
	assert.Equal(t, []string{"ctr2"}, users)
	users, err = s.Users("va")
	require.NoError(t, err)
	assert.Empty(t, users)
}
