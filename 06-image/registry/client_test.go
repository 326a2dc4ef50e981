package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// pushImage uploads a config, one layer blob and a manifest under tag.
func pushImage(t *testing.T, c *Client, repo, tag string) (imagespec.Descriptor, []byte, []byte) {
	t.Helper()
	ctx := context.Background()
	layer := []byte("layer bytes of " + repo)
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(layer).String() + `"]}}`)
	for _, b := range [][]byte{layer, cfg} {
		_, err := c.Push(ctx, repo, imagespec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}, opener(b), "")
		require.NoError(t, err)
	}
	m, err := json.Marshal(imagespec.Manifest{
		MediaType: imagespec.MediaTypeImageManifest,
		Config:    imagespec.Descriptor{MediaType: imagespec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		Layers:    []imagespec.Descriptor{{MediaType: imagespec.MediaTypeImageLayer, Digest: digest.FromBytes(layer), Size: int64(len(layer))}},
	})
	require.NoError(t, err)
	d, err := c.PutManifest(ctx, repo, tag, imagespec.MediaTypeImageManifest, m)
	require.NoError(t, err)
	require.Equal(t, digest.FromBytes(m), d)
	return imagespec.Descriptor{MediaType: imagespec.MediaTypeImageManifest, Digest: d, Size: int64(len(m))}, m, layer
}

func TestPushResolveFetch(t *testing.T) {
	host, rec := inproc(t, nil)
	c := New(Options{})
	ctx := context.Background()
	repo := host + "/lib/app"
	want, m, layer := pushImage(t, c, repo, "v1")

	for _, ref := range []string{"v1", want.Digest.String()} {
		desc, b, err := c.Resolve(ctx, repo, ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, desc)
		assert.Equal(t, m, b, "the bytes as pushed")
	}
	rc, n, err := c.Fetch(ctx, repo, digest.FromBytes(layer))
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.NoError(t, rc.Close())
	require.NoError(t, err)
	assert.Equal(t, layer, got)
	assert.Equal(t, int64(len(layer)), n)

	ok, err := c.Exists(ctx, repo, digest.FromBytes(layer))
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = c.Exists(ctx, repo, digest.FromString("nothing"))
	require.NoError(t, err)
	assert.False(t, ok)

	// One ping for the pull scope and one for the push scope, not one per request.
	assert.LessOrEqual(t, rec.count("GET /v2/?")+rec.count("GET /v2/ ")+countExact(rec, "GET /v2/"), 2)
}

func countExact(r *recorder, line string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.reqs {
		if l == line {
			n++
		}
	}
	return n
}

func TestResolveErrors(t *testing.T) {
	host, _ := inproc(t, nil)
	c := New(Options{})
	ctx := context.Background()
	repo := host + "/app"
	desc, _, _ := pushImage(t, c, repo, "v1")

	_, _, err := c.Resolve(ctx, repo, "nope")
	require.Error(t, err)
	assert.True(t, IsNotFound(err), "%v", err)
	assert.Contains(t, err.Error(), "manifest unknown")

	_, _, err = c.Resolve(ctx, host+"/other", "v1")
	assert.True(t, IsNotFound(err), "%v", err)

	_, _, err = c.Resolve(ctx, repo+":v1", "v1")
	assert.ErrorContains(t, err, "a repository name has no tag")

	_, _, err = c.Fetch(ctx, repo, digest.FromString("absent"))
	assert.True(t, IsNotFound(err), "%v", err)
	assert.Contains(t, err.Error(), "blob unknown")
	_ = desc
}

// A registry that lies: it serves other bytes for a manifest digest.
func TestResolveDigestChecked(t *testing.T) {
	var evil bool
	var mu sync.Mutex
	host, _ := inproc(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			e := evil
			mu.Unlock()
			if e && strings.Contains(r.URL.Path, "/manifests/sha256:") {
				w.Header().Set("Content-Type", imagespec.MediaTypeImageManifest)
				fmt.Fprint(w, `{"schemaVersion":2}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	c := New(Options{})
	desc, _, _ := pushImage(t, c, host+"/app", "v1")
	mu.Lock()
	evil = true
	mu.Unlock()
	_, _, err := c.Resolve(context.Background(), host+"/app", desc.Digest.String())
	assert.ErrorContains(t, err, "manifest verification failed for digest "+desc.Digest.String())
}

func TestCrossRepoMount(t *testing.T) {
	host, rec := inproc(t, func(h http.Handler) http.Handler { return newRepoScoped(h) })
	c := New(Options{})
	ctx := context.Background()
	_, _, layer := pushImage(t, c, host+"/library/base", "v1")
	d := imagespec.Descriptor{Digest: digest.FromBytes(layer), Size: int64(len(layer))}

	opened := false
	mounted, err := c.Push(ctx, host+"/team/app", d, func() (io.ReadCloser, error) {
		opened = true
		return opener(layer)()
	}, host+"/library/base")
	require.NoError(t, err)
	assert.True(t, mounted)
	assert.False(t, opened, "a mount sends no bytes")
	assert.Equal(t, 1, rec.count("POST /v2/team/app/blobs/uploads/?from=library%2Fbase&mount="+url.QueryEscape(d.Digest.String())))
	assert.Equal(t, 0, rec.count("PATCH /v2/team/app/"))
	ok, err := c.Exists(ctx, host+"/team/app", d.Digest)
	require.NoError(t, err)
	assert.True(t, ok)

	// A source on another registry is no mount: the bytes go up.
	b := []byte("fresh")
	mounted, err = c.Push(ctx, host+"/team/app", imagespec.Descriptor{Digest: digest.FromBytes(b), Size: 5}, opener(b), "registry.example.com/library/base")
	require.NoError(t, err)
	assert.False(t, mounted)
	assert.Equal(t, 1, rec.count("PATCH /v2/team/app/"))
}

func TestPushDigestChecked(t *testing.T) {
	host, _ := inproc(t, nil)
	c := New(Options{})
	b := []byte("what is sent")
	_, err := c.Push(context.Background(), host+"/app", imagespec.Descriptor{Digest: digest.FromString("what was promised"), Size: int64(len(b))}, opener(b), "")
	require.Error(t, err)
	ok, err2 := c.Exists(context.Background(), host+"/app", digest.FromString("what was promised"))
	require.NoError(t, err2)
	assert.False(t, ok)
}

func TestTLSCertsDir(t *testing.T) {
	ca := newCA(t)
	srv := ca.tlsServer(t, (&recorder{next: newGCR()}))
	host := strings.TrimPrefix(srv.URL, "https://")
	ctx := context.Background()

	_, err := New(Options{}).Exists(ctx, host+"/app", digest.FromString("x"))
	require.Error(t, err, "the test CA is not trusted without certs.d")
	assert.Contains(t, err.Error(), "certificate signed by unknown authority")

	c := New(Options{CertsDir: "/nonexistent" + string(filepathListSeparator) + ca.certsDir(t, host)})
	pushImage(t, c, host+"/app", "v1")
	_, _, err = c.Resolve(ctx, host+"/app", "v1")
	require.NoError(t, err)

	// A name that is not loopback, with the CA: https, verified by name.
	name := "registry.test:" + strings.Split(host, ":")[1]
	c = New(Options{CertsDir: ca.certsDir(t, name)})
	c.dial = dialTo(host)
	_, _, err = c.Resolve(ctx, name+"/app", "v1")
	require.NoError(t, err)
}

func TestHTTPRefused(t *testing.T) {
	host, _ := inproc(t, nil)
	port := strings.Split(host, ":")[1]
	ctx := context.Background()
	for _, name := range []string{"registry.test:" + port, "10.1.2.3:" + port, "192.168.1.1:" + port} {
		t.Run(name, func(t *testing.T) {
			c := New(Options{})
			c.dial = dialTo(host)
			_, _, err := c.Resolve(ctx, name+"/app", "v1")
			require.Error(t, err)
			assert.Contains(t, err.Error(), `Get "https://`+name+`/v2/": http: server gave HTTP response to HTTPS client`)

			// --insecure-registry lets it use http.
			c = New(Options{Insecure: []string{name}})
			c.dial = dialTo(host)
			pushImage(t, c, name+"/app", "v1")
		})
	}
	// A CIDR names hosts by address.
	c := New(Options{Insecure: []string{"10.0.0.0/8"}})
	c.dial = dialTo(host)
	pushImage(t, c, "10.9.9.9:"+port+"/app", "v1")
}

func TestErrorText(t *testing.T) {
	assert.Equal(t, "manifest unknown: manifest unknown", (&Error{Status: 404, Code: "MANIFEST_UNKNOWN", Message: "manifest unknown"}).Error())
	assert.Equal(t, "denied: requested access to the resource is denied", (&Error{Status: 403, Code: "DENIED", Message: "requested access to the resource is denied"}).Error())
	assert.Equal(t, `HEAD "https://h/v2/x/blobs/sha256:1": unexpected status 500 Internal Server Error`, (&Error{Method: "HEAD", URL: "https://h/v2/x/blobs/sha256:1", Status: 500}).Error())
	assert.True(t, IsDenied(fmt.Errorf("x: %w", ErrUnauthorized)))
	assert.False(t, IsNotFound(errors.New("x")))
}
