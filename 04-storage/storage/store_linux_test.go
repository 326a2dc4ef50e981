package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The helper process of TestPutFromManyProcesses: this test binary run
// again, doing one Put.
const helperEnv = "MINIBOX_STORAGE_TEST_PUT"

func helperProcess() int {
	root, tarPath, gate := os.Getenv(helperEnv), os.Getenv("MINIBOX_STORAGE_TEST_TAR"), os.Getenv("MINIBOX_STORAGE_TEST_GATE")
	for { // start together with the others
		if _, err := os.Stat(gate); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s, err := NewStore(root)
	if err == nil {
		var f *os.File
		if f, err = os.Open(tarPath); err == nil {
			var d digest.Digest
			d, err = s.Put(f)
			f.Close()
			fmt.Println(d)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// bigLayer is a layer that takes a while to unpack, so that processes
// unpacking it at once really overlap.
func bigLayer(t testing.TB) []byte {
	es := []ent{dir("data/")}
	for i := range 300 {
		es = append(es, file(fmt.Sprintf("data/f%03d", i), strings.Repeat("x", 4096)))
	}
	return tarOf(t, es...)
}

func TestPutUnpacksOnce(t *testing.T) {
	s, err := NewStore(t.TempDir())
	require.NoError(t, err)
	layer := tarOf(t, dir("etc/"), file("etc/hostname", "box\n"))
	d1, err := s.Put(bytes.NewReader(layer))
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(layer), d1)
	p, err := s.Path(d1)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(p, "marker"), nil, 0o644))

	d2, err := s.Put(bytes.NewReader(layer))
	require.NoError(t, err)
	assert.Equal(t, d1, d2)
	assert.FileExists(t, filepath.Join(p, "marker"), "the second Put must keep the first copy")
	got, err := os.ReadFile(filepath.Join(p, "etc/hostname"))
	require.NoError(t, err)
	assert.Equal(t, "box\n", string(got))
	assertOneLayer(t, s, d1)

	link, err := s.Link(d1)
	require.NoError(t, err)
	assert.Equal(t, "l/"+d1.Encoded()[:12], link)
	viaLink, err := filepath.EvalSymlinks(filepath.Join(s.Root, link))
	require.NoError(t, err)
	assert.Equal(t, p, viaLink)
}

func assertOneLayer(t *testing.T, s *Store, d digest.Digest) {
	t.Helper()
	ls, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []digest.Digest{d}, ls)
	links, err := os.ReadDir(filepath.Join(s.Root, "l"))
	require.NoError(t, err)
	assert.Len(t, links, 1)
	tmp, err := os.ReadDir(filepath.Join(s.Root, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp, "no unpacking left behind")
}

// Four processes unpack the same layer at the same moment: all get its
// diffID, and the store ends with one copy.
func TestPutFromManyProcesses(t *testing.T) {
	root := t.TempDir()
	tarPath := filepath.Join(t.TempDir(), "layer.tar")
	layer := bigLayer(t)
	require.NoError(t, os.WriteFile(tarPath, layer, 0o644))
	gate := filepath.Join(t.TempDir(), "go")

	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+root, "MINIBOX_STORAGE_TEST_TAR="+tarPath, "MINIBOX_STORAGE_TEST_GATE="+gate)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	require.NoError(t, os.WriteFile(gate, nil, 0o644))
	for i, cmd := range cmds {
		require.NoError(t, cmd.Wait(), outs[i].String())
		assert.Equal(t, digest.FromBytes(layer).String(), strings.TrimSpace(outs[i].String()))
	}
	s, err := NewStore(root)
	require.NoError(t, err)
	assertOneLayer(t, s, digest.FromBytes(layer))
	p, err := s.Path(digest.FromBytes(layer))
	require.NoError(t, err)
	files, err := os.ReadDir(filepath.Join(p, "data"))
	require.NoError(t, err)
	assert.Len(t, files, 300)
}

func TestRemoveOnlyWhenUnused(t *testing.T) {
	s, err := NewStore(t.TempDir())
	require.NoError(t, err)
	d, err := s.Put(bytes.NewReader(tarOf(t, file("a", "a"))))
	require.NoError(t, err)
	require.NoError(t, s.Use("image-x", d))
	require.NoError(t, s.Use("container-1", d))
	users, err := s.Users(d)
	require.NoError(t, err)
	assert.Equal(t, []string{"container-1", "image-x"}, users)

	err = s.Remove(d)
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), "container-1, image-x")
	assert.True(t, s.Has(d))

	require.NoError(t, s.Release("image-x", d))
	require.NoError(t, s.Release("container-1", d))
	require.NoError(t, s.Remove(d))
	assert.False(t, s.Has(d))
	_, err = s.Path(d)
	assert.ErrorIs(t, err, ErrUnknownLayer)
	for _, sub := range []string{"l", "tmp", "layers/sha256"} {
		ents, err := os.ReadDir(filepath.Join(s.Root, sub))
		require.NoError(t, err)
		assert.Empty(t, ents, sub)
	}
	assert.ErrorIs(t, s.Use("x", d), ErrUnknownLayer)
	assert.Error(t, s.Use("../x", d), "a user is a file name")
}

func TestChainIndex(t *testing.T) {
	s, err := NewStore(t.TempDir())
	require.NoError(t, err)
	a, err := s.Put(bytes.NewReader(tarOf(t, file("a", "a"))))
	require.NoError(t, err)
	b, err := s.Put(bytes.NewReader(tarOf(t, file("b", "b"))))
	require.NoError(t, err)
	chain, err := s.PutChain([]digest.Digest{a, b})
	require.NoError(t, err)
	assert.Equal(t, ChainID([]digest.Digest{a, b}), chain)
	got, err := s.Chain(chain)
	require.NoError(t, err)
	assert.Equal(t, []digest.Digest{a, b}, got)
	_, err = s.PutChain([]digest.Digest{a, digest.FromString("missing")})
	assert.True(t, errors.Is(err, ErrUnknownLayer), err)
}

// What a dead process left in ROOT/tmp goes at the next NewStore; what a
// live one works in stays.
func TestNewStoreCleansWhatTheDeadLeft(t *testing.T) {
	s, err := NewStore(t.TempDir())
	require.NoError(t, err)
	tmp := filepath.Join(s.Root, "tmp")
	stale := filepath.Join(tmp, "layer-dead")
	require.NoError(t, os.MkdirAll(filepath.Join(stale, "diff/etc"), 0o755))
	busy, release, err := workDir(tmp, "layer-")
	require.NoError(t, err)
	defer release()

	_, err = NewStore(s.Root)
	require.NoError(t, err)
	assert.NoDirExists(t, stale)
	assert.DirExists(t, busy)
}
