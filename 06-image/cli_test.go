package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rmi of an image a container was made from is refused with Docker's
// message, and the image stays; -f of the tag only untags.
func TestRmiRefusedWhileUsed(t *testing.T) {
	b := newBox(t)
	cid := b.ok("create", "--network", "none", "busybox", "true")
	id := b.ok("images", "-q", "busybox")
	r := b.run("rmi", "busybox")
	assert.Equal(t, 1, r.Code)
	// Docker quotes the reference as given ("busybox"); the store names it
	// in full (busybox:latest).
	assert.Contains(t, r.Stderr, `Error response from daemon: conflict: unable to remove repository reference "busybox`)
	assert.Contains(t, r.Stderr, `(must force) - container `+cid[:12]+` is using its referenced image `+id)
	assert.Equal(t, id, b.ok("images", "-q", "busybox"), "the image stays")
	r = b.run("rmi", id)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "conflict: unable to delete "+id+" (must be forced) - image is being used by stopped container "+cid[:12])
	b.ok("rm", cid)
	out := b.ok("rmi", "busybox")
	assert.Contains(t, out, "Untagged: busybox:latest")
	assert.Contains(t, out, "Deleted: sha256:"+id)
}

// --pull never: a missing image is Docker's error, nothing is pulled or
// made; a bad policy is refused before anything happens.
func TestRunPullNever(t *testing.T) {
	b := newBox(t)
	r := b.run("run", "--rm", "--pull", "never", "--network", "none", "nope:1", "true")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, "Error response from daemon: No such image: nope:1")
	assert.NotContains(t, r.Stderr, "Unable to find image")
	r = b.run("create", "--pull", "sometimes", "--network", "none", "busybox")
	assert.Equal(t, 125, r.Code)
	assert.Contains(t, r.Stderr, `invalid pull option: 'sometimes': must be one of "always", "missing" or "never"`)
	assert.Empty(t, b.ok("ps", "-aq"))
	// An image that is here runs under "never", as under the default.
	assert.Equal(t, "hi", b.ok("run", "--rm", "--pull", "never", "--network", "none", "busybox", "echo", "hi"))
}

// images hides the untagged parent of another image (an intermediate
// image) unless -a; --digests adds the column.
func TestImagesAllAndDigests(t *testing.T) {
	b := newBox(t)
	c1, c2 := "c1", "c2"
	b.ok("run", "--name", c1, "--network", "none", "busybox", "sh", "-c", "echo 1 > /one")
	mid := b.ok("commit", c1)
	b.ok("run", "--name", c2, "--network", "none", mid, "sh", "-c", "echo 2 > /two")
	b.ok("commit", c2, "top:1")
	b.ok("rm", c1, c2)
	short := strings.TrimPrefix(mid, "sha256:")[:12]
	plain := b.ok("images")
	assert.NotContains(t, plain, short, "the intermediate image is hidden")
	assert.Contains(t, plain, "top ")
	all := b.ok("images", "-a")
	assert.Contains(t, all, short)
	lines := strings.Split(b.ok("images", "--digests"), "\n")
	assert.Regexp(t, `^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$`, lines[0])
	assert.Len(t, lines, 3, "busybox and top")
	assert.Equal(t, "top:1 busybox:latest", strings.Join(strings.Fields(b.ok("images", "--format", "{{.Repository}}:{{.Tag}}")), " "))
	// rmi of the top deletes its untagged parent chain too, as Docker does.
	out := b.ok("rmi", "top:1")
	assert.Contains(t, out, "Untagged: top:1")
	assert.Contains(t, out, "Deleted: "+mid)
	assert.NotContains(t, b.ok("images", "-a"), short)
}

// system prune -a --volumes: stopped containers, their anonymous volumes
// and every unused image go; what a running container uses stays.
func TestSystemPruneAll(t *testing.T) {
	b := newBox(t)
	stopped := b.ok("create", "--network", "none", "-v", "/data", "busybox", "true")
	b.ok("start", "-a", stopped)
	b.ok("tag", "busybox", "other:1")
	out := b.ok("system", "prune", "-a", "--volumes", "-f")
	assert.Contains(t, out, "Deleted Containers:\n"+stopped)
	assert.Contains(t, out, "Deleted Volumes:")
	assert.Contains(t, out, "untagged: busybox:latest")
	assert.Contains(t, out, "untagged: other:1")
	assert.Contains(t, out, "Total reclaimed space:")
	assert.Empty(t, b.ok("ps", "-aq"))
	assert.Empty(t, b.ok("images", "-aq"))
	assert.Empty(t, b.ok("volume", "ls", "-q"))
}

// system df counts images and containers.
func TestSystemDF(t *testing.T) {
	b := newBox(t)
	// A two-step build: its first step is an intermediate image, which
	// TOTAL leaves out, as `images` does.
	r := b.runIn("FROM busybox\nENV A=1\nCMD [\"true\"]\n", "build", "-q", "-t", "df", "-")
	require.Equal(t, 0, r.Code, r.Stderr)
	b.ok("volume", "create", "spare")
	b.ok("create", "--network", "none", "-v", "data:/data", "busybox", "true")
	lines := strings.Split(b.ok("system", "df"), "\n")
	require.Len(t, lines, 5)
	assert.Regexp(t, `^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$`, lines[0])
	assert.Regexp(t, `^Images\s+2\s+1\s+\S+\s+0B \(0%\)$`, lines[1])
	assert.Regexp(t, `^Containers\s+1\s+0\s`, lines[2])
	assert.Regexp(t, `^Local Volumes\s+2\s+1\s`, lines[3])
	assert.Regexp(t, `^Build Cache\s+0\s+0\s+0B\s+0B$`, lines[4])
}

// save, rmi, load: the image comes back with its ID and tag and runs;
// inspect shows Docker's shape; tag and image rm through the image group.
func TestSaveLoadInspect(t *testing.T) {
	b := newBox(t)
	id := b.ok("images", "-q", "--no-trunc", "busybox")
	b.ok("image", "tag", "busybox", "saved:1")
	archive := t.TempDir() + "/saved.tar"
	b.ok("save", "-o", archive, "saved:1")
	r := b.run("save", "-o", t.TempDir()+"/x.tar", "nope:1")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "No such image: nope:1")
	out := b.ok("image", "rm", "saved:1", "busybox")
	assert.Contains(t, out, "Deleted: "+id)
	assert.Contains(t, b.ok("load", "-i", archive), "Loaded image: saved:1")
	assert.Equal(t, id, b.ok("images", "-q", "--no-trunc", "saved:1"))
	assert.Equal(t, "ok", b.ok("run", "--rm", "--network", "none", "saved:1", "echo", "ok"))

	assert.Equal(t, id, b.ok("image", "inspect", "-f", "{{.Id}}", "saved:1"))
	assert.Equal(t, "[saved:1]", b.ok("image", "inspect", "-f", "{{.RepoTags}}", "saved:1"))
	js := b.ok("image", "inspect", "saved:1")
	assert.True(t, strings.HasPrefix(js, "[\n    {"), js)
	assert.Contains(t, js, `"RootFS"`)
	r = b.run("image", "inspect", "nope")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "Error: No such image: nope")
	assert.Equal(t, "[]", strings.TrimSpace(r.Stdout))
	r = b.run("history", "nope")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "Error response from daemon: No such image: nope:latest")
}
