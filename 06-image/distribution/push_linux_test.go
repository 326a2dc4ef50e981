package distribution

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/06-image/registry"
)

// tarOf is a tar of one file.
func tarOf(t *testing.T, name, body string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte(body))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	return b.Bytes()
}

func pusher(p *Puller, out *bytes.Buffer) *Pusher {
	return &Pusher{Store: p.Store, Client: registry.New(registry.Options{}), Out: out}
}

// TestPushSkipsExisting pushes an imported image (a plain tar layer, so
// gzipped for the push), then again: the second push only asks (HEAD),
// reuses the recorded gzip blob, and gets the same manifest digest. A pull
// into another store gives the same image.
func TestPushSkipsExisting(t *testing.T) {
	rg := newReg(t)
	s := newStore(t)
	ref := rg.host + "/team/app:v1"
	img, err := s.Import(bytes.NewReader(tarOf(t, "hello.txt", "hello\n")), ref, nil, "")
	require.NoError(t, err)
	id := img.DiffIDs[0].Encoded()[:12]
	ctx := context.Background()

	var out bytes.Buffer
	d, err := pusher(puller(s, nil, ""), &out).Push(ctx, ref)
	require.NoError(t, err)
	_, raw, err := s.Manifest(img.ID)
	require.NoError(t, err)
	assert.Contains(t, string(raw), "v1.tar\"", "the stored manifest keeps the plain tar")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	assert.Equal(t, "The push refers to repository ["+rg.host+"/team/app]", lines[0])
	assert.Equal(t, id+": Preparing", lines[1])
	assert.Equal(t, id+": Pushed", lines[2])
	assert.Regexp(t, `^v1: digest: `+d.String()+` size: \d+$`, lines[3])
	assert.Equal(t, 2, rg.count("PATCH "), "the layer and the config uploaded")
	forms, err := s.LayerBlobs(img.DiffIDs[0])
	require.NoError(t, err)
	var gz []string
	for _, f := range forms {
		if strings.HasSuffix(f.MediaType, "gzip") {
			gz = append(gz, f.Digest.String())
		}
	}
	require.Len(t, gz, 1, "the gzip form is recorded: %+v", forms)

	rg.reset()
	out.Reset()
	d2, err := pusher(puller(s, nil, ""), &out).Push(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, d, d2, "the same gzip blob, the same manifest")
	assert.Equal(t, id+": Layer already exists", strings.Split(out.String(), "\n")[2])
	assert.Equal(t, 0, rg.count("PATCH ")+rg.count("POST "), "nothing uploaded: %v", rg.matching(func(string) bool { return true }))
	assert.Equal(t, 2, rg.count("HEAD /v2/team/app/blobs/"), "one HEAD per blob")
	forms, err = s.LayerBlobs(img.DiffIDs[0])
	require.NoError(t, err)
	n := 0
	for _, f := range forms {
		if strings.HasSuffix(f.MediaType, "gzip") {
			n++
		}
	}
	assert.Equal(t, 1, n, "no second gzip form")

	sum, err := s.List()
	require.NoError(t, err)
	require.Len(t, sum, 1)
	assert.Contains(t, sum[0].RepoDigests, rg.host+"/team/app@"+d.String())

	// The pushed image pulls back as itself.
	other := newStore(t)
	back, err := puller(other, nil, "").Pull(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, img.ID, back.ID)
	assert.Equal(t, img.DiffIDs, back.DiffIDs)
}

// TestPushMount: a layer pulled from one repository is mounted into
// another of the same registry, not uploaded.
func TestPushMount(t *testing.T) {
	rg := newReg(t)
	base := imageOf(t, "amd64", "base", layerOf(t, 3000, 50, compression.GZip))
	write(t, rg.host+"/library/base:1", base)
	s := newStore(t)
	ctx := context.Background()
	_, err := puller(s, nil, "amd64").Pull(ctx, rg.host+"/library/base:1")
	require.NoError(t, err)
	require.NoError(t, s.Tag(rg.host+"/library/base:1", rg.host+"/team/app:v1"))

	rg.reset()
	var out bytes.Buffer
	_, err = pusher(puller(s, nil, ""), &out).Push(ctx, rg.host+"/team/app:v1")
	require.NoError(t, err)
	ld := layerDigests(t, base)[0]
	cfg, _ := base.ConfigFile()
	id := cfg.RootFS.DiffIDs[0].Hex[:12]
	assert.Contains(t, out.String(), id+": Mounted from library/base\n")
	assert.Equal(t, 1, rg.count(fmt.Sprintf("POST /v2/team/app/blobs/uploads/?from=%s&mount=%s", url.QueryEscape("library/base"), url.QueryEscape(ld))), "%v", rg.matching(func(string) bool { return true }))
	assert.Equal(t, 1, rg.count("PATCH "), "the config; the layer was mounted")

	// A repository of another registry is no mount source.
	require.NoError(t, s.Tag(rg.host+"/library/base:1", "localhost:1/x:v1"))
	src := pusher(puller(s, nil, ""), &out).mountSource(rg.host+"/team/other", imagesLayer(t, s, rg.host+"/library/base:1"))
	assert.Equal(t, rg.host+"/library/base", src)
	assert.Equal(t, "", pusher(puller(s, nil, ""), &out).mountSource("localhost:1/x", imagesLayer(t, s, rg.host+"/library/base:1")))
}

func TestPushErrors(t *testing.T) {
	rg := newReg(t)
	s := newStore(t)
	_, err := pusher(puller(s, nil, ""), &bytes.Buffer{}).Push(context.Background(), rg.host+"/none:v1")
	assert.EqualError(t, err, "An image does not exist locally with the tag: "+rg.host+"/none")
	_, err = pusher(puller(s, nil, ""), &bytes.Buffer{}).Push(context.Background(), rg.host+"/x@sha256:"+strings.Repeat("0", 64))
	assert.ErrorContains(t, err, "cannot push a digest reference")
}

// TestPushSchema2 pushes an image whose stored manifest is Docker's
// schema 2 with plain tar layers (as a legacy `load` gives): the pushed
// manifest stays schema 2, with Docker's gzip layer type.
func TestPushSchema2(t *testing.T) {
	rg := newReg(t)
	s := newStore(t)
	imp, err := s.Import(bytes.NewReader(tarOf(t, "a.txt", "a\n")), "", nil, "")
	require.NoError(t, err)
	ls, err := s.ImageLayers(imp.ID.String())
	require.NoError(t, err)
	c := imp.Config
	c.Config.Env = []string{"LEGACY=1"} // another image on the same layer
	cfg, err := json.Marshal(c)
	require.NoError(t, err)
	m, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     registry.MediaTypeDockerManifest,
		"config":        map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest.FromBytes(cfg), "size": len(cfg)},
		"layers":        []any{map[string]any{"mediaType": mediaTypeDockerTar, "digest": ls[0].Digest, "size": ls[0].Size}},
	})
	require.NoError(t, err)
	ref := rg.host + "/legacy:v1"
	_, err = s.AddImage(cfg, ls, m, "", ref)
	require.NoError(t, err)

	_, err = pusher(puller(s, nil, ""), &bytes.Buffer{}).Push(context.Background(), ref)
	require.NoError(t, err)
	desc, raw, err := registry.New(registry.Options{}).Resolve(context.Background(), rg.host+"/legacy", "v1")
	require.NoError(t, err)
	assert.Equal(t, registry.MediaTypeDockerManifest, desc.MediaType)
	assert.Contains(t, string(raw), `"`+mediaTypeDockerLayer+`"`)
	assert.NotContains(t, string(raw), "oci")
}
