package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

// tree lists every path under root with its size, for "changes nothing".
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size := ""
		if fi.Mode().IsRegular() {
			size = " " + itoa(int(fi.Size()))
		}
		out = append(out, strings.TrimPrefix(p, root)+size)
		return nil
	}))
	sort.Strings(out)
	return out
}

// A data root on a read-only mount: run says so, and what to do, with
// status 125.
func TestRunOnReadOnlyDataRoot(t *testing.T) {
	b := newBox(t)
	b.ok("ps", "-a") // the first command makes the roots' files
	ro := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.Mkdir(ro, 0o700))
	require.NoError(t, unix.Mount(b.data, ro, "", unix.MS_BIND, ""))
	t.Cleanup(func() { require.NoError(t, unix.Unmount(ro, 0)) })
	require.NoError(t, unix.Mount("", ro, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""))
	before := tree(t, b.data)

	for _, args := range [][]string{{"run", "--rm", "busybox", "true"}, {"run", "-d", "busybox", "sleep", "100"}, {"create", "busybox"}} {
		r := testkit.Program(t, "", append([]string{"--data-root", ro, "--exec-root", b.exec}, args...)...)
		assert.Equal(t, 125, r.Code, "%v: %s", args, r.Stderr)
		assert.Contains(t, r.Stderr, "the data root "+ro+" is read-only: remount it read-write or use --data-root with a writable directory", args)
		assert.Empty(t, r.Stdout)
	}
	assert.Equal(t, before, tree(t, b.data), "a failed run changes nothing")
}

// A full data root (a small tmpfs, filled up): run says so, and what to
// do, with status 125; it leaves nothing; with space again it works.
func TestRunOnFullDataRoot(t *testing.T) {
	b := newBox(t)
	dir := filepath.Join(t.TempDir(), "full")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=32m,mode=0700"))
	t.Cleanup(func() { require.NoError(t, unix.Unmount(dir, unix.MNT_DETACH)) })
	full := &box{t: t, data: dir, exec: b.exec}
	full.importImages()
	full.ok("ps", "-a")

	// Fill it: write until the file system says ENOSPC.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	chunk := make([]byte, 1<<16)
	for {
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	require.True(t, errors.Is(err, unix.ENOSPC), "filling the tmpfs: %v", err)
	require.NoError(t, f.Close())
	before := tree(t, dir)

	for _, args := range [][]string{{"run", "--rm", "-v", "/data", "--name", "full1", "busybox", "true"}, {"run", "-d", "busybox", "sleep", "100"}} {
		r := full.run(args...)
		assert.Equal(t, 125, r.Code, "%v: %s", args, r.Stderr)
		assert.Contains(t, r.Stderr, "no space left on device under "+dir+": free some space (minibox rm, rmi, volume prune) or use --data-root on a larger file system", args)
		assert.Empty(t, r.Stdout)
	}
	assert.Equal(t, before, tree(t, dir), "a failed run changes nothing")
	assert.Empty(t, full.ok("ps", "-aq"))

	// With space again, the same run works: the message was right.
	require.NoError(t, os.Remove(filler))
	r := full.run("run", "--rm", "-v", "/data", "--name", "full1", "busybox", "echo", "fits")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "fits\n", r.Stdout)
	assert.Empty(t, full.ok("ps", "-aq"))
	full.ok("volume", "prune", "-f")
}
