package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/storage"
	"minibox/internal/testkit"
)

// The round trip of lesson 04: import a tar, run a container that adds,
// changes and deletes files, see them in diff, commit, and run the new
// image: the changes are there, the deleted file is gone (a whiteout), and
// the image it came from is untouched. export flattens it all back to a tar.
func TestImportCommitRoundTrip(t *testing.T) {
	b := newBox(t)
	var layer bytes.Buffer
	_, err := storage.WriteTar(&layer, testkit.BusyboxRootfs(t))
	require.NoError(t, err)
	tarPath := filepath.Join(t.TempDir(), "rootfs.tar")
	require.NoError(t, os.WriteFile(tarPath, layer.Bytes(), 0o644))
	repo := random("mine")
	id := b.ok("import", "-c", "ENV PATH=/bin", "-c", `CMD ["sh"]`, tarPath, repo+":v1")
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, id)
	assert.Contains(t, strings.Fields(b.ok("images", "-q")), id[7:19])
	assert.Regexp(t, `(?m)^`+repo+`\s+v1\s+`+id[7:19]+`\s`, b.ok("images"))

	word := random("w")
	ctr := b.ok("run", "-d", repo+":v1", "sh", "-c", "echo "+word+" >/added && echo changed >>/etc/passwd && rm /etc/group")
	require.Equal(t, "0", b.ok("wait", ctr))
	diff := strings.Split(b.ok("diff", ctr), "\n")
	assert.Contains(t, diff, "A /added")
	assert.Contains(t, diff, "C /etc/passwd")
	assert.Contains(t, diff, "D /etc/group")

	newID := b.ok("commit", ctr, repo+":v2")
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, newID)
	assert.NotEqual(t, id, newID)
	r := b.run("run", "--rm", repo+":v2", "sh", "-c", "cat /added; tail -n1 /etc/passwd; if test -e /etc/group; then echo group; fi")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, word+"\nchanged\n", r.Stdout)
	// The old image has none of it.
	r = b.run("run", "--rm", repo+":v1", "sh", "-c", "test -e /added || echo none; if test -e /etc/group; then echo group; fi")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "none\ngroup\n", r.Stdout)

	// export: one flat tar with the change and without the deleted file.
	out := filepath.Join(t.TempDir(), "c.tar")
	b.ok("export", "-o", out, ctr)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	names := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		data, _ := io.ReadAll(tr)
		names[h.Name] = string(data)
	}
	assert.Equal(t, word+"\n", names["added"])
	assert.Contains(t, names, "bin/busybox")
	assert.NotContains(t, names, "etc/group")

	// tag and rmi: an image in use by a container cannot go; untagging can.
	b.ok("tag", repo+":v2", repo+":v3")
	assert.Contains(t, b.ok("images"), "v3")
	b.ok("rmi", repo+":v3")
	assert.NotContains(t, b.ok("images"), "v3")
	r = b.run("rmi", repo+":v1")
	assert.Equal(t, 1, r.Code, "v1 is the image of a container: %s", r.Stdout)
	b.ok("rm", ctr)
	b.ok("rmi", repo+":v1")
	assert.NotContains(t, strings.Fields(b.ok("images", "-q")), id[7:19])
}

// A named volume outlives its container (rm -v removes anonymous volumes
// only); --mount and --volumes-from reach the same data.
func TestNamedVolumeSurvivesRm(t *testing.T) {
	b := newBox(t)
	vol, word := random("vol"), random("w")
	b.ok("run", "--name", "writer", "-v", vol+":/data", "busybox", "sh", "-c", "echo "+word+" >/data/f")
	b.ok("rm", "-v", "writer")
	r := b.run("run", "--rm", "--mount", "type=volume,source="+vol+",target=/srv,readonly", "busybox", "sh", "-c", "cat /srv/f; touch /srv/x || echo ro")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, word+"\nro\n", r.Stdout)
	holder := b.ok("create", "-v", vol+":/data", "busybox", "true")
	r = b.run("run", "--rm", "--volumes-from", holder, "busybox", "cat", "/data/f")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, word+"\n", r.Stdout)
	_, err := os.Stat(filepath.Join(b.data, "volumes", vol, "_data", "f"))
	assert.NoError(t, err, "the volume's data is under DATA/volumes")

	// volume ls/inspect/rm/prune: in use, the volume cannot go.
	assert.Contains(t, strings.Fields(b.ok("volume", "ls", "-q")), vol)
	assert.Contains(t, b.ok("volume", "inspect", vol), `"Mountpoint": "`+filepath.Join(b.data, "volumes", vol, "_data")+`"`)
	assert.Equal(t, vol+" "+filepath.Join(b.data, "volumes", vol, "_data"), b.ok("volume", "inspect", "--format", "{{.Name}} {{.Mountpoint}}", vol))
	r = b.run("volume", "rm", vol)
	assert.Equal(t, 1, r.Code, "a container uses it: %s", r.Stdout)
	b.ok("rm", holder)
	other := b.ok("volume", "create", random("v"))
	assert.Contains(t, b.ok("volume", "prune", "-a", "-f"), other)
	assert.NotContains(t, strings.Fields(b.ok("volume", "ls", "-q")), vol)
}

// --storage-driver picks the snapshotter of new containers: vfs copies the
// image's layers into a plain directory instead of an overlay mount; a
// container keeps the driver it was made with.
func TestStorageDriverVfs(t *testing.T) {
	b := newBox(t)
	word := random("w")
	id := b.ok("--storage-driver", "vfs", "run", "-d", "busybox", "sh", "-c", "echo "+word+" >/f; exec sleep 1000")
	assert.Equal(t, "vfs", b.ok("inspect", "-f", "{{.GraphDriver.Name}}", id))
	waitFor(t, "the file", func() bool { return b.run("exec", id, "cat", "/f").Stdout == word+"\n" })
	assert.Contains(t, strings.Split(b.ok("diff", id), "\n"), "A /f")
	// ps -s on vfs: the RW size is that of the changed files (as Docker's
	// vfs), not 0B; the virtual size is the whole copy (busybox: MBs).
	b.ok("exec", id, "dd", "if=/dev/zero", "of=/big", "bs=1000", "count=100")
	assert.Regexp(t, `^100kB \(virtual [0-9.]+MB\)$`, b.ok("ps", "-s", "--format", "{{.Size}}"))
	b.ok("rm", "-f", id)
	other := b.ok("run", "-d", "busybox", "sleep", "1000")
	assert.Equal(t, "overlay", b.ok("inspect", "-f", "{{.GraphDriver.Name}}", other))
	b.ok("rm", "-f", other)
}

// images -f (Docker's dangling, reference and label filters) and -a, then
// system prune: dangling images go by default, every unused image with -a,
// and anonymous volumes with --volumes, each under Docker's heading.
func TestImagesFilterAndSystemPrune(t *testing.T) {
	b := newBox(t)
	repoA, repoB := random("a"), random("b")
	ctr := b.ok("run", "-d", "-v", "/data", "busybox", "sh", "-c", "echo x >/f")
	require.Equal(t, "0", b.ok("wait", ctr))
	vol := b.ok("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", ctr)
	require.Regexp(t, `^[0-9a-f]{64}$`, vol)
	a := b.ok("commit", "-c", "LABEL team=blue", ctr, repoA+":v1")
	first := b.ok("commit", ctr, repoB+":v1")
	second := b.ok("commit", "-c", "LABEL team=red", ctr, repoB+":v1") // first is dangling now
	require.NotEqual(t, first, second)

	ids := func(args ...string) []string {
		return strings.Fields(b.ok(append([]string{"images", "-q"}, args...)...))
	}
	assert.Equal(t, []string{first[7:19]}, ids("-f", "dangling=true"))
	assert.NotContains(t, ids("-f", "dangling=false"), first[7:19])
	assert.Equal(t, []string{a[7:19]}, ids("-f", "reference="+repoA))
	assert.Equal(t, []string{second[7:19]}, ids("-f", "reference="+repoB[:3]+"*:v1", "-f", "label=team"))
	assert.Equal(t, []string{a[7:19]}, ids("-f", "label=team=blue"))
	assert.Empty(t, ids("-f", "reference=nothing*"))
	assert.Len(t, ids("-a"), 5, "busybox, busybox-usr1, a, b and the dangling one")
	r := b.run("images", "-f", "colour=red")
	assert.NotEqual(t, 0, r.Code)
	assert.Contains(t, r.Stderr, "invalid filter 'colour'")

	// The container uses the images it was made from: only the dangling
	// image goes, and the volume stays without --volumes.
	b.ok("rm", ctr) // without -v: the anonymous volume stays
	out := b.ok("system", "prune", "-f")
	assert.Regexp(t, `^Deleted Images:\ndeleted: `+first+`\n\nTotal reclaimed space: [0-9.]+[kM]?B$`, out)
	assert.Contains(t, strings.Fields(b.ok("volume", "ls", "-q")), vol)

	out = b.ok("system", "prune", "-f", "-a", "--volumes")
	assert.Contains(t, out, "Deleted Volumes:\n"+vol+"\n\n")
	assert.Contains(t, out, "Deleted Images:\n")
	for _, l := range []string{"untagged: busybox:latest", "untagged: " + repoA + ":v1", "deleted: " + a, "deleted: " + second} {
		assert.Contains(t, strings.Split(out, "\n"), l)
	}
	assert.Regexp(t, `\nTotal reclaimed space: [0-9.]+[kM]B$`, out)
	assert.Empty(t, ids("-a"))
	assert.NotContains(t, strings.Fields(b.ok("volume", "ls", "-q")), vol)
}
