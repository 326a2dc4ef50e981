package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/storage"
	"minibox/internal/testkit"
)

// Interop: what minibox writes, the reference tools read, and the other
// way round. Each test runs the program as a user runs it.

// tlsRegistry is a docker-registry with TLS from a test CA and one user;
// the box trusts the CA through its certs.d (MINIBOX_CERTS_DIR) and is
// logged in.
func tlsRegistry(t *testing.T, b *box) (*testkit.Reg, string) {
	t.Helper()
	ca := testkit.CA(t)
	reg := testkit.Registry(t, testkit.RegistryOptions{TLS: ca, Users: map[string]string{"alice": "s3cret"}})
	certs := ca.CertsDir(t, reg.Host)
	b.credentials()
	b.env = append(b.env, "MINIBOX_CERTS_DIR="+certs)
	r := b.runIn("s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Host)
	require.Equal(t, 0, r.Code, r.Stderr)
	return reg, filepath.Join(certs, reg.Host)
}

type skopeoImage struct {
	Digest string
	Layers []string
}

// minibox push → skopeo inspect sees our digest and layers, and skopeo copy
// to an OCI layout gets a valid one.
func TestInteropPushSkopeo(t *testing.T) {
	b := newBox(t)
	reg, certDir := tlsRegistry(t, b)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo interop > /msg\nCMD [\"cat\", \"/msg\"]\n"})
	b.ok("build", "--network", "none", "-t", "app", ctx)
	name := reg.Host + "/alice/app:v1"
	b.ok("tag", "app", name)
	out := b.ok("push", name)
	m := regexp.MustCompile(`(?m)^v1: digest: (sha256:[0-9a-f]{64}) size: \d+$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)

	var ours struct {
		RootFS struct{ Layers []string } `json:"RootFS"`
	}
	var arr []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(b.ok("image", "inspect", name)), &arr))
	require.Len(t, arr, 1)
	require.NoError(t, json.Unmarshal(arr[0], &ours))

	r := testkit.Skopeo(t, "inspect", "--cert-dir", certDir, "--creds", "alice:s3cret", "docker://"+name)
	require.Equal(t, 0, r.Code, r.Stderr)
	var si skopeoImage
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &si))
	assert.Equal(t, m[1], si.Digest)
	// The registry's layers are the gzip blobs push made; their count is
	// the image's, and raw manifest names the same.
	assert.Len(t, si.Layers, len(ours.RootFS.Layers))
	r = testkit.Skopeo(t, "inspect", "--raw", "--cert-dir", certDir, "--creds", "alice:s3cret", "docker://"+name)
	require.Equal(t, 0, r.Code, r.Stderr)
	sum := sha256.Sum256([]byte(r.Stdout))
	assert.Equal(t, m[1], "sha256:"+hex.EncodeToString(sum[:]), "the raw manifest is what push's digest names")
	var man struct {
		Layers []struct{ Digest string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &man))
	var digests []string
	for _, l := range man.Layers {
		digests = append(digests, l.Digest)
	}
	assert.Equal(t, digests, si.Layers)

	dir := filepath.Join(t.TempDir(), "oci")
	r = testkit.Skopeo(t, "copy", "-q", "--src-cert-dir", certDir, "--src-creds", "alice:s3cret", "docker://"+name, "oci:"+dir+":v1")
	require.Equal(t, 0, r.Code, r.Stderr)
	assertOCILayout(t, dir, len(digests))
}

// assertOCILayout: oci-layout, an index naming a manifest, and every blob's
// name its sha256.
func assertOCILayout(t *testing.T, dir string, layers int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"imageLayoutVersion":"1.0.0"}`, string(data))
	var index struct {
		Manifests []struct{ Digest string }
	}
	data, err = os.ReadFile(filepath.Join(dir, "index.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &index))
	require.Len(t, index.Manifests, 1)
	blobs, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	require.NoError(t, err)
	assert.Len(t, blobs, layers+2, "manifest, config and layers")
	for _, e := range blobs {
		data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", e.Name()))
		require.NoError(t, err)
		sum := sha256.Sum256(data)
		assert.Equal(t, e.Name(), hex.EncodeToString(sum[:]))
	}
	data, err = os.ReadFile(filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(index.Manifests[0].Digest, "sha256:")))
	require.NoError(t, err)
	var man struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	require.NoError(t, json.Unmarshal(data, &man))
	assert.Len(t, man.Layers, layers)
}

// writeOCI makes an OCI layout of busybox plus a file /msg saying msg, tag
// "t", its CMD cat /msg.
func writeOCI(t *testing.T, msg string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755))
	put := func(data []byte) (string, int) {
		sum := sha256.Sum256(data)
		d := hex.EncodeToString(sum[:])
		require.NoError(t, os.WriteFile(filepath.Join(dir, "blobs", "sha256", d), data, 0o644))
		return "sha256:" + d, len(data)
	}
	root := testkit.BusyboxRootfs(t)
	var tarBuf bytes.Buffer
	_, err := storage.WriteTar(&tarBuf, root)
	require.NoError(t, err)
	diff := sha256.Sum256(tarBuf.Bytes())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err = zw.Write(tarBuf.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	ld, ls := put(gz.Bytes())

	// A second layer: /msg.
	msgDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(msgDir, "msg"), []byte(msg+"\n"), 0o644))
	var t2 bytes.Buffer
	_, err = storage.WriteTar(&t2, msgDir)
	require.NoError(t, err)
	diff2 := sha256.Sum256(t2.Bytes())
	var gz2 bytes.Buffer
	zw = gzip.NewWriter(&gz2)
	_, err = zw.Write(t2.Bytes())
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	ld2, ls2 := put(gz2.Bytes())

	cfg := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["cat","/msg"]},"rootfs":{"type":"layers","diff_ids":["sha256:%x","sha256:%x"]}}`, diff, diff2)
	cd, cs := put([]byte(cfg))
	man := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`, cd, cs, ld, ls, ld2, ls2)
	md, ms := put([]byte(man))
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"t"}}]}`, md, ms)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.json"), []byte(index), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	return dir
}

// skopeo copy of an OCI layout into the registry → minibox pull → run.
func TestInteropSkopeoPull(t *testing.T) {
	b := newBox(t)
	reg, certDir := tlsRegistry(t, b)
	dir := writeOCI(t, "from skopeo")
	name := reg.Host + "/alice/sk:1"
	r := testkit.Skopeo(t, "copy", "-q", "--dest-cert-dir", certDir, "--dest-creds", "alice:s3cret", "oci:"+dir+":t", "docker://"+name)
	require.Equal(t, 0, r.Code, r.Stderr)
	out := b.ok("pull", name)
	assert.Contains(t, out, "Status: Downloaded newer image for "+name)
	assert.Equal(t, "from skopeo", b.ok("run", "--rm", "--network", "none", name))
	assert.Empty(t, b.ok("ps", "-aq"))
}

// minibox save → docker load → docker run.
func TestInteropSaveDockerLoad(t *testing.T) {
	b := newBox(t)
	d := testkit.Dockerd(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo saved > /msg\nCMD [\"cat\", \"/msg\"]\n"})
	b.ok("build", "--network", "none", "-t", "mbsaved:1", ctx)
	file := filepath.Join(t.TempDir(), "img.tar")
	b.ok("save", "-o", file, "mbsaved:1")
	r := d.CLI(t, "load", "-i", file)
	require.Equal(t, 0, r.Code, "docker load: %s %s", r.Stdout, r.Stderr)
	assert.Contains(t, r.Stdout, "Loaded image: mbsaved:1")
	t.Cleanup(func() { d.CLI(t, "rmi", "-f", "mbsaved:1") })
	r = d.CLI(t, "run", "--rm", "--network", "none", "mbsaved:1")
	require.Equal(t, 0, r.Code, "docker run: %s", r.Stderr)
	assert.Equal(t, "saved\n", r.Stdout)

	// Gzip layers (as pulled or loaded ones are kept) under blobs/sha256,
	// named by manifest.json: Docker 20.10's loader takes them too.
	oci := filepath.Join(t.TempDir(), "oci.tar")
	tarDir(t, writeOCI(t, "gzipped"), oci)
	out := b.ok("load", "-i", oci)
	id := strings.TrimPrefix(out, "Loaded image ID: ")
	require.NotEqual(t, out, id, out)
	b.ok("tag", id, "mbgz:1")
	file = filepath.Join(t.TempDir(), "gz.tar")
	b.ok("save", "-o", file, "mbgz:1")
	assert.True(t, archiveHasGzipLayer(t, file), "the saved archive's layers are gzip")
	r = d.CLI(t, "load", "-i", file)
	require.Equal(t, 0, r.Code, "docker load: %s %s", r.Stdout, r.Stderr)
	t.Cleanup(func() { d.CLI(t, "rmi", "-f", "mbgz:1") })
	r = d.CLI(t, "run", "--rm", "--network", "none", "mbgz:1")
	require.Equal(t, 0, r.Code, "docker run: %s", r.Stderr)
	assert.Equal(t, "gzipped\n", r.Stdout)
}

// tarDir writes dir's files as a tar archive to file.
func tarDir(t *testing.T, dir, file string) {
	t.Helper()
	r := testkit.RunCommand(t, exec.Command("tar", "-C", dir, "-cf", file, "."))
	require.Equal(t, 0, r.Code, r.Stderr)
}

// archiveHasGzipLayer: a layer named by the archive's manifest.json starts
// with gzip's magic.
func archiveHasGzipLayer(t *testing.T, file string) bool {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	entries := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		head := make([]byte, 2)
		n, _ := io.ReadFull(tr, head)
		if h.Name == "manifest.json" {
			rest, err := io.ReadAll(tr)
			require.NoError(t, err)
			head = append(head[:n], rest...)
			n = len(head)
		}
		entries[h.Name] = head[:n]
	}
	var man []struct{ Layers []string }
	require.NoError(t, json.Unmarshal(entries["manifest.json"], &man))
	require.Len(t, man, 1)
	for _, l := range man[0].Layers {
		require.Contains(t, entries, l)
		if bytes.HasPrefix(entries[l], []byte{0x1f, 0x8b}) {
			return true
		}
	}
	return false
}

// docker save (20.10's legacy format) → minibox load → run.
func TestInteropDockerSaveLoad(t *testing.T) {
	b := newBox(t)
	d := testkit.Dockerd(t)
	var layer bytes.Buffer
	_, err := storage.WriteTar(&layer, testkit.BusyboxRootfs(t))
	require.NoError(t, err)
	cmd := d.Command("import", "-c", `CMD ["echo", "from docker"]`, "-", "dkimg:1")
	cmd.Stdin = &layer
	r := testkit.RunCommand(t, cmd)
	require.Equal(t, 0, r.Code, "docker import: %s", r.Stderr)
	t.Cleanup(func() { d.CLI(t, "rmi", "-f", "dkimg:1") })
	file := filepath.Join(t.TempDir(), "img.tar")
	r = d.CLI(t, "save", "-o", file, "dkimg:1")
	require.Equal(t, 0, r.Code, "docker save: %s", r.Stderr)
	out := b.ok("load", "-i", file)
	assert.Contains(t, out, "Loaded image: dkimg:1")
	assert.Equal(t, "from docker", b.ok("run", "--rm", "--network", "none", "dkimg:1"))
	assert.Empty(t, b.ok("ps", "-aq"))
}
