package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	"minibox/internal/testkit"
)

// oddTar is a layer tar whose bytes a re-tar of its files would not give
// back: a user name, a PAX record, entries out of lexical order, padding.
func oddTar(t *testing.T, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(1700000000, 0)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755, ModTime: mt, Uname: "root"}))
	for _, name := range []string{"etc/z", "etc/a"} {
		require.NoError(t, tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: mt, Uname: "someone",
			PAXRecords: map[string]string{"MINIBOX.note": "kept"}, Format: tar.FormatPAX,
		}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return append(buf.Bytes(), make([]byte, 1024)...) // a writer's record padding
}

func blobBytes(t *testing.T, s *Store, d digest.Digest) []byte {
	t.Helper()
	rc, _, err := s.Blobs().Open(d)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// fakeSnapshotter's Diff writes a fixed tar: Commit needs nothing else.
type fakeSnapshotter struct {
	storage.Snapshotter
	diff []byte
}

func (f fakeSnapshotter) Diff(id string, w io.Writer) (digest.Digest, error) {
	_, err := w.Write(f.diff)
	return digest.FromBytes(f.diff), err
}

func TestLayerBlobsTeedOnImportAndCommit(t *testing.T) {
	testkit.Root(t)
	s := newStore(t)
	raw := oddTar(t, "hello")
	img, err := s.Import(bytes.NewReader(raw), "odd:v1", nil, "")
	require.NoError(t, err)
	diffID := digest.FromBytes(raw)
	require.Equal(t, []digest.Digest{diffID}, img.DiffIDs)
	l, err := s.Layer(diffID)
	require.NoError(t, err)
	assert.Equal(t, LayerBlob{DiffID: diffID, Digest: diffID, MediaType: imagespec.MediaTypeImageLayer, Size: int64(len(raw)), UncompressedSize: int64(len(raw))}, l)
	assert.Equal(t, raw, blobBytes(t, s, diffID), "the blob is the tar byte for byte")
	assert.Equal(t, filepath.Join(s.Root, "blobs/sha256", diffID.Encoded()), s.Blobs().Path(diffID))

	// The record, in Docker's v2metadata terms.
	rec, err := os.ReadFile(filepath.Join(s.Root, "layers", diffID.Encoded()+".json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"size":`+itoa(len(raw))+`,"blobs":[{"digest":"`+diffID.String()+`","mediaType":"application/vnd.oci.image.layer.v1.tar","size":`+itoa(len(raw))+`}]}`, string(rec))

	// gzip in: the blob kept is still the tar (its digest is the diffID).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	require.NoError(t, zw.Close())
	img2, err := s.Import(&gz, "", nil, "")
	require.NoError(t, err)
	assert.Equal(t, img.DiffIDs, img2.DiffIDs)
	ls, err := s.LayerBlobs(diffID)
	require.NoError(t, err)
	assert.Len(t, ls, 1)

	// The manifest names the layer by its blob.
	_, mb, err := s.Manifest(img.ID)
	require.NoError(t, err)
	var m imagespec.Manifest
	require.NoError(t, json.Unmarshal(mb, &m))
	assert.Equal(t, diffID, m.Layers[0].Digest)
	assert.Equal(t, int64(len(raw)), m.Layers[0].Size)

	// Commit: the diff is teed the same way, and the parent is recorded.
	diff := oddTar(t, "changed")
	child, err := s.Commit(fakeSnapshotter{diff: diff}, "c1", img, CommitOptions{Ref: "odd:v2", Message: "m"})
	require.NoError(t, err)
	require.Len(t, child.DiffIDs, 2)
	assert.Equal(t, digest.FromBytes(diff), child.DiffIDs[1])
	assert.Equal(t, diff, blobBytes(t, s, child.DiffIDs[1]))
	p, err := s.Parent(child.ID)
	require.NoError(t, err)
	assert.Equal(t, img.ID, p)
	kids, err := s.Children(img.ID)
	require.NoError(t, err)
	assert.Equal(t, []digest.Digest{child.ID}, kids)
	list, err := s.List()
	require.NoError(t, err)
	for _, sum := range list {
		if sum.ID == child.ID {
			assert.Equal(t, int64(len(raw)+len(diff)), sum.Size, "SIZE: the tars' bytes")
			assert.Equal(t, int64(len(raw)), sum.SharedSize, "the bottom layer is shared")
			assert.Equal(t, img.ID, sum.Parent)
		}
	}

	// A failing diff leaves no blob behind.
	before, err := os.ReadDir(filepath.Join(s.Root, "blobs/sha256"))
	require.NoError(t, err)
	_, err = s.Commit(failingSnapshotter{}, "c2", img, CommitOptions{})
	require.Error(t, err)
	assertNoTmp(t, s)
	after, err := os.ReadDir(filepath.Join(s.Root, "blobs/sha256"))
	require.NoError(t, err)
	assert.Equal(t, len(before), len(after))
}

type failingSnapshotter struct{ storage.Snapshotter }

func (failingSnapshotter) Diff(id string, w io.Writer) (digest.Digest, error) {
	_, _ = w.Write([]byte("half a tar"))
	return "", io.ErrUnexpectedEOF
}

func assertNoTmp(t *testing.T, s *Store) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Root, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, ents, "nothing half-written in tmp")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// cfgJSON is a config for AddImage over the layers ls.
func cfgJSON(t *testing.T, cmd string, ls ...LayerBlob) []byte {
	t.Helper()
	now := time.Now().UTC()
	c := imagespec.Image{Created: &now, Platform: imagespec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: imagespec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}}}
	c.Config.Cmd = []string{cmd}
	for _, l := range ls {
		c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, l.DiffID)
		c.History = append(c.History, imagespec.History{Created: &now, CreatedBy: "layer " + l.DiffID.Encoded()[:6]})
	}
	c.History = append(c.History, imagespec.History{Created: &now, CreatedBy: "/bin/sh -c #(nop)  CMD [\"" + cmd + "\"]", EmptyLayer: true})
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return b
}

func putLayer(t *testing.T, s *Store, body string) LayerBlob {
	t.Helper()
	raw := testTar(t, map[string]string{"etc/f": body})
	l, err := s.PutLayer(func(w io.Writer) error { _, err := w.Write(raw); return err })
	require.NoError(t, err)
	return l
}

func TestAddImageKeepsManifestBytes(t *testing.T) {
	testkit.Root(t)
	s := newStore(t)
	l := putLayer(t, s, "x")
	// A pulled layer: the registry's gzip blob, its digest not the diffID.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(blobBytes(t, s, l.DiffID))
	require.NoError(t, zw.Close())
	gzDigest := digest.FromBytes(gz.Bytes())
	n, err := s.Blobs().Write(gzDigest, bytes.NewReader(gz.Bytes()))
	require.NoError(t, err)
	assert.Equal(t, int64(gz.Len()), n)
	pulled := LayerBlob{DiffID: l.DiffID, Digest: gzDigest, MediaType: MediaTypeDockerLayer, Size: n, Source: "docker.io/library/busybox"}

	for _, tc := range []struct{ name, mediaType, configType string }{
		{"schema2", MediaTypeDockerManifest, MediaTypeDockerConfig},
		{"oci", imagespec.MediaTypeImageManifest, imagespec.MediaTypeImageConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfgJSON(t, tc.name, pulled)
			// Spacing and key order no re-marshalling would keep.
			manifest := []byte("{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"" + tc.mediaType + "\",\n   \"config\": {\"size\": " + itoa(len(cfg)) +
				", \"mediaType\": \"" + tc.configType + "\", \"digest\": \"" + digest.FromBytes(cfg).String() + "\"},\n   \"layers\": [{\"mediaType\": \"" +
				pulled.MediaType + "\", \"size\": " + itoa(int(pulled.Size)) + ", \"digest\": \"" + pulled.Digest.String() + "\"}]\n}")
			img, err := s.AddImage(cfg, []LayerBlob{pulled}, manifest, "", "busybox:"+tc.name)
			require.NoError(t, err)
			assert.Equal(t, digest.FromBytes(cfg), img.ID)
			assert.Equal(t, []string{"busybox:" + tc.name}, img.RepoTags)
			desc, got, err := s.Manifest(img.ID)
			require.NoError(t, err)
			assert.Equal(t, manifest, got, "the manifest's bytes are kept")
			assert.Equal(t, tc.mediaType, desc.MediaType)
			assert.Equal(t, digest.FromBytes(manifest), desc.Digest)
			cb, err := s.Config(img.ID)
			require.NoError(t, err)
			assert.Equal(t, cfg, cb)
			byDigest, err := s.Resolve("busybox@" + desc.Digest.String())
			require.NoError(t, err)
			assert.Equal(t, img.ID, byDigest.ID)
			ls, err := s.ImageLayers(img.ID.String())
			require.NoError(t, err)
			assert.Equal(t, []LayerBlob{{DiffID: l.DiffID, Digest: gzDigest, MediaType: MediaTypeDockerLayer, Size: n, UncompressedSize: l.Size, Source: "docker.io/library/busybox"}}, ls)
		})
	}
	blobs, err := s.LayerBlobs(l.DiffID)
	require.NoError(t, err)
	assert.Equal(t, []LayerBlob{l, pulled}, []LayerBlob{blobs[0], {DiffID: blobs[1].DiffID, Digest: blobs[1].Digest, MediaType: blobs[1].MediaType, Size: blobs[1].Size, Source: blobs[1].Source}})
	first, err := s.Layer(l.DiffID)
	require.NoError(t, err)
	assert.Equal(t, l.Digest, first.Digest, "Layer: the first form recorded")

	// A push's source joins the known blob's sources.
	require.NoError(t, s.RecordBlob(l.DiffID, LayerBlob{DiffID: l.DiffID, Digest: gzDigest, MediaType: MediaTypeDockerLayer, Size: n, Source: "localhost:5000/mine"}))
	rec, err := s.LayerRecord(l.DiffID)
	require.NoError(t, err)
	assert.Equal(t, []string{"docker.io/library/busybox", "localhost:5000/mine"}, rec.Blobs[1].Sources)

	// Refused: nothing is stored.
	before, err := s.List()
	require.NoError(t, err)
	cfg := cfgJSON(t, "bad", pulled)
	good := []byte(`{"schemaVersion":2,"mediaType":"` + imagespec.MediaTypeImageManifest + `","config":{"mediaType":"` + imagespec.MediaTypeImageConfig + `","digest":"` + digest.FromBytes(cfg).String() + `","size":1},"layers":[{"mediaType":"x","digest":"` + gzDigest.String() + `","size":1}]}`)
	for name, f := range map[string]func() error{
		"config digest": func() error {
			_, err := s.AddImage(cfgJSON(t, "other", pulled), []LayerBlob{pulled}, good, "", "bad:1")
			return err
		},
		"layer digest": func() error {
			_, err := s.AddImage(cfg, []LayerBlob{l}, good, "", "bad:1")
			return err
		},
		"an index": func() error {
			_, err := s.AddImage(cfg, []LayerBlob{pulled}, []byte(`{"schemaVersion":2,"mediaType":"`+imagespec.MediaTypeImageIndex+`","manifests":[]}`), "", "bad:1")
			return err
		},
		"diffIDs": func() error { _, err := s.AddImage(cfg, nil, nil, "", "bad:1"); return err },
		"layer not unpacked": func() error {
			other := LayerBlob{DiffID: digest.FromString("no such layer"), Digest: digest.FromString("no such layer")}
			_, err := s.AddImage(cfgJSON(t, "x", other), []LayerBlob{other}, nil, "", "bad:1")
			return err
		},
		"parent": func() error {
			_, err := s.AddImage(cfg, []LayerBlob{pulled}, nil, digest.FromString("nobody"), "bad:1")
			return err
		},
		"ref": func() error { _, err := s.AddImage(cfg, []LayerBlob{pulled}, nil, "", "Bad"); return err },
	} {
		require.Error(t, f(), name)
	}
	after, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.False(t, s.Blobs().Has(digest.FromBytes(cfg)), "no config of a refused image")
}

func TestRepoDigests(t *testing.T) {
	testkit.Root(t)
	s := newStore(t)
	l := putLayer(t, s, "x")
	a, err := s.AddImage(cfgJSON(t, "a", l), []LayerBlob{l}, nil, "", "localhost:5000/app:v1")
	require.NoError(t, err)
	b, err := s.AddImage(cfgJSON(t, "b", l), []LayerBlob{l}, nil, "", "localhost:5000/app:v2")
	require.NoError(t, err)
	d := digest.FromString("a pushed manifest")
	require.NoError(t, s.SetRepoDigest("localhost:5000/app:v1", d))
	got, err := s.Resolve("localhost:5000/app@" + d.String())
	require.NoError(t, err)
	assert.Equal(t, a.ID, got.ID)
	require.NoError(t, s.SetRepoDigest("localhost:5000/app:v2", d), "the digest moves")
	got, err = s.Resolve("localhost:5000/app@" + d.String())
	require.NoError(t, err)
	assert.Equal(t, b.ID, got.ID)
	list, err := s.List()
	require.NoError(t, err)
	for _, sum := range list {
		if sum.ID == b.ID {
			assert.Equal(t, []string{"localhost:5000/app@" + d.String()}, sum.RepoDigests)
		} else {
			assert.Empty(t, sum.RepoDigests)
		}
	}
	lines, err := s.Remove("localhost:5000/app:v2", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: localhost:5000/app:v2", "Untagged: localhost:5000/app@" + d.String(), "Deleted: " + b.ID.String()}, lines)
	assert.ErrorIs(t, s.SetRepoDigest("nothing:here", d), engine.ErrImageNotFound)

	// Untagging the last tag of a repository from an image that keeps
	// other names drops that repository's digest name too (Docker's two
	// lines); a tag of another repository keeps its own.
	c, err := s.AddImage(cfgJSON(t, "c", l), []LayerBlob{l}, nil, "", "localhost:5000/app:v3", "localhost:5000/app:v4", "other:1")
	require.NoError(t, err)
	require.NoError(t, s.SetRepoDigest("localhost:5000/app:v3", d))
	lines, err = s.Remove("localhost:5000/app:v3", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: localhost:5000/app:v3"}, lines, "v4 still names the repository")
	lines, err = s.Remove("localhost:5000/app:v4", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: localhost:5000/app:v4", "Untagged: localhost:5000/app@" + d.String()}, lines)
	_, err = s.Resolve("localhost:5000/app@" + d.String())
	assert.ErrorIs(t, err, engine.ErrImageNotFound)
	got, err = s.Resolve("other:1")
	require.NoError(t, err)
	assert.Equal(t, c.ID, got.ID)
}

// TestStepChain is a build's result: base (tagged), two untagged steps,
// the tagged top. `images` hides the steps (Intermediate), rmi of the top
// deletes it and the steps, one Deleted line each, as Docker does.
func TestStepChain(t *testing.T) {
	testkit.Root(t)
	s := newStore(t)
	base, err := s.Import(bytes.NewReader(testTar(t, map[string]string{"bin/sh": "sh"})), "base:latest", nil, "")
	require.NoError(t, err)
	bl, err := s.Layer(base.DiffIDs[0])
	require.NoError(t, err)
	l2 := putLayer(t, s, "step two")
	s1, err := s.AddImage(cfgJSON(t, "s1", bl), []LayerBlob{bl}, nil, base.ID)
	require.NoError(t, err)
	s2, err := s.AddImage(cfgJSON(t, "s2", bl, l2), []LayerBlob{bl, l2}, nil, s1.ID)
	require.NoError(t, err)
	top, err := s.AddImage(cfgJSON(t, "top", bl, l2), []LayerBlob{bl, l2}, nil, s2.ID, "built:latest")
	require.NoError(t, err)

	list, err := s.List()
	require.NoError(t, err)
	inter := map[digest.Digest]bool{}
	for _, sum := range list {
		inter[sum.ID] = sum.Intermediate
	}
	assert.Equal(t, map[digest.Digest]bool{base.ID: false, s1.ID: true, s2.ID: true, top.ID: false}, inter)
	kids, err := s.Children(s1.ID)
	require.NoError(t, err)
	assert.Equal(t, []digest.Digest{s2.ID}, kids)

	_, err = s.Remove(s1.ID.String(), true)
	assert.EqualError(t, err, "conflict: unable to delete "+s1.ID.Encoded()[:12]+" (cannot be forced) - image has dependent child images")
	require.NoError(t, s.Use(top.ID, "c0ffee"))
	_, err = s.Remove("built", false)
	assert.ErrorContains(t, err, "conflict: unable to remove repository reference \"built:latest\" (must force) - container c0ffee is using its referenced image")
	require.NoError(t, s.Release(top.ID, "c0ffee"))

	lines, err := s.Remove("built", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: built:latest", "Deleted: " + top.ID.String(), "Deleted: " + s2.ID.String(), "Deleted: " + s1.ID.String()}, lines)
	assert.False(t, s.Layers.Has(l2.DiffID), "the steps' own layer went")
	assert.False(t, s.Blobs().Has(l2.Digest), "and its blob")
	_, err = s.LayerRecord(l2.DiffID)
	assert.ErrorIs(t, err, storage.ErrUnknownLayer, "and its record")
	assert.True(t, s.Layers.Has(bl.DiffID), "base keeps its layer")
	assert.True(t, s.Blobs().Has(bl.Digest))
	kids, err = s.Children(base.ID)
	require.NoError(t, err)
	assert.Empty(t, kids)
	assert.NoDirExists(t, filepath.Join(s.Root, "meta", s1.ID.Encoded()))

	// The last tag of a parent: untagged only; the image stays for its child.
	child, err := s.AddImage(cfgJSON(t, "child", bl), []LayerBlob{bl}, nil, base.ID, "child:1")
	require.NoError(t, err)
	lines, err = s.Remove("base", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: base:latest"}, lines)
	list, err = s.List()
	require.NoError(t, err)
	require.Len(t, list, 2)
	for _, sum := range list {
		assert.Equal(t, sum.ID == base.ID, sum.Intermediate)
	}
	// Prune goes from the heads: child, then its untagged parent with it.
	lines, freed, err := s.Prune(true)
	require.NoError(t, err)
	assert.Equal(t, []string{"Untagged: child:1", "Deleted: " + child.ID.String(), "Deleted: " + base.ID.String()}, lines)
	assert.Equal(t, bl.UncompressedSize, freed)
	list, err = s.List()
	require.NoError(t, err)
	assert.Empty(t, list)
	ents, err := os.ReadDir(filepath.Join(s.Root, "blobs/sha256"))
	require.NoError(t, err)
	assert.Empty(t, ents, "no blob is left")
	assertNoTmp(t, s)
}

func TestBlobsWrite(t *testing.T) {
	testkit.Root(t)
	s := newStore(t)
	b := s.Blobs()
	content := []byte("some blob")
	d := digest.FromBytes(content)
	_, err := b.Write(digest.FromString("other"), bytes.NewReader(content))
	assert.ErrorIs(t, err, ErrDigestMismatch)
	assert.False(t, b.Has(d))
	assertNoTmp(t, s)
	_, err = b.Write("sha256:nothex", bytes.NewReader(content))
	assert.Error(t, err)

	// Concurrent writers of one blob: one file, whole.
	errs := make(chan error, 8)
	for range 8 {
		go func() { _, err := b.Write(d, bytes.NewReader(content)); errs <- err }()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
	rc, n, err := b.Open(d)
	require.NoError(t, err)
	got, _ := io.ReadAll(rc)
	rc.Close()
	assert.Equal(t, content, got)
	assert.Equal(t, int64(len(content)), n)
	assertNoTmp(t, s)

	// A dead writer's temporary file goes when the store opens next; a
	// live TempDir (locked), or one just made, stays.
	dead := filepath.Join(s.Root, "tmp", "blob-dead")
	require.NoError(t, os.WriteFile(dead, []byte("x"), 0o600))
	old := time.Now().Add(-2 * time.Minute)
	require.NoError(t, os.Chtimes(dead, old, old))
	young := filepath.Join(s.Root, "tmp", "blob-young")
	require.NoError(t, os.WriteFile(young, []byte("x"), 0o600))
	live, release, err := s.TempDir("load-")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(live, "f"), []byte("x"), 0o600))
	require.NoError(t, os.Chtimes(live, old, old))
	_, err = New(s.Root, s.Layers)
	require.NoError(t, err)
	assert.NoFileExists(t, dead)
	assert.FileExists(t, young)
	assert.FileExists(t, filepath.Join(live, "f"))
	release()
	assert.NoDirExists(t, live)
	require.NoError(t, os.Remove(young))
	assertNoTmp(t, s)
}
