package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// softServer serves /soft.tar.gz on 127.0.0.1 with content that the test
// changes, and a Last-Modified that changes with it.
type softServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     []byte
	modified time.Time
}

func newSoftServer(t *testing.T) *softServer {
	s := &softServer{}
	s.set(t, "v1")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/soft.tar.gz" {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Last-Modified", s.modified.UTC().Format(http.TimeFormat))
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

// set serves a gzip'd tar holding bin/cool-soft with the given version.
func (s *softServer) set(t *testing.T, version string) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	content := "#!/bin/sh\necho cool-soft " + version + "\n"
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "cool-soft", Mode: 0o755, Size: int64(len(content)), Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	s.mu.Lock()
	s.body = buf.Bytes()
	s.modified = time.Now().Add(-time.Hour).Truncate(time.Second)
	s.mu.Unlock()
}

// steps are the IDs of the image and its step parents, FROM's image
// first, n images in all.
func (e *env) steps(id digest.Digest, n int) []digest.Digest {
	e.t.Helper()
	out := make([]digest.Digest, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = id
		p, err := e.store.Parent(id)
		require.NoError(e.t, err)
		id = p
	}
	return out
}

// TestLectureCacheExperiment is the lecture's cache experiment with the
// fake executor: ENV, RUN, ADD of a URL and CMD, rebuilt unchanged, with a
// changed download, with ADD moved before RUN, and with a changed ENV.
// (06-image/build_lecture_test.go runs it again with real containers.)
func TestLectureCacheExperiment(t *testing.T) {
	e := newEnv(t)
	srv := newSoftServer(t)
	add := "ADD " + srv.URL + "/soft.tar.gz /bin/"
	df := func(env string, addFirst bool) string {
		lines := []string{"FROM base", "ENV myvar " + env, "RUN write /etc/state ran", add, `CMD ["/bin/cool-soft"]`}
		if addFirst {
			lines[2], lines[3] = lines[3], lines[2]
		}
		return strings.Join(lines, "\n") + "\n"
	}
	first, out := e.mustBuild(df("true", false), Options{})
	assert.Equal(t, []bool{false, false, false, false}, hits(out), out)
	require.Equal(t, 1, e.fake.count())
	got, ok := e.layerFile(first, "bin/soft.tar.gz")
	require.True(t, ok, "ADD of a URL copies the file (it never unpacks a download)")
	assert.Equal(t, string(srv.body), got)
	ids := e.steps(first, 5)
	h := e.image(first).History
	assert.Regexp(t, `^/bin/sh -c #\(nop\) ADD file:[0-9a-f]{64} in /bin/ $`, h[len(h)-2].CreatedBy)

	t.Run("a: unchanged, four hits", func(t *testing.T) {
		id, out := e.mustBuild(df("true", false), Options{})
		assert.Equal(t, []bool{true, true, true, true}, hits(out), out)
		assert.Equal(t, first, id)
		assert.Equal(t, 1, e.fake.count())
	})
	t.Run("b: a new download, ADD and after miss", func(t *testing.T) {
		srv.set(t, "v2")
		id, out := e.mustBuild(df("true", false), Options{})
		assert.Equal(t, []bool{true, true, false, false}, hits(out), out)
		assert.Equal(t, 1, e.fake.count(), "RUN did not run again")
		now := e.steps(id, 5)
		assert.Equal(t, ids[:3], now[:3], "FROM, ENV and RUN are the same images")
		assert.NotEqual(t, ids[3], now[3])
		assert.NotEqual(t, ids[4], now[4])
		// The same bytes again with another Last-Modified: the checksum
		// ignores times, so it hits.
		srv.set(t, "v2")
		_, out = e.mustBuild(df("true", false), Options{})
		assert.Equal(t, []bool{true, true, true, true}, hits(out), out)
	})
	t.Run("c: ADD before RUN, ENV unchanged", func(t *testing.T) {
		before := e.fake.count()
		id, out := e.mustBuild(df("true", true), Options{})
		assert.Equal(t, []bool{true, false, false, false}, hits(out), out)
		assert.Equal(t, before+1, e.fake.count(), "RUN ran again: its parent is new")
		now := e.steps(id, 5)
		assert.Equal(t, ids[1], now[1], "ENV is the same image")
		assert.NotContains(t, ids, now[3], "the RUN image is a new one")
	})
	t.Run("d: ENV myvar false, everything misses", func(t *testing.T) {
		before := e.fake.count()
		id, out := e.mustBuild(df("false", false), Options{})
		// The slide marks this ENV as a hit; the classic builder misses
		// on the changed instruction and on every step after it.
		assert.Equal(t, []bool{false, false, false, false}, hits(out), out)
		assert.Equal(t, before+1, e.fake.count())
		now := e.steps(id, 5)
		assert.Equal(t, ids[0], now[0])
		for i := 1; i < 5; i++ {
			assert.NotEqual(t, ids[i], now[i], "step %d", i)
		}
	})
}

func TestAddLocalArchiveAndURLFile(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "tool", Mode: 0o755, Size: 2, Typeflag: tar.TypeReg}))
	_, _ = tw.Write([]byte("ok"))
	require.NoError(t, tw.Close())
	e.file("tool.tar", buf.String())
	e.file("plain.txt", "not an archive")
	id, out := e.mustBuild("FROM base\nADD tool.tar /opt/\nADD plain.txt /opt/\nCOPY tool.tar /copied/\n", Options{})
	got, ok := e.layerFile(id, "opt/tool")
	require.True(t, ok, out)
	assert.Equal(t, "ok", got, "ADD unpacks a local tar")
	got, ok = e.layerFile(id, "opt/plain.txt")
	require.True(t, ok)
	assert.Equal(t, "not an archive", got)
	got, ok = e.layerFile(id, "copied/tool.tar")
	require.True(t, ok, "COPY never unpacks")
	assert.Equal(t, buf.String(), got)

	_, _, err := e.build("FROM base\nADD http://127.0.0.1:1/nothing.tar /x\n", Options{})
	assert.Error(t, err)
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, _, err = e.build("FROM base\nADD "+srv.URL+"/missing.tar /x\n", Options{})
	assert.ErrorContains(t, err, "failed to GET "+srv.URL+"/missing.tar with status 404 Not Found")
}

func TestCopyRules(t *testing.T) {
	e := newEnv(t)
	e.file("a", "A")
	e.file("b", "B")
	e.file("dir/c", "C")
	e.file("secret", "S")
	e.file(".dockerignore", "secret\n")
	id, out := e.mustBuild("FROM base\nWORKDIR /app\nCOPY a b ./\nCOPY dir sub\nCOPY --chown=1000:1000 a /owned\n", Options{})
	for p, want := range map[string]string{"app/a": "A", "app/b": "B", "app/sub/c": "C", "owned": "A"} {
		got, ok := e.layerFile(id, p)
		if assert.True(t, ok, p+"\n"+out) {
			assert.Equal(t, want, got, p)
		}
	}
	h := e.image(id).History
	assert.Regexp(t, `^/bin/sh -c #\(nop\) COPY multi:[0-9a-f]{64} in \./ $`, h[len(h)-3].CreatedBy)
	assert.Regexp(t, `^/bin/sh -c #\(nop\) COPY dir:[0-9a-f]{64} in sub $`, h[len(h)-2].CreatedBy)
	assert.Regexp(t, `^/bin/sh -c #\(nop\) COPY --chown=1000:1000 file:[0-9a-f]{64} in /owned $`, h[len(h)-1].CreatedBy)

	_, _, err := e.build("FROM base\nCOPY secret /s\n", Options{})
	assert.EqualError(t, err, "COPY failed: file not found in build context or excluded by .dockerignore: stat secret: file does not exist")
	_, _, err = e.build("FROM base\nCOPY a b /notadir\n", Options{})
	assert.ErrorContains(t, err, "When using COPY with more than one source file, the destination must be a directory and end with a /")
	_, _, err = e.build("FROM base\nCOPY ../x /x\n", Options{})
	assert.Error(t, err)

	// A mode change misses; a touch hits.
	e.mustBuild("FROM base\nCOPY a /a\n", Options{})
	future := time.Now().Add(time.Hour)
	require.NoError(t, chtimes(e.dir+"/a", future))
	_, out = e.mustBuild("FROM base\nCOPY a /a\n", Options{})
	assert.Equal(t, []bool{true}, hits(out), "mtime is not in the checksum")
	require.NoError(t, chmod(e.dir+"/a", 0o600))
	_, out = e.mustBuild("FROM base\nCOPY a /a\n", Options{})
	assert.Equal(t, []bool{false}, hits(out), "a mode is")
}

func TestBuildFromStdin(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range map[string]string{"Dockerfile": "FROM base\nCOPY hello /hello\n", "hello": "from the tar"} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, _ = tw.Write([]byte(body))
	}
	require.NoError(t, tw.Close())
	var out bytes.Buffer
	id, err := e.b.Build(context.Background(), Options{ContextDir: "-", Stdin: &buf, Out: &out})
	require.NoError(t, err, out.String())
	got, ok := e.layerFile(id, "hello")
	require.True(t, ok)
	assert.Equal(t, "from the tar", got)

	// A lone Dockerfile: an empty context.
	out.Reset()
	id, err = e.b.Build(context.Background(), Options{ContextDir: "-", Stdin: strings.NewReader("FROM base\nENV LONE=1\n"), Out: &out})
	require.NoError(t, err, out.String())
	assert.Contains(t, e.image(id).Config.Env, "LONE=1")
	_, err = e.b.Build(context.Background(), Options{ContextDir: "-", Stdin: strings.NewReader("FROM base\nCOPY x /x\n"), Out: &out})
	assert.ErrorContains(t, err, "COPY failed")
	fmt.Fprint(&out)
}

func TestAddSymlinkOutOfContext(t *testing.T) {
	e := newEnv(t)
	outside := t.TempDir() + "/outside.tar"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "stolen", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg}))
	_, _ = tw.Write([]byte("secret"))
	require.NoError(t, tw.Close())
	require.NoError(t, os.WriteFile(outside, buf.Bytes(), 0o644))
	require.NoError(t, os.Symlink(outside, e.dir+"/evil.tar"))
	// Resolved inside the context, the link's target is not there.
	_, _, err := e.build("FROM base\nADD evil.tar /x/\n", Options{})
	assert.EqualError(t, err, "ADD failed: file not found in build context or excluded by .dockerignore: stat evil.tar: file does not exist")
}
