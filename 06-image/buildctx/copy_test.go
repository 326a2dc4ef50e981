package buildctx

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

// makeTar is a tar of tree (as files lays one out; a name ending in "/" is
// a directory), compressed with comp ("", "gzip", "xz").
func makeTar(t testing.TB, comp string, tree map[string]string) string {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	names := make([]string, 0, len(tree))
	for n := range tree {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := tree[n]
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg, ModTime: time.Unix(1e9, 0)}
		switch {
		case strings.HasSuffix(n, "/"):
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		case strings.HasPrefix(c, "->"):
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, c[2:], 0
		}
		require.NoError(t, tw.WriteHeader(hdr))
		if hdr.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(c))
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	var out bytes.Buffer
	switch comp {
	case "":
		return raw.String()
	case "gzip":
		z := gzip.NewWriter(&out)
		_, err := z.Write(raw.Bytes())
		require.NoError(t, err)
		require.NoError(t, z.Close())
	case "xz":
		z, err := xz.NewWriter(&out)
		require.NoError(t, err)
		_, err = z.Write(raw.Bytes())
		require.NoError(t, err)
		require.NoError(t, z.Close())
	}
	return out.String()
}

func checksum(t *testing.T, dir string, patterns []string, chown *Owner, chmod *fs.FileMode) digest.Digest {
	t.Helper()
	c, err := Open(dir, "")
	require.NoError(t, err)
	srcs, err := c.Sources(patterns)
	require.NoError(t, err)
	d, err := Checksum(srcs, "", chown, chmod)
	require.NoError(t, err)
	require.NoError(t, d.Validate())
	return d
}

// TestChecksum: the checksum follows what lands in the image and nothing
// else.
func TestChecksum(t *testing.T) {
	dir := t.TempDir()
	files(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\n", ".dockerignore": "app/*.tmp\n",
		"app/main.sh": "echo hi\n", "app/lib/util.sh": "true\n", "app/link": "->main.sh", "app/x.tmp": "scratch",
		"one.txt": "one",
	})
	srcDir := []string{"app"}
	srcFile := []string{"one.txt"}
	base := checksum(t, dir, srcDir, nil, nil)
	baseFile := checksum(t, dir, srcFile, nil, nil)
	assert.Equal(t, base, checksum(t, dir, srcDir, nil, nil), "deterministic")

	change := func(name string, fn func(), srcs []string, want bool) {
		t.Helper()
		before := checksum(t, dir, srcs, nil, nil)
		fn()
		after := checksum(t, dir, srcs, nil, nil)
		if want {
			assert.NotEqual(t, before, after, name)
		} else {
			assert.Equal(t, before, after, name)
		}
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	old := time.Unix(1e9, 0)
	change("mtime of a file", func() { require.NoError(t, os.Chtimes(p("app/main.sh"), old, old)) }, srcDir, false)
	change("mtime of a directory", func() { require.NoError(t, os.Chtimes(p("app/lib"), old, old)) }, srcDir, false)
	change("mtime of a file source", func() { require.NoError(t, os.Chtimes(p("one.txt"), old, old)) }, srcFile, false)
	change("an ignored file", func() { require.NoError(t, os.WriteFile(p("app/x.tmp"), []byte("other"), 0o644)) }, srcDir, false)
	change("a file outside the sources", func() { require.NoError(t, os.WriteFile(p("Dockerfile"), []byte("FROM x\n"), 0o644)) }, srcDir, false)
	change("content", func() { require.NoError(t, os.WriteFile(p("app/lib/util.sh"), []byte("false\n"), 0o644)) }, srcDir, true)
	change("content, same size", func() { require.NoError(t, os.WriteFile(p("one.txt"), []byte("two"), 0o644)) }, srcFile, true)
	change("mode", func() { require.NoError(t, os.Chmod(p("app/main.sh"), 0o755)) }, srcDir, true)
	change("mode of a directory", func() { require.NoError(t, os.Chmod(p("app/lib"), 0o700)) }, srcDir, true)
	change("mode of a file source", func() { require.NoError(t, os.Chmod(p("one.txt"), 0o600)) }, srcFile, true)
	change("link target", func() {
		require.NoError(t, os.Remove(p("app/link")))
		require.NoError(t, os.Symlink("lib/util.sh", p("app/link")))
	}, srcDir, true)
	change("a new file", func() { require.NoError(t, os.WriteFile(p("app/new"), nil, 0o644)) }, srcDir, true)
	change("a rename", func() { require.NoError(t, os.Rename(p("app/new"), p("app/new2"))) }, srcDir, true)
	change("a file becomes a directory", func() {
		require.NoError(t, os.Remove(p("app/new2")))
		require.NoError(t, os.Mkdir(p("app/new2"), 0o755))
	}, srcDir, true)
	if os.Geteuid() == 0 {
		change("owner", func() { require.NoError(t, os.Lchown(p("app/main.sh"), 1000, 1000)) }, srcDir, true)
	}

	now := checksum(t, dir, srcDir, nil, nil)
	assert.NotEqual(t, base, now)
	assert.NotEqual(t, baseFile, checksum(t, dir, srcFile, nil, nil))
	mode := fs.FileMode(0o700)
	assert.NotEqual(t, now, checksum(t, dir, srcDir, nil, &mode), "--chmod")
	setuid := fs.FileMode(0o755) | fs.ModeSetuid
	assert.NotEqual(t, checksum(t, dir, srcDir, nil, &mode), checksum(t, dir, srcDir, nil, &setuid), "--chmod with set-user-ID")
	assert.NotEqual(t, now, checksum(t, dir, srcDir, &Owner{UID: 1000, GID: 1000}, nil), "--chown")
	assert.NotEqual(t, checksum(t, dir, srcDir, &Owner{UID: 1000, GID: 1000}, nil), checksum(t, dir, srcDir, &Owner{UID: 1000, GID: 1001}, nil), "--chown's group")
	assert.NotEqual(t, checksum(t, dir, []string{"app", "one.txt"}, nil, nil), checksum(t, dir, []string{"one.txt", "app"}, nil, nil), "source order")

	// The same files somewhere else (a fresh checkout: new inodes, new
	// times) give the same checksum.
	dir2 := t.TempDir()
	require.NoError(t, os.CopyFS(dir2, os.DirFS(dir)))
	require.NoError(t, os.Chmod(filepath.Join(dir2, "app/main.sh"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(dir2, "app/lib"), 0o700))
	require.NoError(t, os.Remove(filepath.Join(dir2, "app/link")))
	require.NoError(t, os.Symlink("lib/util.sh", filepath.Join(dir2, "app/link")))
	if os.Geteuid() == 0 {
		require.NoError(t, os.Lchown(filepath.Join(dir2, "app/main.sh"), 1000, 1000))
	}
	assert.Equal(t, now, checksum(t, dir2, srcDir, nil, nil))
}

// readTree describes a tree: path -> "mode uid:gid content|->target".
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(p, &st))
		desc := strings.TrimLeft(fs.FileMode(st.Mode&0o777).String(), "-")
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			desc = "dir " + desc
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			desc = "->" + l
		default:
			b, _ := os.ReadFile(p)
			desc += " " + string(b)
		}
		out[rel] = desc
		return nil
	}))
	return out
}

func TestCopyInto(t *testing.T) {
	ctx := t.TempDir()
	files(t, ctx, map[string]string{
		"Dockerfile": "FROM scratch\n",
		"a.txt":      "a", "b.txt": "b",
		"app/main.sh": "echo hi\n", "app/lib/util.sh": "true\n", "app/link": "->main.sh", "app/empty/": "",
	})
	require.NoError(t, os.Chmod(filepath.Join(ctx, "app/main.sh"), 0o755))
	old := time.Unix(1e9, 0)
	require.NoError(t, os.Chtimes(filepath.Join(ctx, "a.txt"), old, old))
	c, err := Open(ctx, "")
	require.NoError(t, err)
	srcs := func(p ...string) []Source {
		s, err := c.Sources(p)
		require.NoError(t, err)
		return s
	}

	for _, tc := range []struct {
		name   string
		pre    map[string]string // the root filesystem before
		srcs   []string
		dst    string
		o      CopyOptions
		want   map[string]string // entries that must be there, as readTree says
		absent []string
	}{
		{name: "file to a new name", srcs: []string{"a.txt"}, dst: "/x/y",
			want: map[string]string{"x": "dir rwxr-xr-x", "x/y": "rw-r--r-- a"}},
		{name: "file into a directory", srcs: []string{"a.txt"}, dst: "/x/",
			want: map[string]string{"x/a.txt": "rw-r--r-- a"}},
		{name: "file into an existing directory, no slash", pre: map[string]string{"x/": ""}, srcs: []string{"a.txt"}, dst: "/x",
			want: map[string]string{"x/a.txt": "rw-r--r-- a"}},
		{name: "file over a file", pre: map[string]string{"x": "old"}, srcs: []string{"a.txt"}, dst: "/x",
			want: map[string]string{"x": "rw-r--r-- a"}},
		{name: "relative to WORKDIR", srcs: []string{"a.txt"}, dst: "sub/", o: CopyOptions{WorkDir: "/work"},
			want: map[string]string{"work/sub/a.txt": "rw-r--r-- a"}},
		{name: "dot is the WORKDIR", srcs: []string{"a.txt"}, dst: ".", o: CopyOptions{WorkDir: "/work"},
			want: map[string]string{"work/a.txt": "rw-r--r-- a"}},
		{name: "several files", srcs: []string{"a.txt", "b.txt"}, dst: "/x/",
			want: map[string]string{"x/a.txt": "rw-r--r-- a", "x/b.txt": "rw-r--r-- b"}},
		{name: "a directory's contents", srcs: []string{"app"}, dst: "/opt/app",
			want: map[string]string{
				"opt/app": "dir rwxr-xr-x", "opt/app/main.sh": "rwxr-xr-x echo hi\n", "opt/app/lib/util.sh": "rw-r--r-- true\n",
				"opt/app/link": "->main.sh", "opt/app/empty": "dir rwxr-xr-x",
			},
			absent: []string{"opt/app/app"}},
		{name: "a directory merges", pre: map[string]string{"opt/keep": "k", "opt/main.sh/": ""}, srcs: []string{"app"}, dst: "/opt/",
			want: map[string]string{"opt/keep": "rw-r--r-- k", "opt/main.sh": "rwxr-xr-x echo hi\n"}},
		{name: "chmod", srcs: []string{"app"}, dst: "/o", o: CopyOptions{Chmod: ptr(fs.FileMode(0o700))},
			want: map[string]string{"o/main.sh": "rwx------ echo hi\n", "o/lib": "dir rwx------", "o/link": "->main.sh"}},
		{name: "a symlink in the image leads back inside", pre: map[string]string{"etc/": "", "app": "->/etc", "rel": "->../../../../etc"},
			srcs: []string{"a.txt"}, dst: "/app/", want: map[string]string{"etc/a.txt": "rw-r--r-- a", "app": "->/etc"}},
		{name: "a relative symlink out leads back inside", pre: map[string]string{"etc/": "", "rel": "->../../../../etc"},
			srcs: []string{"b.txt"}, dst: "/rel/sub/", want: map[string]string{"etc/sub/b.txt": "rw-r--r-- b"}},
		{name: "the destination file is a symlink: replaced, not followed", pre: map[string]string{"etc/passwd": "root", "x": "->/etc/passwd"},
			srcs: []string{"a.txt"}, dst: "/x", want: map[string]string{"x": "rw-r--r-- a", "etc/passwd": "rw-r--r-- root"}},
		{name: "climbing dst stays inside", srcs: []string{"a.txt"}, dst: "/../../a",
			want: map[string]string{"a": "rw-r--r-- a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "rootfs")
			require.NoError(t, os.Mkdir(root, 0o755))
			files(t, root, tc.pre)
			before := testkit.Tree(t, parent)
			require.NoError(t, CopyInto(root, tc.dst, srcs(tc.srcs...), tc.o))
			got := readTree(t, root)
			for k, v := range tc.want {
				assert.Equal(t, v, got[k], k)
			}
			for _, k := range tc.absent {
				assert.NotContains(t, got, k)
			}
			// Nothing appeared beside the root filesystem.
			after := testkit.Tree(t, parent)
			var outside []string
			for _, p := range after {
				if p != parent && p != root && !strings.HasPrefix(p, root+"/") {
					outside = append(outside, p)
				}
			}
			assert.Empty(t, outside)
			assert.Subset(t, after, before)
		})
	}

	t.Run("mtime kept, owner root or --chown", func(t *testing.T) {
		root := t.TempDir()
		require.NoError(t, CopyInto(root, "/a", srcs("a.txt"), CopyOptions{}))
		var st unix.Stat_t
		require.NoError(t, unix.Lstat(filepath.Join(root, "a"), &st))
		assert.EqualValues(t, old.Unix(), st.Mtim.Sec)
		if os.Geteuid() != 0 {
			return // only root can give files away
		}
		assert.EqualValues(t, 0, st.Uid)
		require.NoError(t, CopyInto(root, "/new/dir/b", srcs("b.txt"), CopyOptions{Chown: &Owner{UID: 1000, GID: 1001}}))
		for _, p := range []string{"new", "new/dir", "new/dir/b"} {
			require.NoError(t, unix.Lstat(filepath.Join(root, p), &st))
			assert.Equal(t, []uint32{1000, 1001}, []uint32{st.Uid, st.Gid}, p)
		}
	})

	t.Run("a symlink loop at dst", func(t *testing.T) {
		root := t.TempDir()
		files(t, root, map[string]string{"l1": "->l2", "l2": "->l1"})
		err := CopyInto(root, "/l1/", srcs("a.txt"), CopyOptions{})
		assert.ErrorIs(t, err, unix.ELOOP)
	})

	t.Run("several sources need a directory", func(t *testing.T) {
		err := CopyInto(t.TempDir(), "/x", srcs("a.txt", "b.txt"), CopyOptions{})
		assert.EqualError(t, err, "When using COPY with more than one source file, the destination must be a directory and end with a /")
		err = CopyInto(t.TempDir(), "/x", srcs("*.txt"), CopyOptions{Instruction: "ADD"})
		assert.EqualError(t, err, "When using ADD with more than one source file, the destination must be a directory and end with a /")
	})

	t.Run("a symlink in the context is read inside it", func(t *testing.T) {
		ctx := t.TempDir()
		outside := t.TempDir()
		files(t, outside, map[string]string{"secret": "host"})
		files(t, ctx, map[string]string{"Dockerfile": "FROM x\n", "d/evil": "->" + filepath.Join(outside, "secret"), "d/up": "->../../../" + outside})
		c, err := Open(ctx, "")
		require.NoError(t, err)
		s, err := c.Sources([]string{"d"})
		require.NoError(t, err)
		root := t.TempDir()
		require.NoError(t, CopyInto(root, "/d", s, CopyOptions{}))
		got := readTree(t, root)
		assert.Equal(t, "->"+filepath.Join(outside, "secret"), got["d/evil"], "copied as a link, not followed")
		assert.Equal(t, "->../../../"+outside, got["d/up"])
		_, err = c.Sources([]string{"d/evil"})
		assert.ErrorContains(t, err, "file not found in build context")
	})

	t.Run("from another root", func(t *testing.T) {
		stage := t.TempDir()
		files(t, stage, map[string]string{"out/app": "binary", "out/etc": "->/etc"})
		_, err := FromDir(stage).Sources([]string{"/out/etc"})
		assert.EqualError(t, err, "COPY failed: stat out/etc: file does not exist", "the stage has no /etc: its link leads nowhere")
		s, err := FromDir(stage).Sources([]string{"/out/app"})
		require.NoError(t, err)
		root := t.TempDir()
		require.NoError(t, CopyInto(root, "/usr/bin/", s, CopyOptions{From: stage}))
		assert.Equal(t, "rw-r--r-- binary", readTree(t, root)["usr/bin/app"])
	})
}

func ptr[T any](v T) *T { return &v }

func TestExtractArchive(t *testing.T) {
	tree := map[string]string{"bin/": "", "bin/cool-soft": "#!/bin/sh\necho cool\n", "bin/sh-link": "->cool-soft"}
	bz2, err := os.ReadFile("testdata/soft.tar.bz2") // made with bzip2(1): Go has no bzip2 writer
	require.NoError(t, err)
	for name, data := range map[string]string{
		"plain": makeTar(t, "", tree),
		"gzip":  makeTar(t, "gzip", tree),
		"xz":    makeTar(t, "xz", tree),
		"bzip2": string(bz2),
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			ok, err := ExtractArchive(root, "/opt/soft", strings.NewReader(data))
			require.NoError(t, err)
			require.True(t, ok)
			b, err := os.ReadFile(filepath.Join(root, "opt/soft/bin/cool-soft"))
			require.NoError(t, err)
			assert.Equal(t, "#!/bin/sh\necho cool\n", string(b))
		})
	}
	for name, data := range map[string]string{
		"text":       "#!/bin/sh\necho not an archive\n",
		"empty":      "",
		"short":      "x",
		"zero block": strings.Repeat("\x00", 1024),
	} {
		t.Run("not an archive: "+name, func(t *testing.T) {
			root := t.TempDir()
			ok, err := ExtractArchive(root, "/opt", strings.NewReader(data))
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Equal(t, []string{root}, testkit.Tree(t, root), "nothing written")
		})
	}
	t.Run("a source opened inside the context", func(t *testing.T) {
		ctx := t.TempDir()
		outside := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(outside, "host.tar"), []byte(makeTar(t, "", tree)), 0o644))
		files(t, ctx, map[string]string{"Dockerfile": "FROM x\n", "soft.tar": makeTar(t, "gzip", tree), "evil.tar": "->" + filepath.Join(outside, "host.tar")})
		c, err := Open(ctx, "")
		require.NoError(t, err)
		s, err := c.Sources([]string{"soft.tar"})
		require.NoError(t, err)
		f, err := s[0].Open("")
		require.NoError(t, err)
		defer f.Close()
		ok, err := ExtractArchive(t.TempDir(), "/", f)
		require.NoError(t, err)
		assert.True(t, ok)
		_, err = c.Sources([]string{"evil.tar"})
		require.Error(t, err)
		_, err = (Source{Rel: "evil.tar"}).Open(ctx)
		assert.ErrorIs(t, err, fs.ErrNotExist, "resolved inside the context, where it leads nowhere")
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		data := []byte(makeTar(t, "gzip", tree))
		data[len(data)-5] ^= 0xff // the trailer's CRC
		_, err := ExtractArchive(t.TempDir(), "/opt", bytes.NewReader(data))
		require.Error(t, err)
	})
	t.Run("dst is a symlink out", func(t *testing.T) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		require.NoError(t, os.Mkdir(root, 0o755))
		files(t, root, map[string]string{"opt": "->" + parent, "etc/": ""})
		ok, err := ExtractArchive(root, "/opt/", strings.NewReader(makeTar(t, "", tree)))
		require.NoError(t, err)
		require.True(t, ok)
		assert.FileExists(t, filepath.Join(root, parent, "bin/cool-soft"), "resolved as the root's own path")
		assert.NoFileExists(t, filepath.Join(parent, "bin/cool-soft"))
	})
	t.Run("entries that climb out are refused", func(t *testing.T) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		require.NoError(t, os.Mkdir(root, 0o755))
		_, err := ExtractArchive(root, "/", strings.NewReader(makeTar(t, "", map[string]string{"../evil": "x"})))
		require.Error(t, err)
		assert.NoFileExists(t, filepath.Join(parent, "evil"))
		_, err = ExtractArchive(root, "/", strings.NewReader(makeTar(t, "", map[string]string{"a": "->/", "a/evil": "x"})))
		require.NoError(t, err, "a planted symlink leads back into the root")
		assert.FileExists(t, filepath.Join(root, "evil"))
	})
}
