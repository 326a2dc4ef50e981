package testkit

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// get does a GET of url with basic credentials (user "" for none).
func get(t *testing.T, c *http.Client, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// gone reports whether pid is no longer a process (its parent reaped it).
func gone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }

func TestHarnessRegistryTLSAndUsers(t *testing.T) {
	var pid int
	t.Run("serve", func(t *testing.T) {
		ca := CA(t)
		r := Registry(t, RegistryOptions{TLS: ca, Users: map[string]string{"alice": "s3cret", "bob": "other"}})
		pid = r.PID
		assert.True(t, strings.HasPrefix(r.Host, "127.0.0.1:"), r.Host)
		assert.Equal(t, "https://"+r.Host, r.URL)

		c := r.Client()
		code, _ := get(t, c, r.URL+"/v2/", "", "")
		assert.Equal(t, http.StatusUnauthorized, code, "no credentials")
		code, _ = get(t, c, r.URL+"/v2/", "alice", "wrong")
		assert.Equal(t, http.StatusUnauthorized, code, "a wrong password")
		code, _ = get(t, c, r.URL+"/v2/", "alice", "s3cret")
		assert.Equal(t, http.StatusOK, code, "alice")
		code, _ = get(t, c, r.URL+"/v2/", "bob", "other")
		assert.Equal(t, http.StatusOK, code, "bob")

		// The registry's certificate chains to the test's root only: a
		// client with the host's roots refuses it, and plain HTTP gets
		// no API.
		_, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}).Get(r.URL + "/v2/")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")
		resp, err := http.Get("http://" + r.Host + "/v2/")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP to the TLS port")
	})
	require.NotZero(t, pid)
	assert.True(t, gone(pid), "docker-registry %d still runs after the test", pid)
}

func TestHarnessRegistryPlainAnonymous(t *testing.T) {
	r := Registry(t, RegistryOptions{})
	assert.Equal(t, "http://"+r.Host, r.URL)
	code, body := get(t, r.Client(), r.URL+"/v2/", "", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "{}", strings.TrimSpace(body))
}

func TestCACert(t *testing.T) {
	ca := CA(t)
	certFile, keyFile := ca.Cert(t, "127.0.0.1", "localhost")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	require.NotNil(t, pair.Leaf)
	_, err = pair.Leaf.Verify(x509VerifyOptions(ca, "localhost"))
	require.NoError(t, err)
	_, err = pair.Leaf.Verify(x509VerifyOptions(ca, "127.0.0.1"))
	require.NoError(t, err)
	_, err = pair.Leaf.Verify(x509VerifyOptions(ca, "example.com"))
	require.Error(t, err, "a name the certificate does not hold")
	_, err = pair.Leaf.Verify(x509VerifyOptions(CA(t), "localhost"))
	require.Error(t, err, "another test's root")

	dir := ca.CertsDir(t, "127.0.0.1:5001")
	assert.Equal(t, []string{dir, dir + "/127.0.0.1:5001", dir + "/127.0.0.1:5001/ca.crt"}, Tree(t, dir))
	want, err := os.ReadFile(ca.File)
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(dir, "127.0.0.1:5001", "ca.crt"))
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

// ociLayout writes an OCI image layout with one image: a one-layer image
// whose layer holds /hello (content) and whose config runs it. It returns
// the layout's directory and the manifest's digest.
func ociLayout(t *testing.T, content string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	blobs := filepath.Join(dir, "blobs", "sha256")
	require.NoError(t, os.MkdirAll(blobs, 0o755))
	put := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		require.NoError(t, os.WriteFile(filepath.Join(blobs, h), b, 0o644))
		return "sha256:" + h, len(b)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	layerDigest, layerSize := put(layer.Bytes())
	config := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/cat","/hello"]},"rootfs":{"type":"layers","diff_ids":[%q]}}`, layerDigest)
	configDigest, configSize := put([]byte(config))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		configDigest, configSize, layerDigest, layerSize)
	manifestDigest, manifestSize := put([]byte(manifest))
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}`,
		manifestDigest, manifestSize)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), []byte(index), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	return dir, manifestDigest
}

func TestHarnessSkopeoCopyIntoRegistry(t *testing.T) {
	ca := CA(t)
	r := Registry(t, RegistryOptions{TLS: ca, Users: map[string]string{"alice": "s3cret"}})
	certDir := filepath.Join(ca.CertsDir(t, r.Host), r.Host)
	layout, _ := ociLayout(t, "hello from skopeo\n")
	dest := "docker://" + r.Host + "/test/tiny:v1"

	res := Skopeo(t, "copy", "--dest-creds", "alice:wrong", "--dest-cert-dir", certDir, "oci:"+layout+":v1", dest)
	assert.NotEqual(t, 0, res.Code, "a wrong password: %s", res.Stdout)
	assert.Contains(t, res.Stderr, "unauthorized")

	// Without the test's root the registry's certificate is unknown.
	res = Skopeo(t, "copy", "--dest-creds", "alice:s3cret", "oci:"+layout+":v1", dest)
	assert.NotEqual(t, 0, res.Code, "no cert dir: %s", res.Stdout)
	assert.Contains(t, res.Stderr, "certificate")

	res = Skopeo(t, "copy", "--dest-creds", "alice:s3cret", "--dest-cert-dir", certDir, "oci:"+layout+":v1", dest)
	require.Equal(t, 0, res.Code, "skopeo copy: %s%s", res.Stdout, res.Stderr)
	assert.Contains(t, res.Stdout, "Writing manifest to image destination")

	code, body := get(t, r.Client(), r.URL+"/v2/test/tiny/tags/list", "alice", "s3cret")
	require.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"name":"test/tiny","tags":["v1"]}`, body)

	// skopeo inspect reads it back: one layer, the command we wrote.
	res = Skopeo(t, "inspect", "--creds", "alice:s3cret", "--cert-dir", certDir, "--config", dest)
	require.Equal(t, 0, res.Code, "skopeo inspect: %s", res.Stderr)
	var cfg struct {
		Config struct{ Cmd []string }
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &cfg), res.Stdout)
	assert.Equal(t, []string{"/bin/cat", "/hello"}, cfg.Config.Cmd)
	assert.Len(t, cfg.RootFS.DiffIDs, 1)

	// Nothing of skopeo's outside its temporary directory.
	_, err := os.Stat("/var/lib/containers/cache/blob-info-cache-v1.boltdb")
	assert.True(t, os.IsNotExist(err), "skopeo wrote root's blob-info cache: %v", err)
}

func x509VerifyOptions(ca *Authority, host string) x509.VerifyOptions {
	return x509.VerifyOptions{Roots: ca.Pool(), DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
}
