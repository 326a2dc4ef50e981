package buildctx

import (
	"io"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher/ignorefile"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const hostSecret = "HOST-SECRET"

// fuzzContext is a context with symlinks that point out of it, every way.
func fuzzContext(f *testing.F) string {
	outside := f.TempDir()
	files(f, outside, map[string]string{"secret": hostSecret, "dir/secret": hostSecret})
	dir := f.TempDir()
	files(f, dir, map[string]string{
		"Dockerfile": "FROM scratch\n", "a.txt": "a", "b.md": "b", "[c].txt": "c",
		"src/x/main.go": "x", "src/y/util.go": "y", "deep/a/b/c/d": "d",
		"out":     "->" + filepath.Join(outside, "secret"),
		"outdir":  "->" + filepath.Join(outside, "dir"),
		"up":      "->../../../../../../../../" + strings.TrimPrefix(outside, "/"),
		"src/up":  "->../../" + filepath.Base(outside),
		"loop1":   "->loop2",
		"loop2":   "->loop1",
		"abs":     "->/a.txt",
		"dot/../": "",
	})
	return dir
}

// noSecret walks every source and fails if any file it would copy is the
// secret outside the context.
func noSecret(t *testing.T, srcs []Source) {
	for _, s := range srcs {
		require.False(t, path.IsAbs(s.Rel), s.Rel)
		require.Equal(t, path.Clean(s.Rel), s.Rel)
		require.False(t, s.Rel == ".." || strings.HasPrefix(s.Rel, "../"), s.Rel)
		require.NotNil(t, s.Info)
		err := walk("", s, func(e *entry) error {
			if e.kind() != unix.S_IFREG {
				return nil
			}
			f, err := e.open()
			if err != nil {
				return err
			}
			b, err := io.ReadAll(f)
			f.Close()
			require.NotEqual(t, hostSecret, string(b), "%s/%s read outside the context", s.Rel, e.rel)
			return err
		})
		require.NoError(t, err)
	}
}

// FuzzSources: a COPY's source patterns never panic Sources and never name
// anything outside the context, whatever the symlinks in it.
func FuzzSources(f *testing.F) {
	dir := fuzzContext(f)
	c, err := Open(dir, "")
	require.NoError(f, err)
	for _, s := range []string{"a.txt", "*", "*/*", "src", ".", "..", "../x", "/etc/passwd", "out", "outdir/secret", "up/secret", "src/up/secret", "loop1", "abs", "[c].txt", `\[c\].tx?`, "[", "deep/*/b/*", "./a.txt", "src/../a.txt", "**"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pats string) {
		srcs, err := c.Sources(strings.Split(pats, "\n"))
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "COPY failed: "), err.Error())
			return
		}
		noSecret(t, srcs)
		_, err = Checksum(srcs, "", nil, nil)
		require.NoError(t, err)
	})
}

// FuzzIgnore: any .dockerignore either fails to parse or gives answers;
// the Dockerfile and .dockerignore are never excluded, and a walk of the
// whole context never yields an excluded path.
func FuzzIgnore(f *testing.F) {
	dir := fuzzContext(f)
	for _, s := range []string{"*.txt", "**/*.go\n!src/x/main.go", "src\n!src/y", "Dockerfile\n.dockerignore", "[", "!", "**", "deep/**/d", "# c\n\n  a.txt  ", "/src/x", "../a.txt", `\*`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ignore string) {
		pats, err := ignorefile.ReadAll(strings.NewReader(ignore))
		if err != nil {
			return
		}
		c := &Context{Dir: dir, Dockerfile: filepath.Join(dir, "Dockerfile")}
		if err := c.SetIgnore(pats); err != nil {
			return
		}
		for _, p := range []string{"Dockerfile", ".dockerignore", "./Dockerfile"} {
			ex, err := c.Excluded(p)
			require.NoError(t, err)
			require.False(t, ex, p)
		}
		srcs, err := c.Sources([]string{"."})
		if err != nil {
			return // a pattern the matcher rejects while matching
		}
		noSecret(t, srcs)
		err = walk("", srcs[0], func(e *entry) error {
			if e.rel == "." {
				return nil
			}
			ex, err := c.Excluded(e.rel)
			require.NoError(t, err)
			if e.kind() != unix.S_IFDIR {
				require.False(t, ex, "%s is excluded yet walked", e.rel)
			}
			return nil
		})
		require.NoError(t, err)
	})
}
