package buildctx

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"

	"golang.org/x/sys/unix"
)

// entry is one file of a source tree as walk hands it out.
type entry struct {
	rel  string // relative to the source: "." for the source itself
	st   unix.Stat_t
	link string // a symlink's target
	// open opens a regular file for reading, without following a link.
	open func() (*os.File, error)
}

func (e *entry) kind() uint32 { return e.st.Mode & unix.S_IFMT }

// walk visits the source src below the directory dir (the context, or a
// stage's root filesystem; "" = where Sources found it): first the source
// itself, resolved inside dir as COPY names it (a symlink followed, but
// never out of dir), then, for a directory, everything below it in lexical
// order, directories before their contents, where nothing is followed any
// more (a symlink is copied as a symlink). What the context's .dockerignore
// hides is skipped, as Docker never sends it.
func walk(dir string, src Source, fn func(e *entry) error) error {
	if dir == "" && src.ctx != nil {
		dir = src.ctx.Dir
	}
	if dir == "" {
		return fmt.Errorf("source %s: no directory to read it from", src.Rel)
	}
	r, err := openRoot(dir)
	if err != nil {
		return err
	}
	defer r.Close()
	fd, err := r.open(src.Rel, unix.O_PATH)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return &NotFoundError{Path: src.Rel, Ignored: src.ctx != nil && (src.ctx.pm != nil || src.ctx.Dockerfile != "")}
		}
		return err
	}
	defer unix.Close(fd)
	real, err := r.rel(fd)
	if err != nil {
		return err
	}
	e := &entry{rel: "."}
	if err := unix.Fstat(fd, &e.st); err != nil {
		return fmt.Errorf("stat %s: %w", src.Rel, err)
	}
	switch e.kind() {
	case unix.S_IFREG:
		e.open = func() (*os.File, error) { return reopen(fd, unix.O_RDONLY, src.Rel) }
	case unix.S_IFDIR:
		if err := fn(e); err != nil {
			return err
		}
		w := walker{ctx: src.ctx, fn: fn}
		return w.dir(fd, ".", real)
	}
	return fn(e)
}

// reopen opens the file an O_PATH descriptor stands for, for real I/O: the
// /proc/self/fd magic link leads to that very inode, not to a name that
// might have changed since.
func reopen(fd, flags int, name string) (*os.File, error) {
	nfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return os.NewFile(uintptr(nfd), name), nil
}

type walker struct {
	ctx *Context
	fn  func(e *entry) error
}

// dir visits the children of the directory fd (O_PATH), which is rel below
// the source and real below the context root.
func (w *walker) dir(fd int, rel, real string) error {
	d, err := reopen(fd, unix.O_RDONLY|unix.O_DIRECTORY, rel)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("read directory %s: %w", rel, err)
	}
	sort.Strings(names)
	for _, name := range names {
		crel, creal := path.Join(rel, name), path.Join(real, name)
		e := &entry{rel: crel}
		if err := unix.Fstatat(fd, name, &e.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed meanwhile
			}
			return fmt.Errorf("stat %s: %w", crel, err)
		}
		excluded := false
		if w.ctx != nil {
			if excluded, err = w.ctx.Excluded(creal); err != nil {
				return err
			}
		}
		if excluded && (e.kind() != unix.S_IFDIR || !w.ctx.pm.Exclusions()) {
			continue
		}
		switch e.kind() {
		case unix.S_IFSOCK:
			continue // not something a tar or an image holds
		case unix.S_IFLNK:
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(fd, name, buf)
			if err != nil {
				return fmt.Errorf("readlink %s: %w", crel, err)
			}
			e.link = string(buf[:n])
		case unix.S_IFREG:
			e.open = func() (*os.File, error) {
				f, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				if err != nil {
					return nil, fmt.Errorf("open %s: %w", crel, err)
				}
				return os.NewFile(uintptr(f), crel), nil
			}
		case unix.S_IFDIR:
			if !excluded { // an excluded directory with exceptions below: only those
				if err := w.fn(e); err != nil {
					return err
				}
			}
			cfd, err := unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s: %w", crel, err)
			}
			err = w.dir(cfd, crel, creal)
			unix.Close(cfd)
			if err != nil {
				return err
			}
			continue
		}
		if excluded {
			continue
		}
		if err := w.fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Open opens a file source for reading, resolved inside dir ("" = the
// context Sources found it in) as COPY resolves it: a symlink is followed,
// never out of dir. ADD uses it to read a local archive; opening the
// context path by name instead would follow `evil.tar -> /root/x.tar` out
// of the context.
func (s Source) Open(dir string) (*os.File, error) {
	if dir == "" && s.ctx != nil {
		dir = s.ctx.Dir
	}
	r, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fd, err := r.open(s.Rel, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), s.Rel), nil
}
