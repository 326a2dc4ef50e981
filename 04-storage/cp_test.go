package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCpBothWaysStaysInTheRoot(t *testing.T) {
	b := newBox(t)
	word, planted, secret := random("w"), random("planted-"), random("secret-")
	// A secret of the host's, which links in the container try to reach.
	hostSecret := filepath.Join(os.TempDir(), secret)
	require.NoError(t, os.WriteFile(hostSecret, []byte("host only"), 0o600))
	t.Cleanup(func() { os.Remove(hostSecret) })
	t.Cleanup(func() { os.Remove(filepath.Join(os.TempDir(), planted)) })

	id := b.ok("run", "-d", "busybox", "sh", "-c",
		"mkdir -p /data/sub && echo "+word+" > /data/sub/f && ln -s f /data/sub/l && ln -s / /escape && ln -s ../../../../../../../tmp /up && echo ready && exec sleep 1000")
	waitFor(t, "the files", func() bool { return b.ok("logs", id) == "ready" })

	host := t.TempDir()
	// Out: a tree, with its link as a link.
	b.ok("cp", id+":/data", host)
	got, err := os.ReadFile(filepath.Join(host, "data", "sub", "f"))
	require.NoError(t, err)
	assert.Equal(t, word+"\n", string(got))
	link, err := os.Readlink(filepath.Join(host, "data", "sub", "l"))
	require.NoError(t, err)
	assert.Equal(t, "f", link)

	// A link that climbs out of the root stays inside it: /up is the
	// container's /tmp, where the host's secret is not.
	r := b.run("cp", id+":/up/"+secret, filepath.Join(host, "stolen"))
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "Could not find the file")
	_, err = os.Stat(filepath.Join(host, "stolen"))
	assert.True(t, os.IsNotExist(err))

	// In: through /escape (a link to "/"), the file lands in the
	// container's /tmp, never in the host's.
	in := filepath.Join(host, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte(word), 0o640))
	b.ok("cp", in, id+":/escape/tmp/"+planted)
	_, err = os.Stat(filepath.Join(os.TempDir(), planted))
	assert.True(t, os.IsNotExist(err), "cp wrote through the link onto the host")
	b.ok("cp", id+":/tmp/"+planted, filepath.Join(host, "back"))
	got, err = os.ReadFile(filepath.Join(host, "back"))
	require.NoError(t, err)
	assert.Equal(t, word, string(got))

	// A directory into a directory; and from a stopped container.
	require.NoError(t, os.MkdirAll(filepath.Join(host, "tree", "d"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(host, "tree", "d", "x"), []byte("x"), 0o644))
	b.ok("cp", filepath.Join(host, "tree"), id+":/data")
	b.ok("stop", "-t", "0", id)
	b.ok("cp", id+":/data/tree/d/x", filepath.Join(host, "x"))
	got, err = os.ReadFile(filepath.Join(host, "x"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(got))
	r = b.run("cp", id+":/nope", host)
	assert.Equal(t, 1, r.Code)
	b.ok("rm", id)
}
