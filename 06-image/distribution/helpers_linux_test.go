package distribution

import (
	"bytes"
	"context"
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/images"
	"minibox/04-storage/storage"
	"minibox/06-image/registry"
)

// reg is gcr's in-process registry on 127.0.0.1 (plain http, as Docker
// allows for loopback), behind a request log and per-repository blobs.
type reg struct {
	host string
	mu   sync.Mutex
	reqs []string
	// tamper, when set, may answer a request instead of the registry.
	tamper func(w http.ResponseWriter, r *http.Request) bool
}

func newReg(t *testing.T) *reg {
	t.Helper()
	rg := &reg{}
	inner := newRepoScoped(gcrregistry.New(gcrregistry.Logger(log.New(io.Discard, "", 0))))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			line += "?" + r.URL.RawQuery
		}
		rg.mu.Lock()
		rg.reqs = append(rg.reqs, line)
		tamper := rg.tamper
		rg.mu.Unlock()
		if tamper != nil && tamper(w, r) {
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rg.host = strings.TrimPrefix(srv.URL, "http://")
	return rg
}

// count is the number of requests so far that start with prefix; reset
// forgets them.
func (rg *reg) count(prefix string) int {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	n := 0
	for _, l := range rg.reqs {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (rg *reg) matching(f func(string) bool) []string {
	rg.mu.Lock()
	defer rg.mu.Unlock()
	var out []string
	for _, l := range rg.reqs {
		if f(l) {
			out = append(out, l)
		}
	}
	return out
}

func (rg *reg) reset() {
	rg.mu.Lock()
	rg.reqs = nil
	rg.mu.Unlock()
}

func (rg *reg) setTamper(f func(w http.ResponseWriter, r *http.Request) bool) {
	rg.mu.Lock()
	rg.tamper = f
	rg.mu.Unlock()
}

// blobGETs is how many GETs of blobs were made (of any repository).
func (rg *reg) blobGETs() int {
	return len(rg.matching(func(l string) bool { return strings.HasPrefix(l, "GET ") && strings.Contains(l, "/blobs/sha256:") }))
}

func newStore(t *testing.T) *images.Store {
	t.Helper()
	dir := t.TempDir()
	ls, err := storage.NewStore(filepath.Join(dir, "layers"))
	require.NoError(t, err)
	s, err := images.New(filepath.Join(dir, "images"), ls)
	require.NoError(t, err)
	return s
}

func puller(s *images.Store, out io.Writer, arch string) *Puller {
	p := &Puller{Store: s, Client: registry.New(registry.Options{}), Out: out}
	if arch != "" {
		p.Platform.OS, p.Platform.Architecture = "linux", arch
	}
	return p
}

// layerOf is a random one-file layer, compressed as ct says.
func layerOf(t *testing.T, size int64, seed int64, ct compression.Compression) v1.Layer {
	t.Helper()
	rl, err := random.Layer(size, types.DockerLayer, random.WithSource(newSource(seed)))
	require.NoError(t, err)
	rc, err := rl.Uncompressed()
	require.NoError(t, err)
	tarBytes, err := io.ReadAll(rc)
	require.NoError(t, err)
	opts := []tarball.LayerOption{tarball.WithCompression(ct)}
	if ct == compression.ZStd {
		opts = append(opts, tarball.WithMediaType(types.OCILayerZStd))
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil }, opts...)
	require.NoError(t, err)
	return l
}

// imageOf is an image of layers for os/arch, with env to tell configs apart.
func imageOf(t *testing.T, arch string, env string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if arch == "arm64" {
		cf.Variant = "v8"
	}
	cf.Config.Env = []string{"IMAGE=" + env}
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}

func write(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img, remote.WithContext(context.Background())))
}

// layerDigests are the blob digests of img's layers.
func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		require.NoError(t, err)
		out = append(out, d.String())
	}
	return out
}

// linesOf are the progress lines of id, in order.
func linesOf(out, id string) []string {
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, id+": "); ok {
			got = append(got, rest)
		}
	}
	return got
}

// repoScoped makes gcr's registry keep blobs per repository, as
// distribution does (gcr's serves any blob from any repository and ignores
// mount): a blob is in a repository once uploaded or mounted there, and a
// POST ?mount=D&from=R of a blob R has is answered 201 Created.
type repoScoped struct {
	next  http.Handler
	mu    sync.Mutex
	blobs map[string]map[string]bool // repo → digest
}

func newRepoScoped(next http.Handler) *repoScoped {
	return &repoScoped{next: next, blobs: map[string]map[string]bool{}}
}

func (s *repoScoped) has(repo, d string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blobs[repo][d]
}

func (s *repoScoped) add(repo, d string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobs[repo] == nil {
		s.blobs[repo] = map[string]bool{}
	}
	s.blobs[repo][d] = true
}

func (s *repoScoped) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if repo, rest, ok := strings.Cut(p, "/blobs/"); ok {
		switch {
		case rest == "uploads/" && r.Method == http.MethodPost && r.URL.Query().Get("mount") != "":
			d, from := r.URL.Query().Get("mount"), r.URL.Query().Get("from")
			if s.has(from, d) {
				s.add(repo, d)
				w.Header().Set("Location", "/v2/"+repo+"/blobs/"+d)
				w.Header().Set("Docker-Content-Digest", d)
				w.WriteHeader(http.StatusCreated)
				return
			}
		case strings.HasPrefix(rest, "uploads/") && r.Method == http.MethodPut:
			sw := &statusWriter{ResponseWriter: w}
			s.next.ServeHTTP(sw, r)
			if sw.status == http.StatusCreated {
				s.add(repo, r.URL.Query().Get("digest"))
			}
			return
		case !strings.HasPrefix(rest, "uploads/") && !s.has(repo, rest):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			if r.Method != http.MethodHead {
				io.WriteString(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
			}
			return
		}
	}
	s.next.ServeHTTP(w, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func newSource(seed int64) rand.Source { return rand.NewSource(seed) }

// imagesLayer is the first layer of the image ref as the store names it.
func imagesLayer(t *testing.T, s *images.Store, ref string) images.LayerBlob {
	t.Helper()
	ls, err := s.ImageLayers(ref)
	require.NoError(t, err)
	require.NotEmpty(t, ls)
	return ls[0]
}
