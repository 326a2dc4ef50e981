package storage

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

func lstat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(p, &st), p)
	return st
}

func xattr(p, name string) string {
	v, err := getXattr(p, name)
	if err != nil {
		return ""
	}
	return v
}

func TestExtractEntryTypes(t *testing.T) {
	testkit.Root(t)
	su := file("bin/su", "#!su")
	su.hdr.Mode, su.hdr.Uid, su.hdr.Gid = 0o4755, 1000, 1001
	su.hdr.PAXRecords = map[string]string{"SCHILY.xattr.trusted.minibox-test": "hello"}
	ro := dir("ro/")
	ro.hdr.Mode = 0o555
	layer := tarOf(t,
		dir("bin/"), su,
		symlink("bin/sh", "busybox"),
		hardlink("bin/su2", "bin/su"),
		ro, file("ro/f", "inside a read-only dir"),
		device("dev/null", tar.TypeChar, 1, 3),
		device("run/fifo", tar.TypeFifo, 0, 0),
		file("etc/.wh.motd", ""),
		dir("var/"), file("var/.wh..wh..opq", ""), file("var/new", "n"),
		file(".wh..wh.plnk", ""), // AUFS bookkeeping: skipped
		file("x", "a file first"), dir("x/"), file("x/y", "then a dir"),
	)
	out := t.TempDir()
	d, err := Extract(bytes.NewReader(layer), out)
	require.NoError(t, err)
	assert.Equal(t, "sha256", string(d.Algorithm()))

	st := lstat(t, filepath.Join(out, "bin/su"))
	assert.Equal(t, uint32(unix.S_IFREG|0o4755), st.Mode, "mode with set-user-ID survives chown")
	assert.Equal(t, [2]uint32{1000, 1001}, [2]uint32{st.Uid, st.Gid})
	assert.Equal(t, testTime.Unix(), st.Mtim.Sec)
	assert.Equal(t, "hello", xattr(filepath.Join(out, "bin/su"), "trusted.minibox-test"))
	su2 := lstat(t, filepath.Join(out, "bin/su2"))
	assert.Equal(t, st.Ino, su2.Ino, "a hard link shares the inode")

	target, err := os.Readlink(filepath.Join(out, "bin/sh"))
	require.NoError(t, err)
	assert.Equal(t, "busybox", target)
	assert.Equal(t, testTime.Unix(), lstat(t, filepath.Join(out, "bin/sh")).Mtim.Sec, "a link's own mtime")

	rost := lstat(t, filepath.Join(out, "ro"))
	assert.Equal(t, uint32(unix.S_IFDIR|0o555), rost.Mode)
	assert.Equal(t, testTime.Unix(), rost.Mtim.Sec, "a directory's mtime is set after its children")
	assert.FileExists(t, filepath.Join(out, "ro/f"))

	null := lstat(t, filepath.Join(out, "dev/null"))
	assert.Equal(t, uint32(unix.S_IFCHR), null.Mode&unix.S_IFMT)
	assert.Equal(t, unix.Mkdev(1, 3), null.Rdev)
	assert.Equal(t, uint32(unix.S_IFIFO), lstat(t, filepath.Join(out, "run/fifo")).Mode&unix.S_IFMT)

	motd := lstat(t, filepath.Join(out, "etc/motd"))
	assert.True(t, isWhiteoutDevice(&motd), ".wh.motd becomes overlay's 0/0 character device")
	assert.NoFileExists(t, filepath.Join(out, "etc/.wh.motd"))
	assert.Equal(t, "y", xattr(filepath.Join(out, "var"), OverlayOpaqueXattr), ".wh..wh..opq becomes the opaque xattr")
	assert.NoFileExists(t, filepath.Join(out, "var/.wh..wh..opq"))
	assert.FileExists(t, filepath.Join(out, "var/new"))
	assert.NoFileExists(t, filepath.Join(out, ".wh..wh.plnk"))
	assert.FileExists(t, filepath.Join(out, "x/y"), "a later entry replaces an earlier one")

	// And back: the directory written as a layer tar and unpacked again
	// gives the same directory, so the same tar.
	var tar1 bytes.Buffer
	d1, err := WriteTar(&tar1, out)
	require.NoError(t, err)
	assert.Contains(t, tar1.String(), "etc/.wh.motd", "the whiteout device is a .wh. file again")
	assert.Contains(t, tar1.String(), "var/.wh..wh..opq")
	assert.NotContains(t, tar1.String(), OverlayOpaqueXattr)
	again := t.TempDir()
	d2, err := Extract(bytes.NewReader(tar1.Bytes()), again)
	require.NoError(t, err)
	assert.Equal(t, d1, d2)
	d3, err := WriteTar(io.Discard, again)
	require.NoError(t, err)
	assert.Equal(t, d1, d3, "extract and write are each other's reverse")
}

// hostile is a tar built to write outside the directory it is unpacked in.
type hostile struct {
	name    string
	entries func(outside string) []ent
	err     string                                    // the refusal; "" when the entry is contained instead
	check   func(t *testing.T, layer, outside string) // for contained cases
}

func hostileTars() []hostile {
	rel := func(p string) string { return strings.TrimPrefix(p, "/") }
	return []hostile{
		{name: "dot-dot escape", err: "climbs out",
			entries: func(string) []ent { return []ent{file("../outside/pwned", "x")} }},
		{name: "dot-dot in the middle", err: "climbs out",
			entries: func(string) []ent { return []ent{dir("a/"), file("a/../../outside/pwned", "x")} }},
		{name: "absolute name", err: "absolute name",
			entries: func(o string) []ent { return []ent{file(o+"/pwned", "x")} }},
		{name: "symlink to / then a file through it",
			entries: func(o string) []ent { return []ent{symlink("root", "/"), file("root/"+rel(o)+"/pwned", "x")} },
			check: func(t *testing.T, layer, o string) {
				assert.FileExists(t, filepath.Join(layer, o, "pwned"), "/ means the layer's root")
			}},
		{name: "relative symlink that climbs, then a file through it",
			entries: func(string) []ent { return []ent{symlink("up", "../../../../.."), file("up/pwned", "x")} },
			check: func(t *testing.T, layer, _ string) {
				assert.FileExists(t, filepath.Join(layer, "pwned"), ".. stops at the layer's root")
			}},
		{name: "symlink to the outside dir then a file through it", err: "leads nowhere inside",
			entries: func(o string) []ent { return []ent{symlink("evil", o), file("evil/pwned", "x")} }},
		{name: "symlink planted deeper, later entry through it", err: "leads nowhere inside",
			entries: func(o string) []ent {
				return []ent{dir("d/"), symlink("d/sub", o), file("d/sub/pwned", "x")}
			}},
		{name: "symlink planted, later entry of the same name",
			entries: func(o string) []ent { return []ent{symlink("planted", o+"/sentinel"), file("planted", "x")} },
			check: func(t *testing.T, layer, _ string) {
				b, err := os.ReadFile(filepath.Join(layer, "planted"))
				require.NoError(t, err)
				assert.Equal(t, "x", string(b), "the link is replaced, not written through")
			}},
		{name: "hard link to /etc/passwd", err: "absolute name",
			entries: func(string) []ent { return []ent{hardlink("passwd", "/etc/passwd")} }},
		{name: "hard link that climbs to /etc/passwd", err: "climbs out",
			entries: func(string) []ent { return []ent{hardlink("passwd", "../../../../../../etc/passwd")} }},
		{name: "hard link through a symlink", err: "hard link target",
			entries: func(string) []ent { return []ent{symlink("etc", "/etc"), hardlink("passwd", "etc/passwd")} }},
		{name: "hard link to a symlink that points out",
			entries: func(string) []ent { return []ent{symlink("s", "/etc/passwd"), hardlink("h", "s")} },
			check: func(t *testing.T, layer, _ string) {
				st := lstat(t, filepath.Join(layer, "h"))
				assert.Equal(t, uint32(unix.S_IFLNK), st.Mode&unix.S_IFMT, "the link itself, not /etc/passwd")
			}},
		{name: "device entry", // a device node is a layer's right; the devices cgroup guards its use
			entries: func(string) []ent { return []ent{device("dev/sda", tar.TypeBlock, 8, 0)} },
			check: func(t *testing.T, layer, _ string) {
				st := lstat(t, filepath.Join(layer, "dev/sda"))
				assert.Equal(t, uint32(unix.S_IFBLK), st.Mode&unix.S_IFMT)
			}},
		{name: "device entry that climbs", err: "climbs out",
			entries: func(string) []ent { return []ent{device("../sda", tar.TypeBlock, 8, 0)} }},
		{name: "whiteout of ../x", err: "climbs out",
			entries: func(string) []ent { return []ent{file("../.wh.outside", "")} }},
		{name: "whiteout of ..", err: "not a name",
			entries: func(string) []ent { return []ent{file("a/.wh...", "")} }},
		{name: "overlayfs's own xattrs in the tar",
			entries: func(string) []ent {
				d := dir("d/")
				d.hdr.PAXRecords = map[string]string{
					"SCHILY.xattr." + OverlayOpaqueXattr:    "y",
					"SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
					"SCHILY.xattr.trusted.minibox-kept":     "1",
				}
				return []ent{d}
			},
			check: func(t *testing.T, layer, _ string) {
				d := filepath.Join(layer, "d")
				assert.Empty(t, xattr(d, OverlayOpaqueXattr), "only .wh..wh..opq makes a directory opaque")
				assert.Empty(t, xattr(d, "trusted.overlay.redirect"))
				assert.Equal(t, "1", xattr(d, "trusted.minibox-kept"))
			}},
		{name: "opaque marker through a symlink to the outside", err: "leads nowhere inside",
			entries: func(o string) []ent { return []ent{symlink("o", o), file("o/.wh..wh..opq", "")} }},
	}
}

// checkNothingOutside fails if anything in base changed except inside layer.
func checkNothingOutside(t testing.TB, base, layer, outside string) {
	t.Helper()
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case p == base, p == layer, p == outside, strings.HasPrefix(p, layer+"/"):
			return nil
		case p == filepath.Join(outside, "sentinel"):
			b, err := os.ReadFile(p)
			if err != nil || string(b) != "keep" {
				t.Errorf("the sentinel outside changed: %q, %v", b, err)
			}
			return nil
		}
		t.Errorf("written outside the layer: %s", p)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if v := xattr(outside, OverlayOpaqueXattr); v != "" {
		t.Errorf("the outside directory got the opaque xattr")
	}
}

func hostileSetup(t testing.TB) (base, layer, outside string) {
	base = t.TempDir()
	layer, outside = filepath.Join(base, "layer"), filepath.Join(base, "outside")
	require.NoError(t, os.Mkdir(layer, 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "sentinel"), []byte("keep"), 0o644))
	return base, layer, outside
}

func TestExtractHostileTars(t *testing.T) {
	testkit.Root(t)
	passwd := lstat(t, "/etc/passwd")
	for _, tt := range hostileTars() {
		t.Run(tt.name, func(t *testing.T) {
			base, layer, outside := hostileSetup(t)
			_, err := Extract(bytes.NewReader(tarOf(t, tt.entries(outside)...)), layer)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Contains(t, err.Error(), "entry", "the error names the entry")
			} else {
				require.NoError(t, err)
				tt.check(t, layer, outside)
			}
			checkNothingOutside(t, base, layer, outside)
		})
	}
	after := lstat(t, "/etc/passwd")
	assert.Equal(t, passwd.Nlink, after.Nlink, "no new hard link to the host's /etc/passwd")
}

// FuzzExtract: whatever the bytes, extraction never panics and never
// writes outside its directory.
func FuzzExtract(f *testing.F) {
	for _, h := range hostileTars() {
		f.Add(tarOf(f, h.entries("/tmp/outside")...))
	}
	f.Add(tarOf(f, dir("a/"), file("a/b", "x"), symlink("a/c", "/"), hardlink("d", "a/b"), file("a/.wh.b", "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		base, layer, outside := hostileSetup(t)
		// The seeds name /tmp/outside; point them at this run's outside.
		data = bytes.ReplaceAll(data, []byte("/tmp/outside"), []byte(outside))
		_, _ = Extract(bytes.NewReader(data), layer)
		checkNothingOutside(t, base, layer, outside)
	})
}
