package buildctx

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// CopyOptions are a COPY's or ADD's flags.
type CopyOptions struct {
	// From is the directory the sources are relative to: "" = the context
	// Sources found them in; a stage's root filesystem for COPY --from.
	From string
	// Chown is --chown (numeric; the builder resolves names in the image's
	// /etc/passwd). nil: root, 0:0, as Docker's COPY makes every file.
	Chown *Owner
	// Chmod is --chmod, applied to the files and directories copied.
	Chmod *fs.FileMode
	// WorkDir is the image's WORKDIR, the base of a relative destination.
	WorkDir string
	// Instruction names the instruction in messages: "COPY" (default) or "ADD".
	Instruction string
}

// CopyInto copies the sources into the root filesystem root at dst, with
// Docker's rules:
//
//   - dst is a directory when it ends in "/" (or "/."), or when it already
//     is one in root; more than one source needs such a dst ("When using
//     COPY with more than one source file, the destination must be a
//     directory and end with a /").
//   - A file source is written to dst, or into dst under its own name when
//     dst is a directory. A directory source's contents (not the directory
//     itself) are copied into dst, which is created.
//   - Missing parent directories are made 0755, owned by root (or by
//     --chown, as Docker's MkdirAllAndChownNew does). Files keep their mode
//     (or get --chmod) and their mtime; their owner is 0:0 or --chown.
//     Owners are set only when running as root.
//
// dst and every name below it are resolved inside root with openat2
// RESOLVE_IN_ROOT: an image whose /app is a symlink to /etc (or to
// ../../../etc) gets its own /etc written, never the host's.
func CopyInto(root string, dst string, srcs []Source, o CopyOptions) error {
	kind := o.Instruction
	if kind == "" {
		kind = "COPY"
	}
	if len(srcs) == 0 {
		return fmt.Errorf("%s failed: %w", kind, ErrNoSources)
	}
	dstDir := strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, "/.") || dst == "."
	if !path.IsAbs(dst) {
		wd := o.WorkDir
		if wd == "" {
			wd = "/"
		}
		dst = path.Join(wd, dst)
	}
	dst = path.Clean(dst)
	if len(srcs) > 1 && !dstDir {
		return fmt.Errorf("When using %s with more than one source file, the destination must be a directory and end with a /", kind) //nolint:staticcheck // Docker's text
	}
	rt, err := openRoot(root)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	defer rt.Close()
	c := copier{
		root:  rt,
		chown: os.Geteuid() == 0,
		chmod: o.Chmod,
	}
	if o.Chown != nil {
		c.uid, c.gid = o.Chown.UID, o.Chown.GID
	}
	if !dstDir {
		// An existing directory is a directory, slash or not.
		if fd, err := rt.open(dst, unix.O_PATH|unix.O_DIRECTORY); err == nil {
			unix.Close(fd)
			dstDir = true
		}
	}
	for _, src := range srcs {
		if err := c.copySource(o.From, src, dst, dstDir); err != nil {
			return fmt.Errorf("%s %s to %s: %w", kind, src.Rel, dst, err)
		}
	}
	return c.dirTimes()
}

type copier struct {
	root     *root
	chown    bool
	uid, gid int
	chmod    *fs.FileMode
	dirs     []dirTime // set at the end: writing a child changes a directory's mtime
}

type dirTime struct {
	rel   string
	times []unix.Timespec
}

func (c *copier) copySource(from string, src Source, dst string, dstDir bool) error {
	return walk(from, src, func(e *entry) error {
		if e.rel == "." {
			if e.kind() == unix.S_IFDIR {
				fd, err := c.root.mkdirAll(dst, 0o755, c.chown, c.uid, c.gid)
				if err != nil {
					return err
				}
				unix.Close(fd)
				return nil
			}
			target := dst
			if dstDir {
				target = path.Join(dst, path.Base(src.Rel))
			}
			return c.put(target, e)
		}
		return c.put(path.Join(dst, e.rel), e)
	})
}

// put creates target (an absolute path in the root) as a copy of e.
func (c *copier) put(target string, e *entry) error {
	parent, base := path.Split(target)
	if base == "" || base == "." || base == ".." {
		return fmt.Errorf("cannot copy to %s: not a file name", target)
	}
	pfd, err := c.root.mkdirAll(parent, 0o755, c.chown, c.uid, c.gid)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	exists := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := exists && st.Mode&unix.S_IFMT == unix.S_IFDIR
	if exists && !(e.kind() == unix.S_IFDIR && isDir) {
		// A later copy wins, as with tar: replace what is there, and never
		// write through it (it may be a symlink to anywhere).
		if err := removeAt(pfd, base); err != nil {
			return err
		}
	}
	mode := e.st.Mode & 0o7777
	if c.chmod != nil {
		mode = unixMode(*c.chmod)
	}
	switch e.kind() {
	case unix.S_IFDIR:
		if !isDir {
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return fmt.Errorf("mkdir %s: %w", target, err)
			}
		}
	case unix.S_IFREG:
		if err := c.writeFile(pfd, base, target, e); err != nil {
			return err
		}
	case unix.S_IFLNK:
		if err := unix.Symlinkat(e.link, pfd, base); err != nil {
			return fmt.Errorf("symlink %s: %w", target, err)
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknodat(pfd, base, e.kind()|0o600, int(e.st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", target, err)
		}
	default:
		return nil
	}
	// chown(2) clears set-id bits, so the mode comes after the owner.
	if c.chown {
		if err := unix.Fchownat(pfd, base, c.uid, c.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("chown %s: %w", target, err)
		}
	}
	if e.kind() != unix.S_IFLNK {
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", target, err)
		}
	}
	times := []unix.Timespec{e.st.Atim, e.st.Mtim}
	if e.kind() == unix.S_IFDIR {
		c.dirs = append(c.dirs, dirTime{rel: target, times: times})
		return nil
	}
	if err := unix.UtimesNanoAt(pfd, base, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimes %s: %w", target, err)
	}
	return nil
}

func (c *copier) writeFile(pfd int, base, target string, e *entry) error {
	in, err := e.open()
	if err != nil {
		return err
	}
	defer in.Close()
	// O_EXCL|O_NOFOLLOW: never write through something that appeared at
	// this name since it was removed.
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", target, err)
	}
	out := os.NewFile(uintptr(fd), target)
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	return nil
}

// dirTimes gives the copied directories their source's times, deepest
// last-written first.
func (c *copier) dirTimes() error {
	for i := len(c.dirs) - 1; i >= 0; i-- {
		d := c.dirs[i]
		parent, base := path.Split(d.rel)
		pfd, err := c.root.open(parent, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			continue
		}
		err = unix.UtimesNanoAt(pfd, base, d.times, unix.AT_SYMLINK_NOFOLLOW)
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("utimes %s: %w", d.rel, err)
		}
	}
	return nil
}
