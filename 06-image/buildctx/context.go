package buildctx

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"
)

// Context is a build context: the directory COPY and ADD read from, with
// the .dockerignore patterns that hide parts of it. A Context is not safe
// for concurrent use (the pattern matcher caches as it goes).
type Context struct {
	// Dir is the context's directory (absolute).
	Dir string
	// Dockerfile is the Dockerfile's path: absolute, or relative to Dir.
	Dockerfile string
	// Ignore holds the .dockerignore patterns as read (nil: none).
	Ignore []string

	pm *patternmatcher.PatternMatcher // nil: nothing is excluded
}

// NotFoundError is a COPY source that is not in the context, or that
// .dockerignore hides (to the builder the two are the same: Docker never
// sends an ignored file).
type NotFoundError struct {
	Path string
	// Ignored is false for a context without .dockerignore (COPY --from).
	Ignored bool
}

func (e *NotFoundError) Error() string {
	if !e.Ignored {
		return fmt.Sprintf("stat %s: file does not exist", e.Path)
	}
	return fmt.Sprintf("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", e.Path)
}

// Unwrap makes errors.Is(err, fs.ErrNotExist) true.
func (e *NotFoundError) Unwrap() error { return fs.ErrNotExist }

// ErrNoSources is a COPY whose wildcards matched nothing.
var ErrNoSources = errors.New("no source files were specified")

// Open opens the directory dir as a build context. dockerfile is the -f
// flag: "" means dir/Dockerfile, and a relative name is relative to the
// current directory (as the docker CLI takes it), which may be outside dir.
// Open reads dir/.dockerignore. The Dockerfile and .dockerignore are always
// part of the context, even when .dockerignore names them (Docker's rule:
// the builder needs them), so COPY can copy them.
func Open(dir string, dockerfile string) (*Context, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("unable to prepare context: path %q not found", dir)
		}
		return nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("unable to prepare context: context must be a directory: %s", abs)
	}
	df := filepath.Join(abs, "Dockerfile")
	if dockerfile != "" {
		if df, err = filepath.Abs(dockerfile); err != nil {
			return nil, fmt.Errorf("unable to prepare context: %w", err)
		}
	}
	if _, err := os.Lstat(df); err != nil {
		return nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %w", err)
	}
	c := &Context{Dir: abs, Dockerfile: df}
	if err := c.readIgnore(); err != nil {
		return nil, err
	}
	return c, nil
}

// FromDir is a context without .dockerignore and Dockerfile: the root
// filesystem of an earlier stage or an image, for COPY --from.
func FromDir(dir string) *Context {
	return &Context{Dir: dir}
}

func (c *Context) readIgnore() error {
	f, err := os.Open(filepath.Join(c.Dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read .dockerignore: %w", err)
	}
	defer f.Close()
	pats, err := ignorefile.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read .dockerignore: %w", err)
	}
	return c.SetIgnore(pats)
}

// SetIgnore replaces the context's ignore patterns (.dockerignore syntax:
// `**`, `!` exceptions, the last matching pattern wins).
func (c *Context) SetIgnore(patterns []string) error {
	if len(patterns) == 0 {
		c.Ignore, c.pm = nil, nil
		return nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return fmt.Errorf("parse .dockerignore: %w", err)
	}
	// patternmatcher compiles a pattern when it first matches with it; try
	// each one now, so that a bad pattern fails here and not halfway
	// through a COPY.
	for _, p := range patterns {
		one, err := patternmatcher.New([]string{strings.TrimPrefix(p, "!")})
		if err == nil {
			_, err = one.Matches("x")
		}
		if err != nil {
			return fmt.Errorf("parse .dockerignore: pattern %q: %w", p, err)
		}
	}
	c.Ignore, c.pm = patterns, pm
	return nil
}

// dockerfileRel is the Dockerfile's name inside the context, "" when it is
// outside.
func (c *Context) dockerfileRel() string {
	df := c.Dockerfile
	if df == "" {
		return ""
	}
	if !filepath.IsAbs(df) {
		return path.Clean(filepath.ToSlash(df))
	}
	rel, err := filepath.Rel(c.Dir, df)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return ""
	}
	return filepath.ToSlash(rel)
}

// Excluded says whether .dockerignore hides rel (a slash-separated path
// relative to the context), itself or through one of its parents. The
// Dockerfile and .dockerignore are never excluded.
func (c *Context) Excluded(rel string) (bool, error) {
	if c.pm == nil {
		return false, nil
	}
	rel = path.Clean("/" + filepath.ToSlash(rel))[1:]
	if rel == "" {
		return false, nil
	}
	if rel == ".dockerignore" || rel == c.dockerfileRel() {
		return false, nil
	}
	//nolint:staticcheck // MatchesOrParentMatches is what a single-path question needs
	ok, err := c.pm.MatchesOrParentMatches(filepath.FromSlash(rel))
	if err != nil {
		return false, fmt.Errorf("match %s against .dockerignore: %w", rel, err)
	}
	return ok, nil
}

// walk visits what the context sends, in lexical order: fn gets each
// entry's relative path (never "."). An excluded directory is skipped whole
// unless .dockerignore has exceptions ("!"), which may re-include a file
// below it, as Docker's context tar does.
func (c *Context) walk(fn func(rel string, d fs.DirEntry) error) error {
	exceptions := c.pm != nil && c.pm.Exclusions()
	return filepath.WalkDir(c.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(c.Dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		ex, err := c.Excluded(rel)
		if err != nil {
			return err
		}
		if ex {
			if d.IsDir() && !exceptions {
				return filepath.SkipDir
			}
			return nil
		}
		return fn(rel, d)
	})
}

// Size is the number of bytes the context would take as the tar the docker
// CLI sends ("Sending build context to Docker daemon  2.048kB"): a header
// per entry, the contents in 512-byte blocks, and the two zero blocks at
// the end. A Dockerfile outside the context is sent too.
func (c *Context) Size() (int64, error) {
	cw := &countWriter{}
	tw := tar.NewWriter(cw)
	var content int64
	add := func(name string, fi fs.FileInfo) error {
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			l, err := os.Readlink(filepath.Join(c.Dir, name))
			if err != nil {
				return err
			}
			link = l
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("context entry %s: %w", name, err)
		}
		hdr.Name = name
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		size := hdr.Size
		hdr.Size = 0 // the header's size as if empty: the body is counted below
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("context entry %s: %w", name, err)
		}
		content += (size + 511) &^ 511
		return nil
	}
	err := c.walk(func(rel string, d fs.DirEntry) error {
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil // tar has no sockets
		}
		return add(rel, fi)
	})
	if err != nil {
		return 0, fmt.Errorf("size of the build context %s: %w", c.Dir, err)
	}
	if c.Dockerfile != "" && c.dockerfileRel() == "" {
		fi, err := os.Stat(c.Dockerfile)
		if err != nil {
			return 0, fmt.Errorf("size of the build context: %w", err)
		}
		if err := add(".dockerfile", fi); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return cw.n + content, nil
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// ReadDockerfile reads the context's Dockerfile; a relative name is looked
// up inside the context (a context from a tar), never outside it.
func (c *Context) ReadDockerfile() ([]byte, error) {
	name := c.Dockerfile
	if name == "" {
		name = "Dockerfile"
	}
	if filepath.IsAbs(name) {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("cannot locate specified Dockerfile: %w", err)
		}
		return b, nil
	}
	r, err := openRoot(c.Dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fd, err := r.open(name, unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("Cannot locate specified Dockerfile: %s", name) //nolint:staticcheck // Docker's text
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return io.ReadAll(f)
}

// Source is one file or directory a COPY or ADD names, found in a context.
// Rel is its clean path relative to the context, as the instruction names
// it (or as a wildcard matched it); Info describes what it resolves to
// (a symlink named by COPY is followed, inside the context).
type Source struct {
	Rel  string
	Info fs.FileInfo

	ctx *Context // where it was found: the directory and the ignore rules
}

// Sources finds a COPY's sources: each pattern is a path relative to the
// context (a leading "/" or "./" is dropped, as Docker does), possibly with
// wildcards (`*`, `?`, `[...]`, matched by filepath.Match per path element,
// Docker's rule), which match what the context sends. A path that climbs out
// ("../x") is refused; a symlink is followed inside the context, never out
// of it; an ignored path is not there. Errors read as Docker's:
// "COPY failed: file not found in build context or excluded by
// .dockerignore: stat x: file does not exist",
// "COPY failed: no source files were specified".
func (c *Context) Sources(patterns []string) ([]Source, error) {
	return c.SourcesFor("COPY", patterns)
}

// SourcesFor is Sources for the instruction kind ("COPY" or "ADD"), which
// begins its error messages. URLs are the builder's to download: they are
// not context paths.
func (c *Context) SourcesFor(kind string, patterns []string) ([]Source, error) {
	fail := func(err error) ([]Source, error) { return nil, fmt.Errorf("%s failed: %w", kind, err) }
	if len(patterns) == 0 {
		return fail(ErrNoSources)
	}
	r, err := openRoot(c.Dir)
	if err != nil {
		return fail(err)
	}
	defer r.Close()
	var out []Source
	for _, pat := range patterns {
		p := strings.TrimLeft(filepath.ToSlash(pat), "/")
		p = strings.TrimPrefix(p, "./")
		clean := strings.TrimLeft(path.Clean(p), "/") // "./" + "/x" is still /x
		if clean == "" {
			clean = "."
		}
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return fail(fmt.Errorf("forbidden path outside the build context: %s ()", pat))
		}
		if !hasWildcards(clean) {
			s, err := c.source(r, clean)
			if err != nil {
				return fail(err)
			}
			out = append(out, s)
			continue
		}
		if _, err := path.Match(clean, ""); err != nil {
			return fail(fmt.Errorf("bad pattern %q: %w", pat, err))
		}
		n := 0
		err := c.walk(func(rel string, d fs.DirEntry) error {
			ok, _ := path.Match(clean, rel)
			if !ok {
				return nil
			}
			s, err := c.source(r, rel)
			if err != nil {
				return err
			}
			out = append(out, s)
			n++
			if d.IsDir() {
				return filepath.SkipDir // the whole directory is one source
			}
			return nil
		})
		if err != nil {
			return fail(err)
		}
		if n == 0 {
			return fail(ErrNoSources)
		}
	}
	return out, nil
}

// source stats rel inside the context: resolved in the root (a symlink
// followed, but kept inside), and neither it nor what it resolves to
// hidden by .dockerignore.
func (c *Context) source(r *root, rel string) (Source, error) {
	notFound := &NotFoundError{Path: rel, Ignored: c.pm != nil || c.Dockerfile != ""}
	if ex, err := c.Excluded(rel); err != nil {
		return Source{}, err
	} else if ex {
		return Source{}, notFound
	}
	fd, err := r.open(rel, unix.O_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
		return Source{}, notFound
	}
	if err != nil {
		return Source{}, err
	}
	f := os.NewFile(uintptr(fd), path.Base(rel))
	defer f.Close()
	real, err := r.rel(fd)
	if err != nil {
		return Source{}, err
	}
	if ex, err := c.Excluded(real); err != nil {
		return Source{}, err
	} else if ex {
		return Source{}, notFound
	}
	fi, err := f.Stat()
	if err != nil {
		return Source{}, fmt.Errorf("stat %s: %w", rel, err)
	}
	return Source{Rel: rel, Info: fi, ctx: c}, nil
}

// hasWildcards is Docker's containsWildcards: an unescaped *, ? or [.
func hasWildcards(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}
