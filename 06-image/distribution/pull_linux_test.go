package distribution

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

// TestPullMultiArch pulls a name that is an index of an arm64 image (with
// a zstd layer; listed first) and an amd64 one (two gzip layers): each
// platform gets its own image, and RepoDigests names the index.
func TestPullMultiArch(t *testing.T) {
	rg := newReg(t)
	arm := imageOf(t, "arm64", "arm", layerOf(t, 2000, 1, compression.GZip), layerOf(t, 3000, 2, compression.ZStd))
	amd := imageOf(t, "amd64", "amd", layerOf(t, 2000, 3, compression.GZip), layerOf(t, 1000, 4, compression.GZip))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	ref, err := name.ParseReference(rg.host+"/library/multi:1.0", name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx))
	idxDigest, err := idx.Digest()
	require.NoError(t, err)

	for _, tc := range []struct {
		arch string
		img  v1.Image
	}{{"amd64", amd}, {"arm64", arm}} {
		t.Run(tc.arch, func(t *testing.T) {
			s := newStore(t)
			var out bytes.Buffer
			img, err := puller(s, &out, tc.arch).Pull(context.Background(), rg.host+"/library/multi:1.0")
			require.NoError(t, err, out.String())
			cfgName, err := tc.img.ConfigName()
			require.NoError(t, err)
			assert.Equal(t, cfgName.String(), img.ID.String(), "the %s manifest's image", tc.arch)
			assert.Equal(t, tc.arch, img.Config.Architecture)
			assert.Equal(t, []string{rg.host + "/library/multi:1.0"}, img.RepoTags)
			for _, d := range img.DiffIDs {
				assert.True(t, s.Layers.Has(d), "layer %s unpacked", d)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			assert.Equal(t, "1.0: Pulling from library/multi", lines[0])
			assert.Equal(t, "Digest: "+idxDigest.String(), lines[len(lines)-2])
			assert.Equal(t, "Status: Downloaded newer image for "+rg.host+"/library/multi:1.0", lines[len(lines)-1])
			for _, d := range layerDigests(t, tc.img) {
				assert.Equal(t, []string{"Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"}, linesOf(out.String(), digest.Digest(d).Encoded()[:12]))
			}
			sum, err := s.List()
			require.NoError(t, err)
			require.Len(t, sum, 1)
			assert.Equal(t, []string{rg.host + "/library/multi@" + idxDigest.String()}, sum[0].RepoDigests)
		})
	}

	_, err = puller(newStore(t), nil, "s390x").Pull(context.Background(), rg.host+"/library/multi:1.0")
	assert.ErrorContains(t, err, "no matching manifest for linux/s390x in the manifest list entries")
}

// TestPullSkipsPresentLayers: layers the store has are not fetched again.
func TestPullSkipsPresentLayers(t *testing.T) {
	rg := newReg(t)
	base, top := layerOf(t, 4000, 10, compression.GZip), layerOf(t, 1000, 11, compression.GZip)
	a := imageOf(t, "amd64", "a", base, top)
	b := imageOf(t, "amd64", "b", base, top)                                   // the same layers, another config
	c := imageOf(t, "amd64", "c", base, layerOf(t, 500, 12, compression.GZip)) // the base only
	for tag, img := range map[string]v1.Image{"a": a, "b": b, "c": c} {
		write(t, rg.host+"/app:"+tag, img)
	}
	s := newStore(t)
	ctx := context.Background()
	_, err := puller(s, nil, "amd64").Pull(ctx, rg.host+"/app:a")
	require.NoError(t, err)
	assert.Equal(t, 3, rg.blobGETs(), "config and two layers")

	rg.reset()
	var out bytes.Buffer
	_, err = puller(s, &out, "amd64").Pull(ctx, rg.host+"/app:b")
	require.NoError(t, err)
	assert.Equal(t, 1, rg.blobGETs(), "the config only: %v", rg.matching(func(string) bool { return true }))
	for _, d := range layerDigests(t, b) {
		assert.Equal(t, []string{"Already exists"}, linesOf(out.String(), digest.Digest(d).Encoded()[:12]))
	}

	rg.reset()
	out.Reset()
	_, err = puller(s, &out, "amd64").Pull(ctx, rg.host+"/app:c")
	require.NoError(t, err)
	ds := layerDigests(t, c)
	assert.Equal(t, 2, rg.blobGETs(), "the config and the new layer")
	assert.Equal(t, []string{"Already exists"}, linesOf(out.String(), digest.Digest(ds[0]).Encoded()[:12]))
	assert.Equal(t, []string{"Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"}, linesOf(out.String(), digest.Digest(ds[1]).Encoded()[:12]))

	// The same name again: up to date, no blob fetched.
	rg.reset()
	out.Reset()
	_, err = puller(s, &out, "amd64").Pull(ctx, rg.host+"/app:c")
	require.NoError(t, err)
	assert.Equal(t, 0, rg.blobGETs())
	m, err := c.Digest()
	require.NoError(t, err)
	assert.Equal(t, "c: Pulling from app\nDigest: "+m.String()+"\nStatus: Image is up to date for "+rg.host+"/app:c\n", out.String())
}

func TestPullOutput(t *testing.T) {
	rg := newReg(t)
	l := layerOf(t, 100, 20, compression.GZip)
	img := imageOf(t, "amd64", "x", l)
	// The name as a student types it for Docker Hub is not reachable here;
	// the registry host stands in, so the familiar name is the full one.
	write(t, rg.host+"/busybox:latest", img)
	var out bytes.Buffer
	_, err := puller(newStore(t), &out, "amd64").Pull(context.Background(), rg.host+"/busybox")
	require.NoError(t, err)
	m, _ := img.Digest()
	d, _ := l.Digest()
	id := d.Hex[:12]
	assert.Equal(t, "Using default tag: latest\n"+
		"latest: Pulling from busybox\n"+
		id+": Pulling fs layer\n"+
		id+": Verifying Checksum\n"+
		id+": Download complete\n"+
		id+": Pull complete\n"+
		"Digest: "+m.String()+"\n"+
		"Status: Downloaded newer image for "+rg.host+"/busybox:latest\n", out.String())

	// The pull that `run` makes for a missing image has named the tag in
	// "Unable to find image ...:latest locally" already: no default-tag line.
	out.Reset()
	p := puller(newStore(t), &out, "amd64")
	p.Implicit = true
	_, err = p.Pull(context.Background(), rg.host+"/busybox")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out.String(), "latest: Pulling from busybox\n"), out.String())
}

// TestPullTTY: the bar form (mpb) draws and finishes, in a pull and a push.
func TestPullTTY(t *testing.T) {
	rg := newReg(t)
	img := imageOf(t, "amd64", "x", layerOf(t, 20000, 23, compression.GZip), layerOf(t, 100, 24, compression.GZip))
	write(t, rg.host+"/app:v1", img)
	s := newStore(t)
	var out bytes.Buffer
	p := puller(s, &out, "amd64")
	p.TTY = true
	_, err := p.Pull(context.Background(), rg.host+"/app:v1")
	require.NoError(t, err)
	for _, d := range layerDigests(t, img) {
		assert.Contains(t, out.String(), digest.Digest(d).Encoded()[:12]+": Pull complete")
	}
	assert.Contains(t, out.String(), "Status: Downloaded newer image for "+rg.host+"/app:v1\n")

	require.NoError(t, s.Tag(rg.host+"/app:v1", rg.host+"/copy:v1"))
	out.Reset()
	ps := pusher(p, &out)
	ps.TTY = true
	_, err = ps.Push(context.Background(), rg.host+"/copy:v1")
	require.NoError(t, err)
	assert.Contains(t, out.String(), ": Mounted from app")
}

func TestPullByDigest(t *testing.T) {
	rg := newReg(t)
	img := imageOf(t, "amd64", "x", layerOf(t, 100, 21, compression.GZip))
	write(t, rg.host+"/app:v1", img)
	m, _ := img.Digest()
	s := newStore(t)
	var out bytes.Buffer
	got, err := puller(s, &out, "amd64").Pull(context.Background(), rg.host+"/app@"+m.String())
	require.NoError(t, err)
	assert.Empty(t, got.RepoTags, "a digest pull tags nothing")
	assert.True(t, strings.HasPrefix(out.String(), m.String()+": Pulling from app\n"), out.String())
	assert.Contains(t, out.String(), "Status: Downloaded newer image for "+rg.host+"/app@"+m.String())
	// The store finds a digest reference through a tag only (see the
	// report): the image is there by its ID.
	again, err := s.Resolve(got.ID.String())
	require.NoError(t, err)
	assert.Equal(t, got.ID, again.ID)
}

func TestPullErrors(t *testing.T) {
	rg := newReg(t)
	write(t, rg.host+"/app:v1", imageOf(t, "amd64", "x", layerOf(t, 100, 22, compression.GZip)))
	_, err := puller(newStore(t), nil, "amd64").Pull(context.Background(), rg.host+"/app:nope")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "manifest for "+rg.host+"/app:nope not found: manifest unknown")
	_, err = puller(newStore(t), nil, "amd64").Pull(context.Background(), "Bad/Name")
	assert.ErrorContains(t, err, "invalid reference format")
}

// noTmp asserts the store holds no half-written blob.
func noTmp(t *testing.T, root string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, "tmp"))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	assert.Empty(t, ents, "files left in %s/tmp", root)
}

// TestPullCorruptBlob: a layer whose bytes do not match its digest fails
// the pull with Docker's message and leaves no blob and no image.
func TestPullCorruptBlob(t *testing.T) {
	rg := newReg(t)
	l := layerOf(t, 5000, 30, compression.GZip)
	img := imageOf(t, "amd64", "x", l)
	write(t, rg.host+"/app:v1", img)
	d, _ := l.Digest()
	rg.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
			w.Write(bytes.Repeat([]byte("bad"), 100))
			return true
		}
		return false
	})
	s := newStore(t)
	_, err := puller(s, nil, "amd64").Pull(context.Background(), rg.host+"/app:v1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "filesystem layer verification failed for digest "+d.String())
	assert.False(t, s.Blobs().Has(digest.Digest(d.String())))
	noTmp(t, s.Root)
	_, err = s.Resolve(rg.host + "/app:v1")
	assert.ErrorIs(t, err, engine.ErrImageNotFound)
}

// TestPullInterrupted: a pull cancelled mid-download leaves no half blob.
func TestPullInterrupted(t *testing.T) {
	rg := newReg(t)
	l := layerOf(t, 5000, 31, compression.GZip)
	img := imageOf(t, "amd64", "x", l)
	write(t, rg.host+"/app:v1", img)
	d, _ := l.Digest()
	started := make(chan struct{})
	rg.setTamper(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
			w.Header().Set("Content-Length", "100000")
			w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
			close(started)
			<-r.Context().Done() // hang until the client goes away
			return true
		}
		return false
	})
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
		}
		cancel()
	}()
	_, err := puller(s, nil, "amd64").Pull(ctx, rg.host+"/app:v1")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, s.Blobs().Has(digest.Digest(d.String())))
	noTmp(t, s.Root)
}

func TestEnsureImage(t *testing.T) {
	rg := newReg(t)
	img := imageOf(t, "amd64", "x", layerOf(t, 100, 40, compression.GZip))
	write(t, rg.host+"/app:v1", img)
	s := newStore(t)
	ctx := context.Background()
	ref := rg.host + "/app:v1"

	_, err := puller(s, nil, "amd64").EnsureImage(ctx, ref, "never")
	require.Error(t, err)
	assert.True(t, errors.Is(err, engine.ErrImageNotFound))
	assert.True(t, strings.HasPrefix(err.Error(), "No such image: "+ref), err.Error())

	var out bytes.Buffer
	got, err := puller(s, &out, "amd64").EnsureImage(ctx, ref, "missing")
	require.NoError(t, err)
	assert.Contains(t, out.String(), "Status: Downloaded newer image")

	rg.reset()
	out.Reset()
	again, err := puller(s, &out, "amd64").EnsureImage(ctx, ref, "")
	require.NoError(t, err)
	assert.Equal(t, got.ID, again.ID)
	assert.Empty(t, out.String())
	assert.Equal(t, 0, rg.count(""), "a present image asks nothing")

	_, err = puller(s, &out, "amd64").EnsureImage(ctx, ref, "always")
	require.NoError(t, err)
	assert.Contains(t, out.String(), "Status: Image is up to date for "+ref)

	_, err = puller(s, nil, "amd64").EnsureImage(ctx, ref, "sometimes")
	assert.EqualError(t, err, `invalid pull option: 'sometimes': must be one of "always", "missing" or "never"`)
}

// TestPullWaiting: of five new layers, three download at once and two
// wait, each with Docker's lines.
func TestPullWaiting(t *testing.T) {
	rg := newReg(t)
	var ls []v1.Layer
	for i := range 5 {
		ls = append(ls, layerOf(t, 200, int64(60+i), compression.GZip))
	}
	img := imageOf(t, "amd64", "x", ls...)
	write(t, rg.host+"/five:v1", img)
	var out bytes.Buffer
	got, err := puller(newStore(t), &out, "amd64").Pull(context.Background(), rg.host+"/five:v1")
	require.NoError(t, err)
	assert.Len(t, got.DiffIDs, 5)
	for i, d := range layerDigests(t, img) {
		want := []string{"Pulling fs layer", "Verifying Checksum", "Download complete", "Pull complete"}
		if i >= parallel {
			want = append([]string{"Pulling fs layer", "Waiting"}, want[1:]...)
		}
		assert.Equal(t, want, linesOf(out.String(), digest.Digest(d).Encoded()[:12]), "layer %d", i)
	}
}
