package registry

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/require"
)

// recorder wraps a handler and keeps "METHOD path?query" of each request.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	line := req.Method + " " + req.URL.Path
	if req.URL.RawQuery != "" {
		line += "?" + req.URL.RawQuery
	}
	r.reqs = append(r.reqs, line)
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

// count is how many requests start with prefix.
func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.reqs {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func quiet() gcrregistry.Option {
	return gcrregistry.Logger(log.New(io.Discard, "", 0))
}

// inproc runs gcr's in-process registry on plain http at 127.0.0.1.
func inproc(t *testing.T, wrap func(http.Handler) http.Handler) (host string, rec *recorder) {
	t.Helper()
	h := newGCR()
	if wrap != nil {
		h = wrap(h)
	}
	rec = &recorder{next: h}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), rec
}

// testCA is a CA made in the test and a server certificate it signed for
// 127.0.0.1, localhost and registry.test.
type testCA struct {
	pem    []byte
	server tls.Certificate
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "minibox test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	skey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost", "registry.test", HubHost},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	sder, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &skey.PublicKey, key)
	require.NoError(t, err)
	return &testCA{
		pem:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		server: tls.Certificate{Certificate: [][]byte{sder}, PrivateKey: skey},
	}
}

// tlsServer serves h over TLS with the CA's certificate on 127.0.0.1.
func (ca *testCA) tlsServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.server}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the test means to fail
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// certsDir lays out DIR/HOST/ca.crt as Docker's certs.d.
func (ca *testCA) certsDir(t *testing.T, host string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, host), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, host, "ca.crt"), ca.pem, 0o644))
	return dir
}

// dialTo makes every connection go to addr, whatever host was asked: a
// name that is not loopback, served on 127.0.0.1.
func dialTo(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func newGCR() http.Handler { return gcrregistry.New(quiet()) }

const filepathListSeparator = os.PathListSeparator

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
