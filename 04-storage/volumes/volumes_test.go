package volumes

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests need no root: a volume is a directory and a JSON file.

func names(vs []*Volume) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateInspectListRemove(t *testing.T) {
	s, err := New(t.TempDir())
	require.NoError(t, err)
	v, err := s.Create("data", map[string]string{"app": "web"}, false)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(s.Root, "data", "_data"), v.Mountpoint)
	assert.DirExists(t, v.Mountpoint)
	js, err := json.Marshal(v)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(js, &got))
	for _, k := range []string{"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"} {
		assert.Contains(t, got, k, "docker volume inspect's fields")
	}
	assert.Equal(t, "local", got["Driver"])
	assert.Equal(t, "local", got["Scope"])

	again, err := s.Create("data", nil, false)
	require.NoError(t, err)
	assert.Equal(t, v, again, "creating an existing name returns it")

	anon, err := s.Create("", nil, true)
	require.NoError(t, err)
	assert.Len(t, anon.Name, 64)
	assert.True(t, anon.Anonymous)
	assert.Contains(t, anon.Labels, "com.docker.volume.anonymous")

	_, err = s.Create("-bad", nil, false)
	assert.ErrorContains(t, err, "invalid characters")
	_, err = s.Inspect("nope")
	assert.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, s.Use("data", "c1"))
	require.NoError(t, s.Use("data", "c2"))
	err = s.Remove("data", true)
	assert.ErrorIs(t, err, ErrInUse)
	assert.EqualError(t, err, "remove data: volume is in use - [c1, c2]")
	assert.DirExists(t, v.Mountpoint)

	f, err := ParseFilter([]string{"dangling=true"})
	require.NoError(t, err)
	vs, err := s.List(f)
	require.NoError(t, err)
	assert.Equal(t, []string{anon.Name}, names(vs))
	f, err = ParseFilter([]string{"dangling=false", "label=app=web", "name=at"})
	require.NoError(t, err)
	vs, err = s.List(f)
	require.NoError(t, err)
	assert.Equal(t, []string{"data"}, names(vs))
	f, _ = ParseFilter([]string{"label=app=db"})
	vs, err = s.List(f)
	require.NoError(t, err)
	assert.Empty(t, vs)
	for _, bad := range []string{"dangling=maybe", "color=red", "x"} {
		_, err := ParseFilter([]string{bad})
		assert.Error(t, err, bad)
	}

	require.NoError(t, s.Release("data", "c1"))
	require.NoError(t, s.Release("data", "c2"))
	require.NoError(t, s.Release("data", "c2"), "twice is fine")
	require.NoError(t, os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("x"), 0o644))
	require.NoError(t, s.Remove("data", false))
	assert.NoDirExists(t, filepath.Join(s.Root, "data"))
	assert.ErrorIs(t, s.Remove("data", false), ErrNotFound)
	assert.NoError(t, s.Remove("data", true), "-f: a missing volume is no error")
}

func TestPrune(t *testing.T) {
	s, err := New(t.TempDir())
	require.NoError(t, err)
	_, err = s.Create("named", nil, false)
	require.NoError(t, err)
	a, err := s.Create("", nil, true)
	require.NoError(t, err)
	b, err := s.Create("", nil, true)
	require.NoError(t, err)
	require.NoError(t, s.Use(b.Name, "c1"))
	require.NoError(t, os.WriteFile(filepath.Join(a.Mountpoint, "f"), make([]byte, 8192), 0o644))

	gone, size, err := s.Prune(Filter{}, false)
	require.NoError(t, err)
	assert.Equal(t, []string{a.Name}, gone, "only unused anonymous volumes")
	assert.GreaterOrEqual(t, size, int64(8192))
	gone, _, err = s.Prune(Filter{}, true)
	require.NoError(t, err)
	assert.Equal(t, []string{"named"}, gone, "-a: named ones too, never one in use")
	vs, err := s.List(Filter{})
	require.NoError(t, err)
	assert.Equal(t, []string{b.Name}, names(vs))
}

func TestPopulate(t *testing.T) {
	boom := errors.New("boom")
	write := func(dir string) error { return os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644) }
	tests := []struct {
		name       string
		before     func(t *testing.T, data string) // state of _data before
		fill       func(dir string) error
		wantErr    error
		wantFilled bool
		wantMarked bool
		wantFiles  []string
	}{
		{name: "empty volume is filled and marked", fill: write, wantFilled: true, wantMarked: true, wantFiles: []string{"f"}},
		{name: "nothing to copy leaves it empty and unmarked", fill: func(string) error { return nil }, wantFilled: true},
		{name: "content without a marker is marked, not filled",
			before: func(t *testing.T, data string) {
				require.NoError(t, os.WriteFile(filepath.Join(data, "mine"), nil, 0o644))
			},
			fill: write, wantMarked: true, wantFiles: []string{"mine"}},
		{name: "a failed fill is emptied again, unmarked",
			fill:    func(dir string) error { _ = write(dir); return boom },
			wantErr: boom, wantFilled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(t.TempDir())
			require.NoError(t, err)
			v, err := s.Create("data", nil, false)
			require.NoError(t, err)
			if tt.before != nil {
				tt.before(t, v.Mountpoint)
			}
			filled, err := s.Populate("data", tt.fill)
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantFilled, filled)
			assert.Equal(t, tt.wantMarked, s.Populated("data"))
			ents, err := os.ReadDir(v.Mountpoint)
			require.NoError(t, err)
			got := []string{}
			for _, e := range ents {
				got = append(got, e.Name())
			}
			if tt.wantFiles == nil {
				tt.wantFiles = []string{}
			}
			assert.Equal(t, tt.wantFiles, got)
		})
	}
	t.Run("missing volume", func(t *testing.T) {
		s, err := New(t.TempDir())
		require.NoError(t, err)
		_, err = s.Populate("nope", write)
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

// TestPopulateOnce is the copy-up race: containers that start at once on
// a new volume. However they interleave, one fill runs; the others wait for
// it and find the volume populated.
func TestPopulateOnce(t *testing.T) {
	s, err := New(t.TempDir())
	require.NoError(t, err)
	_, err = s.Create("data", nil, false)
	require.NoError(t, err)
	var fills atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine opens the lock file itself, as separate
			// processes would: flock excludes open file descriptions.
			_, err := s.Populate("data", func(dir string) error {
				fills.Add(1)
				// A copy takes a while: without the lock the others would
				// find the directory still empty (or half-full) and copy too.
				for j := 0; j < 50; j++ {
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(j)), []byte("x"), 0o644); err != nil {
						return err
					}
				}
				return nil
			})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), fills.Load())
	assert.True(t, s.Populated("data"))
}
