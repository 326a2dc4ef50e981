package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"

	"minibox/04-storage/images"
	"minibox/04-storage/storage"
	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func newStores(t testing.TB) (*images.Store, *storage.Store, string) {
	t.Helper()
	root := t.TempDir()
	layers, err := storage.NewStore(filepath.Join(root, "storage"))
	require.NoError(t, err)
	s, err := images.New(filepath.Join(root, "images"), layers)
	require.NoError(t, err)
	return s, layers, root
}

var mtime = time.Unix(1700000000, 0)

func layerTar(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755, ModTime: mtime}))
	for _, name := range names {
		body := files[name]
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: mtime}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func putLayer(t testing.TB, s *images.Store, files map[string]string) images.LayerBlob {
	t.Helper()
	raw := layerTar(t, files)
	l, err := s.PutLayer(func(w io.Writer) error { _, err := w.Write(raw); return err })
	require.NoError(t, err)
	return l
}

type step struct {
	createdBy string
	layer     *images.LayerBlob
}

// config is an image config over layers with one history entry per step.
func config(t testing.TB, cmd string, steps ...step) []byte {
	t.Helper()
	c := map[string]any{
		"created": mtime.UTC().Format(time.RFC3339Nano), "architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{cmd}, "Healthcheck": map[string]any{"Test": []string{"CMD", "true"}, "Interval": 1000000000}, "OnBuild": []string{"RUN x"}},
	}
	var diffIDs []digest.Digest
	var hist []map[string]any
	for _, st := range steps {
		h := map[string]any{"created": mtime.UTC().Format(time.RFC3339Nano), "created_by": st.createdBy}
		if st.layer == nil {
			h["empty_layer"] = true
		} else {
			diffIDs = append(diffIDs, st.layer.DiffID)
		}
		hist = append(hist, h)
	}
	if diffIDs == nil {
		diffIDs = []digest.Digest{}
	}
	c["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	c["history"] = hist
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return b
}

// twoImages stores base:latest (one layer) and app:v1 and app:v2 (a
// second layer on it; two tags of one image), built as steps.
func twoImages(t testing.TB, s *images.Store) (base, app digest.Digest, l1, l2 images.LayerBlob) {
	l1 = putLayer(t, s, map[string]string{"etc/base": "base"})
	l2 = putLayer(t, s, map[string]string{"etc/app": "app"})
	b, err := s.AddImage(config(t, "sh", step{"/bin/sh -c #(nop) ADD file:x in / ", &l1}), []images.LayerBlob{l1}, nil, "", "base:latest")
	require.NoError(t, err)
	stepCfg := config(t, "sh", step{"/bin/sh -c #(nop) ADD file:x in / ", &l1}, step{"/bin/sh -c echo app > /etc/app", &l2})
	st, err := s.AddImage(stepCfg, []images.LayerBlob{l1, l2}, nil, b.ID)
	require.NoError(t, err)
	appCfg := config(t, "app", step{"/bin/sh -c #(nop) ADD file:x in / ", &l1}, step{"/bin/sh -c echo app > /etc/app", &l2}, step{`/bin/sh -c #(nop)  CMD ["app"]`, nil})
	a, err := s.AddImage(appCfg, []images.LayerBlob{l1, l2}, nil, st.ID, "app:v1", "app:v2")
	require.NoError(t, err)
	return b.ID, a.ID, l1, l2
}

// archiveFiles reads a tar into name -> content.
func archiveFiles(t testing.TB, b []byte) (map[string][]byte, []string) {
	t.Helper()
	files := map[string][]byte{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		order = append(order, hdr.Name)
		if hdr.Typeflag == tar.TypeReg {
			c, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[hdr.Name] = c
		}
	}
	return files, order
}

func TestSaveManifestJSON(t *testing.T) {
	testkit.Root(t)
	s, _, _ := newStores(t)
	base, app, l1, l2 := twoImages(t, s)
	var buf bytes.Buffer
	require.NoError(t, Save(s, &buf, []string{"app", "base:latest"}))
	files, order := archiveFiles(t, buf.Bytes())
	appDesc, _, err := s.Manifest(app)
	require.NoError(t, err)
	baseDesc, _, err := s.Manifest(base)
	require.NoError(t, err)
	hex := func(d digest.Digest) string { return d.Encoded() }

	// Docker 25's layout: blobs first, then index.json, manifest.json,
	// oci-layout, repositories.
	assert.Equal(t, []string{
		"blobs/", "blobs/sha256/",
		"blobs/sha256/" + hex(app), "blobs/sha256/" + hex(appDesc.Digest), "blobs/sha256/" + hex(l1.Digest), "blobs/sha256/" + hex(l2.Digest),
		"blobs/sha256/" + hex(base), "blobs/sha256/" + hex(baseDesc.Digest),
		"index.json", "manifest.json", "oci-layout", "repositories",
	}, order)
	assert.JSONEq(t, `[
		{"Config":"blobs/sha256/`+hex(app)+`","RepoTags":["app:v1","app:v2"],"Layers":["blobs/sha256/`+hex(l1.Digest)+`","blobs/sha256/`+hex(l2.Digest)+`"]},
		{"Config":"blobs/sha256/`+hex(base)+`","RepoTags":["base:latest"],"Layers":["blobs/sha256/`+hex(l1.Digest)+`"]}
	]`, string(files["manifest.json"]))
	assert.JSONEq(t, `{"app":{"v1":"`+hex(l2.Digest)+`","v2":"`+hex(l2.Digest)+`"},"base":{"latest":"`+hex(l1.Digest)+`"}}`, string(files["repositories"]))
	assert.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, string(files["oci-layout"]))
	desc := func(d imagespec.Descriptor, full, tag string) string {
		return `{"mediaType":"` + d.MediaType + `","digest":"` + d.Digest.String() + `","size":` + itoa(d.Size) +
			`,"annotations":{"io.containerd.image.name":"` + full + `","org.opencontainers.image.ref.name":"` + tag + `"}}`
	}
	assert.JSONEq(t, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		desc(appDesc, "docker.io/library/app:v1", "v1")+`,`+desc(appDesc, "docker.io/library/app:v2", "v2")+`,`+
		desc(baseDesc, "docker.io/library/base:latest", "latest")+`]}`, string(files["index.json"]))
	for name, c := range files {
		if strings.HasPrefix(name, "blobs/sha256/") {
			assert.Equal(t, strings.TrimPrefix(name, "blobs/sha256/"), digest.FromBytes(c).Encoded(), "%s holds what its name says", name)
		}
	}

	// By ID: no names, no repositories file.
	buf.Reset()
	require.NoError(t, Save(s, &buf, []string{base.Encoded()[:12]}))
	files, _ = archiveFiles(t, buf.Bytes())
	assert.JSONEq(t, `[{"Config":"blobs/sha256/`+hex(base)+`","RepoTags":null,"Layers":["blobs/sha256/`+hex(l1.Digest)+`"]}]`, string(files["manifest.json"]))
	_, ok := files["repositories"]
	assert.False(t, ok, "no repositories file without names")
	_, err = s.Resolve("nothing")
	require.Error(t, err)
	assert.Error(t, Save(s, io.Discard, []string{"nothing"}))
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestSaveLoadRoundTrip saves two images and loads the archive into a
// second image store over the same layer store: the same IDs, names and
// manifests, and no layer unpacked twice. The archive without its OCI
// files (what Docker 20.10 reads: manifest.json only) loads the same.
func TestSaveLoadRoundTrip(t *testing.T) {
	testkit.Root(t)
	s, layers, root := newStores(t)
	base, app, l1, _ := twoImages(t, s)
	var buf bytes.Buffer
	require.NoError(t, Save(s, &buf, []string{"app:v1", "app:v2", "base"}))
	archive := buf.Bytes()
	files, _ := archiveFiles(t, archive)
	for _, name := range []string{"manifest.json", "repositories", "index.json", "oci-layout"} {
		_, ok := files[name]
		require.True(t, ok, "%s: a docker-archive (Docker's loader reads manifest.json) and an OCI layout", name)
	}

	before, err := layers.List()
	require.NoError(t, err)
	for i, variant := range []struct {
		name    string
		archive []byte
	}{
		{"docker 25 archive", archive},
		{"manifest.json only", without(t, archive, "index.json", "oci-layout")},
		{"gzip", gz(t, archive)},
		{"xz", xzip(t, archive)},
	} {
		t.Run(variant.name, func(t *testing.T) {
			s2, err := images.New(filepath.Join(root, "images"+itoa(int64(i))), layers)
			require.NoError(t, err)
			var out bytes.Buffer
			names, err := Load(s2, bytes.NewReader(variant.archive), &out)
			require.NoError(t, err)
			assert.Equal(t, []string{"app:v1", "app:v2", "base:latest"}, names)
			assert.Equal(t, "Loaded image: app:v1\nLoaded image: app:v2\nLoaded image: base:latest\n", out.String())
			for _, id := range []digest.Digest{base, app} {
				want, err := s.Resolve(id.String())
				require.NoError(t, err)
				got, err := s2.Resolve(id.String())
				require.NoError(t, err, "the same ID")
				assert.Equal(t, want.RepoTags, got.RepoTags)
				assert.Equal(t, want.DiffIDs, got.DiffIDs)
			}
			wd, wm, err := s.Manifest(app)
			require.NoError(t, err)
			gd, gm, err := s2.Manifest(app)
			require.NoError(t, err)
			if variant.name != "manifest.json only" {
				assert.Equal(t, wm, gm, "the manifest's bytes came along")
				assert.Equal(t, wd, gd)
			}
			after, err := layers.List()
			require.NoError(t, err)
			assert.Equal(t, before, after, "the layers were there: none unpacked again")
			lb, err := s2.Layer(l1.DiffID)
			require.NoError(t, err)
			assert.Equal(t, l1.Digest, lb.Digest)
			assert.True(t, s2.Blobs().Has(l1.Digest), "the blob is in the new store")
			// Loading again: the same, nothing new.
			out.Reset()
			_, err = Load(s2, bytes.NewReader(variant.archive), &out)
			require.NoError(t, err)
			list, err := s2.List()
			require.NoError(t, err)
			assert.Len(t, list, 2)
		})
	}

	// Into a store of its own: the layers are unpacked from the archive.
	s3, l3, _ := newStores(t)
	var out bytes.Buffer
	_, err = Load(s3, bytes.NewReader(archive), &out)
	require.NoError(t, err)
	got, err := l3.List()
	require.NoError(t, err)
	assert.Equal(t, before, got)
	for _, d := range got {
		_, err := l3.Users(d)
		require.NoError(t, err)
	}
	chain, err := l3.Chain(storage.ChainID([]digest.Digest{l1.DiffID}))
	require.NoError(t, err, "the load recorded the chain")
	assert.Equal(t, []digest.Digest{l1.DiffID}, chain)
}

func without(t testing.TB, archive []byte, drop ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		skip := false
		for _, d := range drop {
			skip = skip || hdr.Name == d
		}
		if skip {
			continue
		}
		require.NoError(t, tw.WriteHeader(hdr))
		_, err = io.Copy(tw, tr)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func xzip(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	require.NoError(t, err)
	_, err = w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	require.NoError(t, err)
	_, err = w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

type tarFile struct {
	name, link string
	body       []byte
}

func makeTar(t testing.TB, files ...tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if f.link != "" {
			require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: f.name, Linkname: f.link, ModTime: mtime}))
			continue
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: mtime}))
		_, err := tw.Write(f.body)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// legacyArchive is what `docker save` wrote before Docker 25: a directory
// per layer with its layer.tar (one of them a symlink to the other's, as
// docker save links a layer that two images share), a config
// <id>.json, manifest.json and repositories.
func legacyArchive(t testing.TB) ([]byte, []byte, []byte, []byte) {
	t1 := layerTar(t, map[string]string{"etc/one": "1"})
	t2 := layerTar(t, map[string]string{"etc/two": "2"})
	l1 := images.LayerBlob{DiffID: digest.FromBytes(t1)}
	l2 := images.LayerBlob{DiffID: digest.FromBytes(t2)}
	c1 := config(t, "one", step{"ADD one", &l1})
	c2 := config(t, "two", step{"ADD one", &l1}, step{"ADD two", &l2})
	id1, id2 := digest.FromBytes(c1).Encoded(), digest.FromBytes(c2).Encoded()
	v1a, v1b, v1c := strings.Repeat("a", 64), strings.Repeat("b", 64), strings.Repeat("c", 64)
	manifest := `[{"Config":"` + id1 + `.json","RepoTags":["legacy/one:latest"],"Layers":["` + v1a + `/layer.tar"]},` +
		`{"Config":"` + id2 + `.json","RepoTags":["legacy/two:1","localhost:5000/two:x"],"Layers":["` + v1b + `/layer.tar","` + v1c + `/layer.tar"]}]`
	return makeTar(t,
		tarFile{name: v1a + "/VERSION", body: []byte("1.0")},
		tarFile{name: v1a + "/json", body: []byte(`{"id":"` + v1a + `"}`)},
		tarFile{name: v1a + "/layer.tar", body: t1},
		tarFile{name: v1b + "/layer.tar", link: "../" + v1a + "/layer.tar"},
		tarFile{name: "./" + v1c + "/layer.tar", body: t2},
		tarFile{name: id1 + ".json", body: c1},
		tarFile{name: id2 + ".json", body: c2},
		tarFile{name: "manifest.json", body: []byte(manifest)},
		tarFile{name: "repositories", body: []byte(`{"legacy/one":{"latest":"` + v1a + `"}}`)},
	), c1, c2, t2
}

func TestLoadLegacyArchive(t *testing.T) {
	testkit.Root(t)
	s, layers, _ := newStores(t)
	archive, c1, c2, t2 := legacyArchive(t)
	var out bytes.Buffer
	names, err := Load(s, bytes.NewReader(archive), &out)
	require.NoError(t, err)
	assert.Equal(t, []string{"legacy/one:latest", "legacy/two:1", "localhost:5000/two:x"}, names)
	assert.Equal(t, "Loaded image: legacy/one:latest\nLoaded image: legacy/two:1\nLoaded image: localhost:5000/two:x\n", out.String())
	one, err := s.Resolve("legacy/one")
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(c1), one.ID)
	two, err := s.Resolve("localhost:5000/two:x")
	require.NoError(t, err)
	assert.Equal(t, digest.FromBytes(c2), two.ID)
	assert.Equal(t, []string{"legacy/two:1", "localhost:5000/two:x"}, two.RepoTags)
	got, err := layers.List()
	require.NoError(t, err)
	assert.Len(t, got, 2, "the linked layer.tar is one layer")
	l, err := s.Layer(digest.FromBytes(t2))
	require.NoError(t, err)
	assert.Equal(t, l.DiffID, l.Digest, "an uncompressed layer's blob digest is its diffID")
	cfg, err := s.Config(two.ID)
	require.NoError(t, err)
	assert.Equal(t, c2, cfg, "the config's bytes are kept: the ID stays")

	// A tag that another image has moves, and Docker says so.
	other := putLayer(t, s, map[string]string{"etc/other": "x"})
	_, err = s.AddImage(config(t, "other", step{"x", &other}), []images.LayerBlob{other}, nil, "", "legacy/three")
	require.NoError(t, err)
	archive2 := makeTar(t,
		tarFile{name: "l/layer.tar", body: layerTar(t, map[string]string{"etc/one": "1"})},
		tarFile{name: "c.json", body: c1},
		tarFile{name: "manifest.json", body: []byte(`[{"Config":"c.json","RepoTags":["legacy/three:latest"],"Layers":["l/layer.tar"]}]`)},
	)
	old, err := s.Resolve("legacy/three")
	require.NoError(t, err)
	out.Reset()
	_, err = Load(s, bytes.NewReader(archive2), &out)
	require.NoError(t, err)
	assert.Equal(t, "The image legacy/three:latest already exists, renaming the old one with ID "+old.ID.String()+" to empty string\nLoaded image: legacy/three:latest\n", out.String())

	// No names: the ID is printed.
	archive3 := makeTar(t,
		tarFile{name: "l/layer.tar", body: layerTar(t, map[string]string{"etc/one": "1"})},
		tarFile{name: "c.json", body: c1},
		tarFile{name: "manifest.json", body: []byte(`[{"Config":"c.json","RepoTags":null,"Layers":["l/layer.tar"]}]`)},
	)
	out.Reset()
	names, err = Load(s, bytes.NewReader(archive3), &out)
	require.NoError(t, err)
	assert.Equal(t, "Loaded image ID: "+one.ID.String()+"\n", out.String())
	assert.Equal(t, []string{one.ID.String()}, names)
}

// storeIsEmpty checks that a failed load left nothing: no image, no
// layer, no blob, no record, nothing in tmp.
func storeIsEmpty(t testing.TB, s *images.Store, layers *storage.Store) {
	t.Helper()
	list, err := s.List()
	require.NoError(t, err)
	assert.Empty(t, list)
	ls, err := layers.List()
	require.NoError(t, err)
	assert.Empty(t, ls)
	for _, d := range []string{"blobs/sha256", "layers", "tmp", "meta"} {
		ents, err := os.ReadDir(filepath.Join(s.Root, d))
		require.NoError(t, err)
		assert.Empty(t, ents, d)
	}
}

func TestLoadRefusesBadArchives(t *testing.T) {
	testkit.Root(t)
	good := layerTar(t, map[string]string{"etc/one": "1"})
	l := images.LayerBlob{DiffID: digest.FromBytes(good)}
	wrong := images.LayerBlob{DiffID: digest.FromString("another tar")}
	cfg := config(t, "x", step{"ADD", &l})
	mj := func(layers ...string) tarFile {
		b, _ := json.Marshal([]ArchiveManifest{{Config: "c.json", RepoTags: []string{"x:1"}, Layers: layers}})
		return tarFile{name: "manifest.json", body: b}
	}
	for name, tc := range map[string]struct {
		archive []byte
		err     string
	}{
		"diffID mismatch": {makeTar(t, tarFile{name: "l.tar", body: good}, tarFile{name: "c.json", body: config(t, "x", step{"ADD", &wrong})}, mj("l.tar")), "failed to register layer"},
		"second layer wrong": {makeTar(t, tarFile{name: "l.tar", body: good}, tarFile{name: "m.tar", body: layerTar(t, map[string]string{"etc/x": "y"})},
			tarFile{name: "c.json", body: config(t, "x", step{"ADD", &l}, step{"ADD", &wrong})}, mj("l.tar", "m.tar")), "diffID mismatch"},
		"missing layer":      {makeTar(t, tarFile{name: "c.json", body: cfg}, mj("l.tar")), "not in the archive"},
		"layer count":        {makeTar(t, tarFile{name: "l.tar", body: good}, tarFile{name: "c.json", body: cfg}, mj("l.tar", "l.tar")), "1 diffIDs for 2 layers"},
		"escaping link":      {makeTar(t, tarFile{name: "l.tar", link: "../../etc/passwd"}, tarFile{name: "c.json", body: cfg}, mj("l.tar")), "links out of it"},
		"escaping name":      {makeTar(t, tarFile{name: "../l.tar", body: good}, tarFile{name: "c.json", body: cfg}, mj("../l.tar")), "invalid name"},
		"not json":           {makeTar(t, tarFile{name: "manifest.json", body: []byte("[")}), "manifest.json"},
		"bad tag":            {makeTar(t, tarFile{name: "l.tar", body: good}, tarFile{name: "c.json", body: cfg}, tarFile{name: "manifest.json", body: []byte(`[{"Config":"c.json","RepoTags":["X"],"Layers":["l.tar"]}]`)}), "invalid reference format"},
		"neither":            {makeTar(t, tarFile{name: "x", body: []byte("x")}), "neither manifest.json"},
		"not a tar":          {[]byte("hello, this is not a tar archive at all, is it? no....................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................."), "archive"},
		"oci digest changed": {ociLayout(t, true), "digest mismatch"},
	} {
		t.Run(name, func(t *testing.T) {
			s, layers, _ := newStores(t)
			_, err := Load(s, bytes.NewReader(tc.archive), io.Discard)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.err)
			storeIsEmpty(t, s, layers)
		})
	}
}

// ociLayout is a plain OCI image layout (as skopeo copy oci: writes one):
// a multi-arch index whose amd64 and arm64 entries point at manifests,
// named by ref.name only. corrupt changes one config byte.
func ociLayout(t testing.TB, corrupt bool) []byte {
	t.Helper()
	layer := zst(t, layerTar(t, map[string]string{"etc/oci": "oci"}))
	l := images.LayerBlob{DiffID: digest.FromBytes(layerTar(t, map[string]string{"etc/oci": "oci"}))}
	files := []tarFile{{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {name: "blobs/sha256/" + digest.FromBytes(layer).Encoded(), body: layer}}
	var entries []imagespec.Descriptor
	for _, arch := range []string{"arm64", Host().Architecture} {
		cfg := config(t, arch, step{"ADD", &l})
		m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
			digest.FromBytes(cfg).String() + `","size":` + itoa(int64(len(cfg))) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"` +
			digest.FromBytes(layer).String() + `","size":` + itoa(int64(len(layer))) + `}]}`
		body := cfg
		if corrupt && arch != "arm64" {
			body = append([]byte(nil), cfg...)
			body[len(body)-2] ^= 1
		}
		files = append(files, tarFile{name: "blobs/sha256/" + digest.FromBytes(cfg).Encoded(), body: body}, tarFile{name: "blobs/sha256/" + digest.FromString(m).Encoded(), body: []byte(m)})
		p := imagespec.Platform{OS: "linux", Architecture: arch}
		entries = append(entries, imagespec.Descriptor{MediaType: imagespec.MediaTypeImageManifest, Digest: digest.FromString(m), Size: int64(len(m)), Platform: &p})
	}
	ib, _ := json.Marshal(imagespec.Index{MediaType: imagespec.MediaTypeImageIndex, Manifests: entries})
	ib = append([]byte(`{"schemaVersion":2,`), ib[1:]...)
	files = append(files, tarFile{name: "blobs/sha256/" + digest.FromBytes(ib).Encoded(), body: ib})
	top := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` +
		digest.FromBytes(ib).String() + `","size":` + itoa(int64(len(ib))) + `,"annotations":{"org.opencontainers.image.ref.name":"localhost:5000/oci:v1"}}]}`
	files = append(files, tarFile{name: "index.json", body: []byte(top)})
	return makeTar(t, files...)
}

func TestLoadOCILayout(t *testing.T) {
	testkit.Root(t)
	s, layers, _ := newStores(t)
	var out bytes.Buffer
	names, err := Load(s, bytes.NewReader(ociLayout(t, false)), &out)
	require.NoError(t, err)
	assert.Equal(t, []string{"localhost:5000/oci:v1"}, names)
	img, err := s.Resolve("localhost:5000/oci:v1")
	require.NoError(t, err)
	assert.Equal(t, []string{Host().Architecture}, img.Config.Config.Cmd, "the host's platform was picked from the index")
	ls, err := s.ImageLayers(img.ID.String())
	require.NoError(t, err)
	require.Len(t, ls, 1)
	assert.Equal(t, imagespec.MediaTypeImageLayerZstd, ls[0].MediaType)
	assert.NotEqual(t, ls[0].DiffID, ls[0].Digest)
	assert.True(t, layers.Has(ls[0].DiffID))
	assert.Equal(t, int64(len(layerTar(t, map[string]string{"etc/oci": "oci"}))), ls[0].UncompressedSize, "Unpack recorded the tar's size")
}

func TestUnpack(t *testing.T) {
	testkit.Root(t)
	s, layers, _ := newStores(t)
	t1 := layerTar(t, map[string]string{"etc/a": "a"})
	t2 := layerTar(t, map[string]string{"etc/b": "b"})
	put := func(b []byte, mt string, diffID digest.Digest) images.LayerBlob {
		d := digest.FromBytes(b)
		n, err := s.Blobs().Write(d, bytes.NewReader(b))
		require.NoError(t, err)
		return images.LayerBlob{DiffID: diffID, Digest: d, MediaType: mt, Size: n, Source: "localhost:5000/x"}
	}
	gzl := put(gz(t, t1), imagespec.MediaTypeImageLayerGzip, digest.FromBytes(t1))
	zl := put(zst(t, t2), imagespec.MediaTypeImageLayerZstd, digest.FromBytes(t2))
	require.NoError(t, Unpack(s, []images.LayerBlob{gzl, zl}))
	assert.True(t, layers.Has(gzl.DiffID))
	assert.True(t, layers.Has(zl.DiffID))
	chain, err := layers.Chain(storage.ChainID([]digest.Digest{gzl.DiffID, zl.DiffID}))
	require.NoError(t, err)
	assert.Equal(t, []digest.Digest{gzl.DiffID, zl.DiffID}, chain)
	_, err = layers.Chain(storage.ChainID([]digest.Digest{gzl.DiffID}))
	require.NoError(t, err, "every prefix has its chain")
	rec, err := s.LayerRecord(zl.DiffID)
	require.NoError(t, err)
	assert.Equal(t, int64(len(t2)), rec.Size)
	assert.Equal(t, []string{"localhost:5000/x"}, rec.Blobs[0].Sources)
	require.NoError(t, Unpack(s, []images.LayerBlob{gzl, zl}), "present layers are skipped")

	t3 := layerTar(t, map[string]string{"etc/c": "c"})
	bad := put(gz(t, t3), imagespec.MediaTypeImageLayerGzip, digest.FromString("what the config says"))
	err = Unpack(s, []images.LayerBlob{gzl, bad})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "failed to register layer: ")
	assert.Contains(t, err.Error(), "diffID mismatch")
	assert.False(t, layers.Has(digest.FromBytes(t3)), "the wrong layer is not kept")
}

func TestHistoryAndInspect(t *testing.T) {
	testkit.Root(t)
	s, _, _ := newStores(t)
	base, app, l1, l2 := twoImages(t, s)
	lines, err := History(s, "app:v1")
	require.NoError(t, err)
	parent, err := s.Parent(app)
	require.NoError(t, err)
	want := []HistoryLine{
		{ID: app.String(), Created: mtime.UTC(), CreatedBy: `/bin/sh -c #(nop)  CMD ["app"]`, Tags: []string{"app:v1", "app:v2"}, EmptyLayer: true},
		{ID: parent.String(), Created: mtime.UTC(), CreatedBy: "/bin/sh -c echo app > /etc/app", Size: l2.UncompressedSize},
		{ID: base.String(), Created: mtime.UTC(), CreatedBy: "/bin/sh -c #(nop) ADD file:x in / ", Size: l1.UncompressedSize, Tags: []string{"base:latest"}},
	}
	for i := range lines {
		lines[i].Created = lines[i].Created.UTC()
	}
	assert.Equal(t, want, lines)

	// Imported: no parent, so "<missing>" below the image itself.
	imp, err := s.AddImage(config(t, "x", step{"ADD a", &l1}, step{"ADD b", &l2}), []images.LayerBlob{l1, l2}, nil, "")
	require.NoError(t, err)
	lines, err = History(s, imp.ID.String())
	require.NoError(t, err)
	require.Len(t, lines, 2)
	assert.Equal(t, imp.ID.String(), lines[0].ID)
	assert.Equal(t, "<missing>", lines[1].ID)

	info, err := Inspect(s, "app:v2")
	require.NoError(t, err)
	b, err := json.Marshal(info)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	for _, k := range []string{"Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "DockerVersion", "Author", "Config", "Architecture", "Os", "Size", "RootFS", "Metadata"} {
		assert.Contains(t, got, k)
	}
	assert.Equal(t, app.String(), got["Id"])
	assert.Equal(t, []any{"app:v1", "app:v2"}, got["RepoTags"])
	assert.Equal(t, []any{}, got["RepoDigests"])
	assert.Equal(t, parent.String(), got["Parent"])
	assert.Equal(t, "2023-11-14T22:13:20Z", got["Created"])
	assert.Equal(t, float64(l1.UncompressedSize+l2.UncompressedSize), got["Size"])
	assert.Equal(t, map[string]any{"Type": "layers", "Layers": []any{l1.DiffID.String(), l2.DiffID.String()}}, got["RootFS"])
	cfg := got["Config"].(map[string]any)
	assert.Equal(t, []any{"app"}, cfg["Cmd"])
	assert.Equal(t, map[string]any{"Test": []any{"CMD", "true"}, "Interval": float64(1e9)}, cfg["Healthcheck"], "Docker's fields survive")
	assert.Equal(t, []any{"RUN x"}, cfg["OnBuild"])
	assert.Contains(t, cfg, "Hostname")

	df, err := DiskUsage(s)
	require.NoError(t, err)
	assert.Equal(t, 3, df.Total, "the untagged parent is an intermediate image: `images` and TOTAL leave it out")
	assert.Len(t, df.Images, 4)
	assert.Equal(t, 0, df.Active)
	assert.Equal(t, l1.UncompressedSize+l2.UncompressedSize, df.Size)
	assert.Equal(t, df.Size, df.Reclaimable)
	require.NoError(t, s.Use(base, "c0ffee"))
	df, err = DiskUsage(s)
	require.NoError(t, err)
	assert.Equal(t, 1, df.Active)
	assert.Equal(t, l2.UncompressedSize, df.Reclaimable)
	require.NoError(t, s.Release(base, "c0ffee"))

	pruned, _, err := Prune(s, false)
	require.NoError(t, err)
	assert.Equal(t, []string{"Deleted: " + imp.ID.String()}, pruned, "the dangling image; the steps are not dangling heads")
}

// A pull that found a layer here already ("Already exists") names the
// registry's gzip blob, which the store never fetched: save writes the
// layer's blob that is here, under a new OCI manifest, and the archive
// loads.
func TestSaveSubstitutesMissingBlob(t *testing.T) {
	testkit.Root(t)
	s, _, root := newStores(t)
	l := putLayer(t, s, map[string]string{"etc/x": "x"})
	pulled := images.LayerBlob{DiffID: l.DiffID, Digest: digest.FromString("the registry's gzip blob"), MediaType: imagespec.MediaTypeImageLayerGzip, Size: 42, Source: "docker.io/library/x"}
	img, err := s.AddImage(config(t, "x", step{"ADD", &pulled}), []images.LayerBlob{pulled}, nil, "", "pulled:1")
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, Save(s, &buf, []string{"pulled:1"}))
	files, _ := archiveFiles(t, buf.Bytes())
	var ms []ArchiveManifest
	require.NoError(t, json.Unmarshal(files["manifest.json"], &ms))
	require.Len(t, ms, 1)
	assert.Equal(t, []string{"blobs/sha256/" + l.Digest.Encoded()}, ms[0].Layers)
	var idx imagespec.Index
	require.NoError(t, json.Unmarshal(files["index.json"], &idx))
	require.Len(t, idx.Manifests, 1)
	mb, ok := files["blobs/sha256/"+idx.Manifests[0].Digest.Encoded()]
	require.True(t, ok, "the new manifest is in the archive")
	var m imagespec.Manifest
	require.NoError(t, json.Unmarshal(mb, &m))
	assert.Equal(t, l.Digest, m.Layers[0].Digest)
	assert.Equal(t, img.ID, m.Config.Digest)

	s2, err := images.New(filepath.Join(root, "images2"), s.Layers)
	require.NoError(t, err)
	_, err = Load(s2, bytes.NewReader(without(t, buf.Bytes(), "manifest.json")), io.Discard)
	require.NoError(t, err, "the OCI half alone loads")
	got, err := s2.Resolve("pulled:1")
	require.NoError(t, err)
	assert.Equal(t, img.ID, got.ID)
}
