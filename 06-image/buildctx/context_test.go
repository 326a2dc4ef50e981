package buildctx

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
)

// files lays out a tree: "name" -> content; a name ending in "/" is a
// directory; content "->target" makes a symlink.
func files(t testing.TB, dir string, tree map[string]string) {
	t.Helper()
	names := make([]string, 0, len(tree))
	for n := range tree {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		c := tree[n]
		switch {
		case strings.HasSuffix(n, "/"):
			require.NoError(t, os.MkdirAll(p, 0o755))
		case strings.HasPrefix(c, "->"):
			require.NoError(t, os.Symlink(c[2:], p))
		default:
			require.NoError(t, os.WriteFile(p, []byte(c), 0o644))
		}
	}
}

func rels(srcs []Source) []string {
	out := []string{}
	for _, s := range srcs {
		out = append(out, s.Rel)
	}
	return out
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	files(t, dir, map[string]string{"Dockerfile": "FROM scratch\n", "sub/Other.df": "FROM x\n"})
	c, err := Open(dir, "")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "Dockerfile"), c.Dockerfile)
	b, err := c.ReadDockerfile()
	require.NoError(t, err)
	assert.Equal(t, "FROM scratch\n", string(b))

	t.Chdir(filepath.Join(dir, "sub"))
	c, err = Open(dir, "Other.df") // -f is relative to the current directory
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "sub", "Other.df"), c.Dockerfile)

	_, err = Open(filepath.Join(dir, "nope"), "")
	require.Error(t, err)
	assert.Equal(t, `unable to prepare context: path "`+filepath.Join(dir, "nope")+`" not found`, err.Error())
	_, err = Open(filepath.Join(dir, "sub"), "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat "+filepath.Join(dir, "sub", "Dockerfile")+": no such file or directory")
	_, err = Open(filepath.Join(dir, "Dockerfile"), "")
	assert.ErrorContains(t, err, "context must be a directory")
}

func TestDockerignore(t *testing.T) {
	dir := t.TempDir()
	files(t, dir, map[string]string{
		"Dockerfile":    "FROM scratch\n",
		".dockerignore": "# comment\nDockerfile\n.dockerignore\n**/*.log\n!keep.log\nsecret/\nbuild\n!build/out\ntmp*\n",
		"app.go":        "package main\n",
		"a.log":         "x", "keep.log": "kept", "deep/er/b.log": "y", "deep/er/c.txt": "z",
		"secret/key": "k", "build/obj": "o", "build/out": "binary", "tmpfile": "t", "tmpdir/x": "t",
	})
	c, err := Open(dir, "")
	require.NoError(t, err)
	assert.Len(t, c.Ignore, 8)
	for rel, want := range map[string]bool{
		"Dockerfile":    false, // always sent, though listed
		".dockerignore": false,
		"app.go":        false,
		"a.log":         true,
		"deep/er/b.log": true, // ** spans directories
		"deep/er/c.txt": false,
		"keep.log":      false, // the exception wins: it comes later
		"secret":        true,
		"secret/key":    true, // through its parent
		"build/obj":     true,
		"build/out":     false,
		"tmpfile":       true,
		"tmpdir/x":      true,
		"./a.log":       true, // cleaned first
	} {
		got, err := c.Excluded(rel)
		require.NoError(t, err)
		assert.Equal(t, want, got, rel)
	}

	srcs, err := c.Sources([]string{"Dockerfile", ".dockerignore", "keep.log", "build/out"})
	require.NoError(t, err, "the Dockerfile and .dockerignore can be copied")
	assert.Equal(t, []string{"Dockerfile", ".dockerignore", "keep.log", "build/out"}, rels(srcs))

	_, err = c.Sources([]string{"secret/key"})
	require.Error(t, err)
	assert.Equal(t, "COPY failed: file not found in build context or excluded by .dockerignore: stat secret/key: file does not exist", err.Error())
	assert.True(t, errors.Is(err, fs.ErrNotExist))
	var nf *NotFoundError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, "secret/key", nf.Path)

	// A wildcard does not see what is ignored, and a directory source
	// leaves it out (Checksum and CopyInto walk it the same way).
	srcs, err = c.Sources([]string{"*.log"})
	require.NoError(t, err)
	assert.Equal(t, []string{"keep.log"}, rels(srcs))
	srcs, err = c.Sources([]string{"build"})
	require.Error(t, err, "build itself is excluded")
	srcs, err = c.Sources([]string{"."})
	require.NoError(t, err)
	var seen []string
	require.NoError(t, walk("", srcs[0], func(e *entry) error { seen = append(seen, e.rel); return nil }))
	assert.Equal(t, []string{".", ".dockerignore", "Dockerfile", "app.go", "build/out", "deep", "deep/er", "deep/er/c.txt", "keep.log"}, seen)

	require.NoError(t, os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("ok\n!x[\n"), 0o644))
	_, err = Open(dir, "")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "parse .dockerignore: "), err.Error())
	assert.Contains(t, err.Error(), "syntax error in pattern")
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("0*[00\n"), 0o644))
	_, err = Open(dir, "")
	assert.EqualError(t, err, `parse .dockerignore: pattern "0*[00": syntax error in pattern`, "found by FuzzIgnore: only matching compiles this one")
}

func TestSources(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	files(t, outside, map[string]string{"secret": "host secret"})
	files(t, dir, map[string]string{
		"Dockerfile": "FROM scratch\n",
		"a.txt":      "a", "b.txt": "b", "c.md": "c",
		"src/x/main.go": "x", "src/y/main.go": "y", "src/y/util.go": "u",
		"etc/passwd":  "context's passwd",
		"in-link":     "->a.txt",
		"abs-link":    "->/etc/passwd",                  // the context's etc/passwd
		"up-link":     "->../../../../../../etc/passwd", // clamped at the context: the same
		"out-link":    "->" + filepath.Join(outside, "secret"),
		"dir-link":    "->src",
		"[x].txt":     "literal",
		"sp ace.txt":  "s",
		"dangling":    "->nowhere",
		"sub/../c.md": "",
	})
	c, err := Open(dir, "")
	require.NoError(t, err)

	for _, tc := range []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"one file", []string{"a.txt"}, []string{"a.txt"}},
		{"leading slash and dot", []string{"/a.txt", "./b.txt"}, []string{"a.txt", "b.txt"}},
		{"glob", []string{"*.txt"}, []string{"[x].txt", "a.txt", "b.txt", "sp ace.txt"}},
		{"glob per element", []string{"src/*/main.go"}, []string{"src/x/main.go", "src/y/main.go"}},
		{"glob question mark", []string{"?.md"}, []string{"c.md"}},
		{"glob class", []string{"[ab].txt"}, []string{"a.txt", "b.txt"}},
		{"escaped bracket", []string{`\[x\].tx?`}, []string{"[x].txt"}},
		{"glob matching a directory", []string{"sr*"}, []string{"src"}},
		{"directory", []string{"src"}, []string{"src"}},
		{"context", []string{"."}, []string{"."}},
		{"several", []string{"c.md", "src/x"}, []string{"c.md", "src/x"}},
		{"cleaned", []string{"src/x/../y/util.go"}, []string{"src/y/util.go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := c.Sources(tc.patterns)
			require.NoError(t, err)
			assert.Equal(t, tc.want, rels(srcs))
			for _, s := range srcs {
				assert.NotNil(t, s.Info, s.Rel)
			}
		})
	}

	t.Run("symlinks resolve inside the context", func(t *testing.T) {
		srcs, err := c.Sources([]string{"in-link", "abs-link", "up-link", "dir-link"})
		require.NoError(t, err)
		assert.True(t, srcs[0].Info.Mode().IsRegular())
		assert.EqualValues(t, 1, srcs[0].Info.Size(), "a.txt's size")
		assert.EqualValues(t, len("context's passwd"), srcs[1].Info.Size(), "the context's etc/passwd, not the host's")
		assert.EqualValues(t, len("context's passwd"), srcs[2].Info.Size())
		assert.True(t, srcs[3].Info.IsDir())
		sum, err := Checksum(srcs[1:2], "", nil, nil)
		require.NoError(t, err)
		ctxPasswd, err := c.Sources([]string{"etc/passwd"})
		require.NoError(t, err)
		sum2, err := Checksum(ctxPasswd, "", nil, nil)
		require.NoError(t, err)
		assert.NotEqual(t, sum, sum2, "same content, other name")
	})

	for _, tc := range []struct {
		name     string
		patterns []string
		want     string
	}{
		{"missing", []string{"nope"}, "COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist"},
		{"symlink out of the context", []string{"out-link"}, "COPY failed: file not found in build context or excluded by .dockerignore: stat out-link: file does not exist"},
		{"dangling", []string{"dangling"}, "COPY failed: file not found in build context or excluded by .dockerignore: stat dangling: file does not exist"},
		{"through a file", []string{"a.txt/x"}, "COPY failed: file not found in build context or excluded by .dockerignore: stat a.txt/x: file does not exist"},
		{"climbs out", []string{"../x"}, "COPY failed: forbidden path outside the build context: ../x ()"},
		{"climbs out cleaned", []string{"src/../../x"}, "COPY failed: forbidden path outside the build context: src/../../x ()"},
		{"no match", []string{"*.go"}, "COPY failed: no source files were specified"},
		{"none", nil, "COPY failed: no source files were specified"},
		{"bad pattern", []string{"[a"}, "COPY failed: bad pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Sources(tc.patterns)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("ADD says ADD", func(t *testing.T) {
		_, err := c.SourcesFor("ADD", []string{"nope"})
		assert.EqualError(t, err, "ADD failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist")
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
	t.Run("from a stage", func(t *testing.T) {
		_, err := FromDir(dir).Sources([]string{"nope"})
		assert.EqualError(t, err, "COPY failed: stat nope: file does not exist")
	})
}

func TestSize(t *testing.T) {
	dir := t.TempDir()
	files(t, dir, map[string]string{"Dockerfile": "FROM busybox\n"})
	c, err := Open(dir, "")
	require.NoError(t, err)
	n, err := c.Size()
	require.NoError(t, err)
	// One header, one block of content, two zero blocks: Docker prints
	// "Sending build context to Docker daemon  2.048kB".
	assert.EqualValues(t, 2048, n)

	files(t, dir, map[string]string{"big": strings.Repeat("x", 513), "d/": "", ".dockerignore": "ignored\n", "ignored": strings.Repeat("y", 10000)})
	c, err = Open(dir, "")
	require.NoError(t, err)
	n, err = c.Size()
	require.NoError(t, err)
	// + .dockerignore (512+512), big (512+1024), d/ (512); ignored is not sent
	assert.EqualValues(t, 2048+1024+1536+512, n)
}

func TestFromTar(t *testing.T) {
	t.Run("lone Dockerfile", func(t *testing.T) {
		tmp := t.TempDir()
		c, err := FromTar(strings.NewReader("FROM busybox\nRUN true\n"), tmp)
		require.NoError(t, err)
		b, err := c.ReadDockerfile()
		require.NoError(t, err)
		assert.Equal(t, "FROM busybox\nRUN true\n", string(b))
		n, err := c.Size()
		require.NoError(t, err)
		assert.EqualValues(t, 2048, n)
	})
	for _, comp := range []string{"", "gzip", "xz"} {
		t.Run("tar "+comp, func(t *testing.T) {
			tmp := t.TempDir()
			tarball := makeTar(t, comp, map[string]string{"Dockerfile": "FROM x\n", "app/main": "bin", ".dockerignore": "app\n"})
			c, err := FromTar(strings.NewReader(tarball), tmp)
			require.NoError(t, err)
			assert.FileExists(t, filepath.Join(tmp, "app/main"))
			ex, err := c.Excluded("app/main")
			require.NoError(t, err)
			assert.False(t, ex, "the tar is the context as sent: its .dockerignore hides nothing")
			_, err = c.Sources([]string{"app/main"})
			require.NoError(t, err)
			c.Dockerfile = "missing"
			_, err = c.ReadDockerfile()
			assert.EqualError(t, err, "Cannot locate specified Dockerfile: missing")
		})
	}
	t.Run("tar that climbs out", func(t *testing.T) {
		tmp := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(tmp, "ctx"), 0o755))
		_, err := FromTar(strings.NewReader(makeTar(t, "", map[string]string{"../evil": "x"})), filepath.Join(tmp, "ctx"))
		require.Error(t, err)
		_, err = os.Stat(filepath.Join(tmp, "evil"))
		assert.True(t, errors.Is(err, fs.ErrNotExist))
	})
}
