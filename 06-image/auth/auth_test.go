package auth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/06-image/registry"
)

// dockerFile is a config.json as Docker 20.10 writes it, with keys minibox
// does not use.
const dockerFile = `{
	"auths": {
		"https://index.docker.io/v1/": {
			"auth": "c3R1ZGVudDpodWItcGFzcw=="
		},
		"localhost:5000": {
			"auth": "YWRtaW46cGE6c3M=",
			"email": "old@example.com"
		}
	},
	"HttpHeaders": {
		"User-Agent": "Docker-Client/20.10.24 (linux)"
	},
	"credsStore": "desktop",
	"experimental": "enabled"
}`

func TestReadDockerFile(t *testing.T) {
	dir := t.TempDir()
	docker := filepath.Join(dir, "docker", "config.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(docker), 0o700))
	require.NoError(t, os.WriteFile(docker, []byte(dockerFile), 0o600))
	own := filepath.Join(dir, "minibox", "config.json")

	f, err := Load(own, docker)
	require.NoError(t, err)
	for _, server := range []string{"", "docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"} {
		a, ok := f.Get(server)
		require.True(t, ok, server)
		assert.Equal(t, registry.Auth{Username: "student", Password: "hub-pass"}, a, server)
	}
	a, ok := f.Get("https://localhost:5000/v2/")
	require.True(t, ok)
	assert.Equal(t, registry.Auth{Username: "admin", Password: "pa:ss"}, a, "split at the first colon")
	_, ok = f.Get("localhost:5001")
	assert.False(t, ok)

	// Docker's file is read only: a login goes to minibox's own file.
	f.Set("localhost:5001", registry.Auth{Username: "u", Password: "p"})
	assert.False(t, f.Delete("docker.io"), "an entry of Docker's file is not ours to delete")
	require.NoError(t, f.Save(own))
	after, err := os.ReadFile(docker)
	require.NoError(t, err)
	assert.Equal(t, dockerFile, string(after))
	st, err := os.Stat(own)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	g, err := Load(own)
	require.NoError(t, err)
	a, ok = g.Get("localhost:5001")
	require.True(t, ok)
	assert.Equal(t, registry.Auth{Username: "u", Password: "p"}, a)
	_, ok = g.Get("docker.io")
	assert.False(t, ok, "Docker's entries were not copied into ours")
}

func TestRoundTripKeepsUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(path, []byte(dockerFile), 0o600))
	f, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, "desktop", f.CredsStore)

	f.Set("docker.io", registry.Auth{Username: "student", Password: "new"})
	f.Set("reg.example.com", registry.Auth{Username: "x", IdentityToken: "tok"})
	assert.True(t, f.Delete("https://localhost:5000"))
	assert.False(t, f.Delete("localhost:5000"))
	require.NoError(t, f.Save(path))

	var got map[string]any
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, map[string]any{"User-Agent": "Docker-Client/20.10.24 (linux)"}, got["HttpHeaders"])
	assert.Equal(t, "enabled", got["experimental"])
	assert.Equal(t, "desktop", got["credsStore"])
	assert.Equal(t, map[string]any{
		"https://index.docker.io/v1/": map[string]any{"auth": "c3R1ZGVudDpuZXc="}, // base64("student:new")
		"reg.example.com":             map[string]any{"auth": "eDo=", "identitytoken": "tok"},
	}, got["auths"])

	g, err := Load(path)
	require.NoError(t, err)
	a, ok := g.Get("reg.example.com")
	require.True(t, ok)
	assert.Equal(t, registry.Auth{Username: "x", IdentityToken: "tok"}, a)

	// An entry's unknown keys survive too.
	require.NoError(t, os.WriteFile(path, []byte(dockerFile), 0o600))
	f, err = Load(path)
	require.NoError(t, err)
	require.NoError(t, f.Save(path))
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"email": "old@example.com"`)
}

func TestLoadMissingAndBad(t *testing.T) {
	dir := t.TempDir()
	f, err := Load(filepath.Join(dir, "none.json"))
	require.NoError(t, err)
	_, ok := f.Get("docker.io")
	assert.False(t, ok)
	assert.Equal(t, filepath.Join(dir, "none.json"), f.Path())

	for name, body := range map[string]string{
		"not json":   `{"auths":`,
		"bad base64": `{"auths":{"x":{"auth":"%%%"}}}`,
		"no colon":   `{"auths":{"x":{"auth":"bm9jb2xvbg=="}}}`,
		"auths list": `{"auths":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.json")
			require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
			_, err := Load(p)
			assert.ErrorContains(t, err, p)
		})
	}
}

func TestDefaultPaths(t *testing.T) {
	t.Setenv("MINIBOX_CONFIG", "/m")
	t.Setenv("DOCKER_CONFIG", "/d")
	assert.Equal(t, []string{"/m/config.json", "/d/config.json"}, DefaultPaths())
	t.Setenv("MINIBOX_CONFIG", "")
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv("HOME", "/home/s")
	assert.Equal(t, []string{"/home/s/.minibox/config.json", "/home/s/.docker/config.json"}, DefaultPaths())
}

// FuzzParse: Parse never panics, and a file it accepts saves and parses
// back to the same credentials.
func FuzzParse(f *testing.F) {
	f.Add([]byte(dockerFile))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"auths":{"a":{"auth":"YTpi","identitytoken":"t"}}}`))
	f.Add([]byte(`{"auths":null,"credsStore":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		b2, err := g.marshal()
		if err != nil {
			t.Fatalf("save of a parsed file: %v", err)
		}
		h, err := Parse(b2)
		if err != nil {
			t.Fatalf("a saved file does not parse: %v\n%s", err, b2)
		}
		for k := range g.Auths {
			a1, ok1 := g.Get(k)
			a2, ok2 := h.Get(k)
			if ok1 != ok2 || a1 != a2 {
				t.Fatalf("%q: %v %v, after a round trip %v %v", k, a1, ok1, a2, ok2)
			}
		}
	})
}
