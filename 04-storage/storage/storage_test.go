package storage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChainID(t *testing.T) {
	a := digest.FromString("layer a")
	b := digest.FromString("layer b")
	c := digest.FromString("layer c")
	ab := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(a.String()+" "+b.String())))
	abc := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(ab+" "+c.String())))
	tests := []struct {
		name string
		in   []digest.Digest
		want digest.Digest
	}{
		{"none", nil, ""},
		{"one layer is its diffID", []digest.Digest{a}, a},
		{"two", []digest.Digest{a, b}, digest.Digest(ab)},
		{"three folds in order", []digest.Digest{a, b, c}, digest.Digest(abc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ChainID(tt.in))
		})
	}
	assert.NotEqual(t, ChainID([]digest.Digest{a, b}), ChainID([]digest.Digest{b, a}), "order matters")
}

func TestWhiteoutNames(t *testing.T) {
	tests := []struct {
		base   string
		name   string
		opaque bool
		ok     bool
	}{
		{".wh.motd", "motd", false, true},
		{".wh..wh..opq", "", true, true},
		{".wh..wh.plnk", "", false, false}, // AUFS bookkeeping
		{"motd", "", false, false},
		{"x.wh.y", "", false, false},
		{".wh.", "", false, true}, // deletes "": refused by the extractor
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			name, opaque, ok := WhiteoutTarget(tt.base)
			assert.Equal(t, tt.name, name)
			assert.Equal(t, tt.opaque, opaque)
			assert.Equal(t, tt.ok, ok)
		})
	}
	assert.Equal(t, "etc/.wh.motd", WhiteoutName("etc/motd"))
	assert.Equal(t, ".wh.tmp", WhiteoutName("tmp"))
}

func TestCleanName(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"etc/passwd", "etc/passwd", false},
		{"./etc/", "etc", false},
		{"a/../b", "b", false},
		{"./", ".", false},
		{"/etc/passwd", "", true},
		{"../x", "", true},
		{"a/../../x", "", true},
		{"..", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := cleanName(tt.in)
			if tt.bad {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// The diffID is the sha256 of every byte of the stream, padding included.
func TestExtractDiffIDIsTheStreamsSHA256(t *testing.T) {
	b := tarOf(t, dir("etc/"), file("etc/hostname", "box\n"))
	b = append(b, make([]byte, 10240-len(b)%10240)...) // GNU tar pads to 20 blocks
	d, err := Extract(bytes.NewReader(b), t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(b), d)
}

// Same files, same bytes; a different mtime, a different layer. Headers
// hold no user names or access times, and entries come in lexical order.
func TestWriteTarIsDeterministic(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "b/c"), 0o755))
	for _, f := range []string{"b/c/z", "a", "b/y", "b/c/x"} {
		require.NoError(t, os.WriteFile(filepath.Join(src, f), []byte(f), 0o640))
	}
	require.NoError(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "b/hard")))
	require.NoError(t, os.Symlink("../a", filepath.Join(src, "b/link")))
	for _, p := range []string{"a", "b/c/z", "b/y", "b/c/x", "b/c", "b", "b/hard"} {
		require.NoError(t, os.Chtimes(filepath.Join(src, p), testTime, testTime))
	}
	require.NoError(t, os.Chtimes(filepath.Join(src, "b"), testTime, testTime)) // after link/symlink creation

	var one, two bytes.Buffer
	d1, err := WriteTar(&one, src)
	require.NoError(t, err)
	d2, err := WriteTar(&two, src)
	require.NoError(t, err)
	assert.Equal(t, d1, d2)
	assert.Equal(t, one.Bytes(), two.Bytes())
	assert.Equal(t, digest.FromBytes(one.Bytes()), d1, "the diffID is the tar's sha256")

	var names []string
	tr := tar.NewReader(&one)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
		assert.Empty(t, h.Uname)
		assert.Empty(t, h.Gname)
		assert.True(t, h.AccessTime.IsZero())
		switch h.Name {
		case "b/hard":
			assert.Equal(t, byte(tar.TypeLink), h.Typeflag)
			assert.Equal(t, "a", h.Linkname)
		case "b/link":
			assert.Equal(t, byte(tar.TypeSymlink), h.Typeflag)
			assert.Equal(t, "../a", h.Linkname)
		case "a":
			assert.Equal(t, int64(0o640), h.Mode)
			assert.Equal(t, testTime, h.ModTime)
		}
	}
	assert.Equal(t, []string{"a", "b/", "b/c/", "b/c/x", "b/c/z", "b/hard", "b/link", "b/y"}, names)

	later := testTime.Add(time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(src, "b/y"), later, later))
	d3, err := WriteTar(io.Discard, src)
	require.NoError(t, err)
	assert.NotEqual(t, d1, d3)
}
