package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func newStore(t *testing.T) *Store {
	t.Helper()
	root := t.TempDir()
	layers, err := storage.NewStore(filepath.Join(root, "storage"))
	require.NoError(t, err)
	s, err := New(filepath.Join(root, "images"), layers)
	require.NoError(t, err)
	return s
}

func testTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"bin/", "etc/"} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: time.Unix(1700000000, 0)}))
	}
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func TestImportResolveListTagRemove(t *testing.T) {
	testkit.Root(t) // layers keep owners and devices: root's work
	s := newStore(t)
	raw := testTar(t, map[string]string{"etc/motd": "hello"})
	img, err := s.Import(bytes.NewReader(raw), "mybox:v1", []string{`CMD ["sh"]`, "ENV A=1", "VOLUME /data"}, "")
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(raw), img.DiffIDs[0], "diffID = sha256 of the tar")
	assert.Equal(t, []string{"mybox:v1"}, img.RepoTags)
	assert.Equal(t, []string{"sh"}, img.Config.Config.Cmd)
	assert.Equal(t, []string{"A=1"}, img.Config.Config.Env)
	assert.Contains(t, img.Config.Config.Volumes, "/data")
	b, err := os.ReadFile(s.blobPath(img.ID))
	require.NoError(t, err)
	assert.Equal(t, img.ID, digest.FromBytes(b), "the ID is the config blob's digest")

	// The same tar, gzip-compressed: the same diffID, one layer in the store.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	img2, err := s.Import(&gz, "", nil, "")
	require.NoError(t, err)
	assert.Equal(t, img.DiffIDs, img2.DiffIDs)
	layers, err := s.Layers.List()
	require.NoError(t, err)
	assert.Len(t, layers, 1, "the layer is shared")
	assert.Empty(t, img2.RepoTags)

	for _, ref := range []string{"mybox:v1", "docker.io/library/mybox:v1", "library/mybox:v1", img.ID.String(), img.ID.Encoded(), img.ID.Encoded()[:12], img.ID.Encoded()[:3]} {
		got, err := s.Resolve(ref)
		if ref == img.ID.Encoded()[:3] && img.ID.Encoded()[:3] == img2.ID.Encoded()[:3] {
			continue // the two IDs may share 3 digits
		}
		require.NoError(t, err, ref)
		assert.Equal(t, img.ID, got.ID, ref)
	}
	_, err = s.Resolve("mybox")
	assert.ErrorIs(t, err, engine.ErrImageNotFound)
	assert.EqualError(t, err, "no such image: mybox:latest")
	_, err = s.Resolve("sha256:" + digest.FromString("x").Encoded())
	assert.ErrorIs(t, err, engine.ErrImageNotFound)
	_, err = s.Resolve("Bad")
	assert.ErrorContains(t, err, "invalid reference format")

	require.NoError(t, s.Tag("mybox:v1", "other/name"))
	got, err := s.Resolve("other/name:latest")
	require.NoError(t, err)
	assert.Equal(t, []string{"mybox:v1", "other/name:latest"}, got.RepoTags)
	idx, err := s.index()
	require.NoError(t, err)
	var m struct{ Digest digest.Digest }
	m.Digest = idx.Manifests[0].Digest
	for _, d := range idx.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == "docker.io/other/name:latest" {
			m.Digest = d.Digest
		}
	}
	got, err = s.Resolve("other/name@" + m.Digest.String())
	require.NoError(t, err)
	assert.Equal(t, img.ID, got.ID, "name@digest")

	list, err := s.List()
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, img2.ID, list[0].ID, "newest first")
	assert.Equal(t, int64(len(raw)), list[1].Size)

	// In use by a container: refused; untag of one of two names: fine.
	require.NoError(t, s.Use(img.ID, "c0ffee"))
	_, err = s.Remove(img.ID.Encoded()[:12], true)
	assert.ErrorContains(t, err, "conflict: unable to delete")
	lines, err := s.Remove("other/name", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: other/name:latest"}, lines)
	_, err = s.Remove("mybox:v1", false)
	assert.ErrorContains(t, err, `conflict: unable to remove repository reference "mybox:v1" (must force) - container c0ffee is using its referenced image`)
	require.NoError(t, s.Release(img.ID, "c0ffee"))
	lines, err = s.Remove("mybox:v1", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: mybox:v1", "Deleted: " + img.ID.String()}, lines)
	assert.True(t, s.Layers.Has(img.DiffIDs[0]), "the other image still uses the layer")
	_, err = s.Remove(img2.ID.String(), false)
	require.NoError(t, err)
	assert.False(t, s.Layers.Has(img.DiffIDs[0]), "the last user gone, the layer goes")
	assert.ErrorIs(t, s.Use(img.ID, "c0ffee"), engine.ErrImageNotFound, "no user is recorded for a deleted image")
	assert.NoFileExists(t, filepath.Join(s.Root, "users", img.ID.Encoded(), "c0ffee"))
	list, err = s.List()
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestImportBadInputChangesNothing(t *testing.T) {
	testkit.Root(t)
	s := newStore(t)
	for name, f := range map[string]func() error{
		"bad change": func() error {
			_, err := s.Import(bytes.NewReader(testTar(t, nil)), "x", []string{"RUN true"}, "")
			return err
		},
		"bad ref": func() error { _, err := s.Import(bytes.NewReader(testTar(t, nil)), "X", nil, ""); return err },
		"bad tar": func() error {
			_, err := s.Import(bytes.NewReader([]byte("not a tar at all, no")), "x", nil, "")
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			require.Error(t, f())
			layers, err := s.Layers.List()
			require.NoError(t, err)
			assert.Empty(t, layers)
			list, err := s.List()
			require.NoError(t, err)
			assert.Empty(t, list)
		})
	}
}
