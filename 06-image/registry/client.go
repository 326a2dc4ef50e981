package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Auth is one registry's credentials, as config.json keeps them.
type Auth struct{ Username, Password, IdentityToken, RegistryToken string }

// Options configure a Client.
type Options struct {
	// CertsDir is Docker's certs.d: CertsDir/HOST:PORT/*.crt are CAs added
	// to the system's, *.cert with *.key client certificates. A list
	// (filepath.SplitList) searches each, such as
	// "/etc/docker/certs.d:/root/.docker/certs.d".
	CertsDir string
	// Insecure are --insecure-registry values: host[:port] or a CIDR that
	// may use plain http. 127.0.0.0/8, ::1 and localhost always may.
	Insecure []string
	// Auth returns the credentials for an AuthKey (nil: anonymous).
	Auth      func(host string) (Auth, error)
	UserAgent string
}

// Client talks to registries. It keeps one authenticated transport per
// host and scope set, so a pull pings and fetches its token once. It is
// safe for concurrent use.
type Client struct {
	o Options

	mu     sync.Mutex
	bases  map[string]http.RoundTripper // host → TLS policy + certs.d
	authed map[string]http.RoundTripper // host + scopes → gcr's authenticated transport

	// dial replaces the dialer (tests name a non-loopback host that dials
	// a listener on 127.0.0.1).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New returns a Client.
func New(o Options) *Client {
	if o.UserAgent == "" {
		o.UserAgent = "minibox"
	}
	return &Client{o: o, bases: map[string]http.RoundTripper{}, authed: map[string]http.RoundTripper{}}
}

// ErrUnauthorized is Docker's message for credentials a registry refused.
var ErrUnauthorized = errors.New("unauthorized: incorrect username or password")

// errHTTPS is the error of Go's https client that met a plain http server;
// Docker shows it as it is.
const errHTTPS = "http: server gave HTTP response to HTTPS client"

// Error is an error response of the registry API. Its text is Docker's:
// the error code in lower case words, then the registry's message
// ("manifest unknown: manifest unknown", "denied: requested access to the
// resource is denied").
type Error struct {
	Method, URL string
	Status      int
	Code        string // MANIFEST_UNKNOWN, BLOB_UNKNOWN, DENIED, UNAUTHORIZED, …
	Message     string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%s %q: unexpected status %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	}
	return strings.ToLower(strings.ReplaceAll(e.Code, "_", " ")) + ": " + e.Message
}

// IsNotFound reports whether err is a registry's 404 (an unknown
// manifest, blob or repository).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsDenied reports whether the registry refused access (401 or 403), which
// on Docker Hub is also what a repository that does not exist gives.
func IsDenied(err error) bool {
	var e *Error
	return errors.Is(err, ErrUnauthorized) || errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// base is the host's transport under the authentication: Docker's TLS
// settings and its refusal of plain http.
func (c *Client) base(host string) (http.RoundTripper, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rt, ok := c.bases[host]; ok {
		return rt, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	var certs []tls.Certificate
	for _, dir := range filepath.SplitList(c.o.CertsDir) {
		if dir == "" {
			continue
		}
		cs, err := loadCertsDir(filepath.Join(dir, host), pool)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cs...)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12}
	if c.dial != nil {
		tr.DialContext = c.dial
	}
	rt := &policy{insecure: c.o.Insecure, inner: tr}
	c.bases[host] = rt
	return rt, nil
}

// loadCertsDir reads one certs.d/HOST:PORT directory, as Docker does:
// *.crt are CAs, NAME.cert + NAME.key a client key pair. A missing
// directory is no error.
func loadCertsDir(dir string, pool *x509.CertPool) ([]tls.Certificate, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("certs.d: %w", err)
	}
	var certs []tls.Certificate
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		switch filepath.Ext(e.Name()) {
		case ".crt":
			pem, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("certs.d: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("certs.d: %s: no PEM certificate", p)
			}
		case ".cert":
			key := strings.TrimSuffix(p, ".cert") + ".key"
			pair, err := tls.LoadX509KeyPair(p, key)
			if err != nil {
				return nil, fmt.Errorf("certs.d: client certificate %s: %w", p, err)
			}
			certs = append(certs, pair)
		case ".key":
			if _, err := os.Stat(strings.TrimSuffix(p, ".key") + ".cert"); err != nil {
				return nil, fmt.Errorf("certs.d: missing client certificate %s.cert for key %s", strings.TrimSuffix(e.Name(), ".key"), p)
			}
		}
	}
	return certs, nil
}

// policy refuses plain http where Docker would. gcr's ping falls back to
// http on its own for loopback and RFC 1918 hosts; this is what stops the
// second for a host that is not insecure.
type policy struct {
	insecure []string
	inner    http.RoundTripper
}

func (p *policy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && !mayUseHTTP(r.URL.Host, p.insecure) {
		return nil, errors.New(errHTTPS)
	}
	return p.inner.RoundTrip(r)
}

// registryName is gcr's name for host; name.Insecure lets its ping fall
// back to http (after https failed) where Docker allows http.
func (c *Client) registryName(host string) (name.Registry, error) {
	var opts []name.Option
	if mayUseHTTP(host, c.o.Insecure) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("registry %q: %w", host, err)
	}
	return reg, nil
}

func authenticator(a Auth) authn.Authenticator {
	if a == (Auth{}) {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken})
}

// transport is gcr's authenticated transport for host and scopes: its
// constructor pings GET /v2/, reads WWW-Authenticate, and for Bearer
// fetches a token for the scopes from the realm.
func (c *Client) transport(ctx context.Context, host string, scopes []string, a *Auth) (http.RoundTripper, error) {
	key := host + " " + strings.Join(scopes, " ")
	if a == nil {
		c.mu.Lock()
		rt, ok := c.authed[key]
		c.mu.Unlock()
		if ok {
			return rt, nil
		}
		var cred Auth
		if c.o.Auth != nil {
			var err error
			if cred, err = c.o.Auth(AuthKey(host)); err != nil {
				return nil, fmt.Errorf("credentials for %s: %w", host, err)
			}
		}
		a = &cred
	}
	base, err := c.base(host)
	if err != nil {
		return nil, err
	}
	reg, err := c.registryName(host)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, reg, authenticator(*a), transport.NewUserAgent(base, c.o.UserAgent), scopes)
	if err != nil {
		return nil, c.authError(host, err)
	}
	c.mu.Lock()
	c.authed[key] = rt
	c.mu.Unlock()
	return rt, nil
}

// authError turns the errors of the ping and token dance into Docker's.
func (c *Client) authError(host string, err error) error {
	var te *transport.Error
	switch {
	case strings.Contains(err.Error(), errHTTPS):
		return fmt.Errorf("Get %q: %s", "https://"+host+"/v2/", errHTTPS)
	case errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("Get %q: %w", "https://"+host+"/v2/", ErrUnauthorized)
	}
	return fmt.Errorf("registry %s: %w", host, err)
}

// Login checks a against host (the wire host, LoginHost): the ping, the
// token when the registry wants one, and then GET /v2/ with it, which a
// Basic registry answers 401 for a wrong password.
func (c *Client) Login(ctx context.Context, host string, a Auth) error {
	rt, err := c.transport(ctx, host, nil, &a)
	if err != nil {
		return err
	}
	u := "https://" + host + "/v2/"
	resp, err := c.do(ctx, rt, http.MethodGet, u, nil, nil, http.StatusOK)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			return fmt.Errorf("Get %q: %w", u, ErrUnauthorized)
		}
		return err
	}
	resp.Body.Close()
	return nil
}

func pullScope(path string) string { return "repository:" + path + ":pull" }
func pushScope(path string) string { return "repository:" + path + ":push,pull" }

// do sends one request through rt and checks its status. Its URL is
// always https://: gcr's transport rewrites the scheme to http when the
// ping had to fall back.
func (c *Client) do(ctx context.Context, rt http.RoundTripper, method, u string, hdr http.Header, body io.Reader, ok ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if cl := hdr.Get("Content-Length"); cl != "" {
		fmt.Sscan(cl, &req.ContentLength)
		req.Header.Del("Content-Length")
	}
	// Blob GETs are redirected to storage (Docker Hub: a CDN); Go's client
	// follows, and gcr's transport sends the token only to the registry.
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		if strings.Contains(err.Error(), errHTTPS) {
			return nil, fmt.Errorf("%s %q: %s", method, u, errHTTPS)
		}
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	e := &Error{Method: method, URL: u, Status: resp.StatusCode}
	if method != http.MethodHead {
		var body struct {
			Errors []struct{ Code, Message string }
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &body) == nil && len(body.Errors) > 0 {
			e.Code, e.Message = body.Errors[0].Code, body.Errors[0].Message
		}
	}
	if e.Code == "" && resp.StatusCode == http.StatusUnauthorized {
		e.Code, e.Message = "UNAUTHORIZED", "authentication required"
	}
	return nil, e
}

// Manifest media types, newest first: what Resolve accepts.
const (
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

var accepted = []string{imagespec.MediaTypeImageIndex, imagespec.MediaTypeImageManifest, MediaTypeDockerList, MediaTypeDockerManifest}

// maxManifest is Docker's limit on a manifest's size (4 MiB).
const maxManifest = 4 << 20

// Resolve fetches repo's manifest (or index) for a tag or a digest and
// returns its bytes as sent, with its media type and digest. For a digest
// the bytes are checked against it.
func (c *Client) Resolve(ctx context.Context, repo, tagOrDigest string) (imagespec.Descriptor, []byte, error) {
	host, path, err := splitRepo(repo)
	if err != nil {
		return imagespec.Descriptor{}, nil, err
	}
	rt, err := c.transport(ctx, host, []string{pullScope(path)}, nil)
	if err != nil {
		return imagespec.Descriptor{}, nil, err
	}
	u := fmt.Sprintf("https://%s/v2/%s/manifests/%s", host, path, tagOrDigest)
	resp, err := c.do(ctx, rt, http.MethodGet, u, http.Header{"Accept": {strings.Join(accepted, ", ")}}, nil, http.StatusOK)
	if err != nil {
		return imagespec.Descriptor{}, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return imagespec.Descriptor{}, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(b) > maxManifest {
		return imagespec.Descriptor{}, nil, fmt.Errorf("GET %s: manifest larger than %d bytes", u, maxManifest)
	}
	d := digest.FromBytes(b)
	if want, err := digest.Parse(tagOrDigest); err == nil && want != d {
		return imagespec.Descriptor{}, nil, fmt.Errorf("manifest verification failed for digest %s: got %s", want, d)
	}
	mt, err := mediaType(resp.Header.Get("Content-Type"), b)
	if err != nil {
		return imagespec.Descriptor{}, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return imagespec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}, b, nil
}

// mediaType is the manifest's type: the Content-Type, or the mediaType
// field when a registry sends a generic one.
func mediaType(contentType string, b []byte) (string, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	for _, a := range accepted {
		if mt == a {
			return mt, nil
		}
	}
	var probe struct {
		MediaType string `json:"mediaType"`
		Manifests []json.RawMessage
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return "", fmt.Errorf("manifest of type %q: %w", mt, err)
	}
	for _, a := range accepted {
		if probe.MediaType == a {
			return a, nil
		}
	}
	if probe.MediaType == "" && mt != "application/vnd.docker.distribution.manifest.v1+prettyjws" {
		// OCI lets mediaType out: an index has manifests, a manifest a config.
		if probe.Manifests != nil {
			return imagespec.MediaTypeImageIndex, nil
		}
		return imagespec.MediaTypeImageManifest, nil
	}
	return "", fmt.Errorf("unsupported manifest media type %q", cmpOr(probe.MediaType, mt))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Fetch opens a blob of repo and returns its size (-1 when the registry
// did not say). The caller checks the digest of what it reads.
func (c *Client) Fetch(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	host, path, err := splitRepo(repo)
	if err != nil {
		return nil, 0, err
	}
	if err := d.Validate(); err != nil {
		return nil, 0, fmt.Errorf("blob %q: %w", d, err)
	}
	rt, err := c.transport(ctx, host, []string{pullScope(path)}, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.do(ctx, rt, http.MethodGet, fmt.Sprintf("https://%s/v2/%s/blobs/%s", host, path, d), nil, nil, http.StatusOK)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// Exists asks HEAD /v2/<repo>/blobs/<d>: the registry has the blob in repo.
func (c *Client) Exists(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	host, path, err := splitRepo(repo)
	if err != nil {
		return false, err
	}
	rt, err := c.transport(ctx, host, []string{pushScope(path)}, nil)
	if err != nil {
		return false, err
	}
	resp, err := c.do(ctx, rt, http.MethodHead, fmt.Sprintf("https://%s/v2/%s/blobs/%s", host, path, d), nil, nil, http.StatusOK)
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return true, nil
}

// Push uploads one blob of descriptor d into repo. With mountFrom (another
// repository of the same registry that has the blob: "host/library/x") it
// first asks for a cross-repository mount, POST …/blobs/uploads/?mount=D&from=R,
// which a registry answers 201 when it linked the blob without an upload
// (mounted = true). Otherwise (202) the bytes go in one PATCH to the
// upload's Location and a PUT ?digest=D commits them; the registry checks
// the digest.
func (c *Client) Push(ctx context.Context, repo string, d imagespec.Descriptor, open func() (io.ReadCloser, error), mountFrom string) (mounted bool, err error) {
	host, path, err := splitRepo(repo)
	if err != nil {
		return false, err
	}
	scopes := []string{pushScope(path)}
	q := url.Values{}
	if mountFrom != "" {
		fromHost, fromPath, err := splitRepo(mountFrom)
		if err == nil && fromHost == host && fromPath != path {
			scopes = append(scopes, pullScope(fromPath))
			sort.Strings(scopes[1:])
			q.Set("mount", d.Digest.String())
			q.Set("from", fromPath)
		}
	}
	rt, err := c.transport(ctx, host, scopes, nil)
	if err != nil {
		return false, err
	}
	u := fmt.Sprintf("https://%s/v2/%s/blobs/uploads/", host, path)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	resp, err := c.do(ctx, rt, http.MethodPost, u, http.Header{"Content-Length": {"0"}}, nil, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return true, nil
	}
	loc, err := location(resp)
	if err != nil {
		return false, err
	}
	body, err := open()
	if err != nil {
		return false, err
	}
	defer body.Close()
	resp, err = c.do(ctx, rt, http.MethodPatch, loc, http.Header{
		"Content-Type":   {"application/octet-stream"},
		"Content-Length": {fmt.Sprint(d.Size)},
	}, body, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if loc, err = location(resp); err != nil {
		return false, err
	}
	lu, err := url.Parse(loc)
	if err != nil {
		return false, fmt.Errorf("upload location %q: %w", loc, err)
	}
	lq := lu.Query()
	lq.Set("digest", d.Digest.String())
	lu.RawQuery = lq.Encode()
	resp, err = c.do(ctx, rt, http.MethodPut, lu.String(), http.Header{"Content-Length": {"0"}}, nil, http.StatusCreated)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return false, nil
}

// location is an upload's next URL, resolved against the request's (a
// registry may send a relative Location).
func location(resp *http.Response) (string, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("%s %s: no Location in the registry's answer", resp.Request.Method, resp.Request.URL)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("upload location %q: %w", loc, err)
	}
	return u.String(), nil
}

// PutManifest uploads a manifest (or index) under tag (or its digest) and
// returns its digest, the digest of body's bytes.
func (c *Client) PutManifest(ctx context.Context, repo, tag string, mediaType string, body []byte) (digest.Digest, error) {
	host, path, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	rt, err := c.transport(ctx, host, []string{pushScope(path)}, nil)
	if err != nil {
		return "", err
	}
	d := digest.FromBytes(body)
	if tag == "" {
		tag = d.String()
	}
	resp, err := c.do(ctx, rt, http.MethodPut, fmt.Sprintf("https://%s/v2/%s/manifests/%s", host, path, tag),
		http.Header{"Content-Type": {mediaType}, "Content-Length": {fmt.Sprint(len(body))}}, bytes.NewReader(body), http.StatusCreated, http.StatusOK)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d.String() {
		return "", fmt.Errorf("registry stored manifest %s as %s", d, got)
	}
	return d, nil
}
