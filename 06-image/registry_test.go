package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

// credentials gives the box config files of its own: minibox's and an
// empty Docker one (the machine's ~/.docker is never read).
func (b *box) credentials() string {
	b.t.Helper()
	dir := b.t.TempDir()
	b.env = append(b.env, "MINIBOX_CONFIG="+dir, "DOCKER_CONFIG="+b.t.TempDir())
	return filepath.Join(dir, "config.json")
}

// The lesson's round trip: build, push to a registry, rmi, pull, run; and
// run of a missing image pulls it first, as Docker does.
func TestPushPullRun(t *testing.T) {
	b := newBox(t)
	b.credentials()
	reg := testkit.InProcRegistry(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n"})
	b.ok("build", "--network", "none", "-t", "app", ctx)
	name := reg + "/team/app:v1"
	b.ok("tag", "app", name)
	out := b.ok("push", name)
	assert.Contains(t, out, "The push refers to repository ["+reg+"/team/app]")
	m := regexp.MustCompile(`(?m)^v1: digest: (sha256:[0-9a-f]{64}) size: \d+$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	pushed := m[1]
	assert.Contains(t, b.ok("images", "--digests", reg+"/team/app"), pushed, "push records the repo digest")
	// A second push sends nothing new.
	assert.Contains(t, b.ok("push", name), "Layer already exists")

	b.ok("rmi", "app", name)
	assert.Empty(t, b.ok("images", "-q", name))
	out = b.ok("pull", name)
	assert.Contains(t, out, "v1: Pulling from team/app")
	assert.Contains(t, out, "Digest: "+pushed)
	assert.Contains(t, out, "Status: Downloaded newer image for "+name)
	assert.Contains(t, b.ok("images", "--digests"), pushed)
	assert.Equal(t, "built", b.ok("run", "--rm", "--network", "none", name))
	assert.Contains(t, b.ok("pull", name), "Status: Image is up to date for "+name)

	// build --pull asks the registry although the base is here; without it
	// a present base is not looked up.
	from := writeContext(t, map[string]string{"Dockerfile": "FROM " + name + "\nCMD [\"cat\", \"/built\"]\n"})
	out = b.ok("build", "--pull", "--network", "none", "-t", "child", from)
	assert.Contains(t, out, "v1: Pulling from team/app")
	assert.Contains(t, out, "Status: Image is up to date for "+name)
	assert.NotContains(t, b.ok("build", "--network", "none", "-t", "child", from), "Pulling from")
	b.ok("rmi", "child")

	// run pulls what is not here.
	b.ok("rmi", name)
	r := b.run("run", "--rm", "--network", "none", name)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "built\n", r.Stdout)
	assert.Contains(t, r.Stderr, "Unable to find image '"+name+"' locally")
	assert.Contains(t, r.Stderr, "Status: Downloaded newer image for "+name)
	// --pull always pulls even so; -q keeps it quiet.
	r = b.run("run", "--rm", "--pull", "always", "-q", "--network", "none", name)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "built\n", r.Stdout)
	assert.NotContains(t, r.Stderr, "Status:")

	// What is in neither place.
	r = b.run("run", "--rm", "--network", "none", reg+"/team/nope:1")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "Unable to find image '"+reg+"/team/nope:1' locally")
	assert.Contains(t, r.Stderr, "Error response from daemon: ")
	r = b.run("push", reg+"/team/nope:1")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "An image does not exist locally with the tag: "+reg+"/team/nope")
	assert.Empty(t, b.ok("ps", "-aq"))
}

// login against a registry with htpasswd: a wrong password is Docker's
// error and stores nothing; the right one is kept in Docker's format, and
// push works with it; logout removes it.
func TestLoginPush(t *testing.T) {
	b := newBox(t)
	path := b.credentials()
	reg := testkit.Registry(t, testkit.RegistryOptions{Users: map[string]string{"alice": "s3cret"}})
	name := reg.Host + "/alice/bb:1"
	b.ok("tag", "busybox", name)

	r := b.run("push", name)
	assert.Equal(t, 1, r.Code, "anonymous push: %s", r.Stdout)
	r = b.run("login", "-u", "alice", "-p", "wrong", reg.Host)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	assert.Contains(t, r.Stderr, "unauthorized: incorrect username or password")
	assert.NoFileExists(t, path)

	r = b.runIn("s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Host)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "Login Succeeded")
	assert.NotContains(t, r.Stderr, "insecure")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &cfg))
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), cfg.Auths[reg.Host].Auth)

	out := b.ok("push", name)
	assert.Contains(t, out, "1: digest: sha256:")
	b.ok("rmi", name)
	b.ok("pull", name)

	assert.Equal(t, "Removing login credentials for "+reg.Host, b.ok("logout", reg.Host))
	assert.Equal(t, "Not logged in to "+reg.Host, b.ok("logout", reg.Host))
	b.ok("rmi", name)
	r = b.run("pull", name)
	assert.Equal(t, 1, r.Code, "logged out: %s", r.Stdout)
	assert.True(t, strings.Contains(r.Stderr, "unauthorized") || strings.Contains(r.Stderr, "authentication required"), r.Stderr)

	// Flag errors change nothing.
	r = b.runIn("x", "login", "--password-stdin", reg.Host)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "Must provide --username with --password-stdin")
	r = b.run("login", "-u", "alice", reg.Host)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "Cannot perform an interactive login from a non TTY device")
}
