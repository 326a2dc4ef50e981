package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// softTarball is a gzip'd tar with /cool-soft printing version.
func softTarball(t *testing.T, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	body := "#!/bin/sh\necho cool-soft " + version + "\n"
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "cool-soft", Mode: 0o755, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}))
	_, err := tw.Write([]byte(body))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// softServer serves /soft.tar.gz on 127.0.0.1; set changes what it serves.
type softServer struct {
	mu   sync.Mutex
	body []byte
	mod  time.Time
	srv  *httptest.Server
}

func newSoftServer(t *testing.T, body []byte) *softServer {
	s := &softServer{body: body, mod: time.Unix(1700000000, 0)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path != "/soft.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Last-Modified", s.mod.UTC().Format(http.TimeFormat))
		w.Write(s.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *softServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.mod = body, s.mod.Add(time.Hour)
}

var stepRe = regexp.MustCompile(`(?m)^Step (\d+)/(\d+) : (\S+)`)

// stepHits maps each step's instruction (in order, FROM left out) to
// whether it came from the cache.
func stepHits(t *testing.T, out string) []string {
	t.Helper()
	locs := stepRe.FindAllStringSubmatchIndex(out, -1)
	require.NotEmpty(t, locs, out)
	var hits []string
	for i, l := range locs {
		end := len(out)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		kind := out[l[6]:l[7]]
		if kind == "FROM" {
			continue
		}
		state := "miss"
		if strings.Contains(out[l[0]:end], "\n ---> Using cache\n") {
			state = "hit"
		}
		hits = append(hits, kind+" "+state)
	}
	return hits
}

// The lecture's build-cache experiment, run through the real engine: a
// Dockerfile of ENV, RUN, ADD (of a URL) and CMD, built again unchanged,
// with the downloaded file changed, with ADD moved before RUN, and with
// the ENV value changed. The slides mark ENV as a hit in the last case;
// Docker's classic builder misses there (the instruction's text is part
// of the key), and every later step misses with it.
func TestLectureCacheExperiment(t *testing.T) {
	b := newBox(t)
	soft := newSoftServer(t, softTarball(t, "1"))
	url := soft.srv.URL + "/soft.tar.gz"
	dockerfile := func(env string, addFirst bool) string {
		run := "RUN echo \"$myvar\" > /state\n"
		add := "ADD " + url + " /bin/\n"
		body := "FROM busybox\nENV myvar " + env + "\n"
		if addFirst {
			body += add + run
		} else {
			body += run + add
		}
		return body + "CMD [\"cat\", \"/state\"]\n"
	}
	ctx := writeContext(t, map[string]string{"Dockerfile": dockerfile("true", false)})
	build := func() (string, string) {
		t.Helper()
		out := b.ok("build", "--network", "none", "-t", "lecture", ctx)
		return out, b.ok("images", "-q", "lecture")
	}
	first, id1 := build()
	assert.Equal(t, []string{"ENV miss", "RUN miss", "ADD miss", "CMD miss"}, stepHits(t, first))
	runID := func() string { return strings.Fields(strings.Split(b.ok("history", "-q", "lecture"), "\n")[2])[0] }
	run1 := runID() // history: CMD, ADD, RUN, ...

	// (a) Nothing changed: four hits, the same image.
	out, id := build()
	assert.Equal(t, []string{"ENV hit", "RUN hit", "ADD hit", "CMD hit"}, stepHits(t, out))
	assert.Equal(t, id1, id)

	// (b) The downloaded file changed: ADD looks at the content, so it and
	// everything after it miss; RUN above it still hits.
	soft.set(softTarball(t, "2"))
	out, id = build()
	assert.Equal(t, []string{"ENV hit", "RUN hit", "ADD miss", "CMD miss"}, stepHits(t, out))
	assert.NotEqual(t, id1, id)
	assert.Equal(t, run1, runID(), "the RUN step's image was reused")

	// (c) ADD moved before RUN: the order decides what a change
	// invalidates, and here RUN follows a new step, so it runs again.
	writeFile(t, ctx, "Dockerfile", dockerfile("true", true))
	out, _ = build()
	assert.Equal(t, []string{"ENV hit", "ADD miss", "RUN miss", "CMD miss"}, stepHits(t, out))
	assert.Contains(t, out, "Running in")

	// (d) The ENV value changed: ENV misses (the slide says hit), and so
	// does every step after it.
	writeFile(t, ctx, "Dockerfile", dockerfile("false", false))
	out, _ = build()
	assert.Equal(t, []string{"ENV miss", "RUN miss", "ADD miss", "CMD miss"}, stepHits(t, out))
	assert.NotEqual(t, run1, runID(), "the RUN ran again: a new step image")
	assert.Equal(t, "false", b.ok("run", "--rm", "--network", "none", "lecture"))
	assert.Empty(t, b.ok("ps", "-aq"))
}
