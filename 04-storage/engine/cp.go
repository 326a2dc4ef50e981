package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// `cp` works on paths inside the container's root file system, which the
// container's processes may have filled with symbolic links. Joining the
// strings "ROOT" + "/link/x" would follow a link to /etc of the host
// (CVE-2018-15664's class). openat2(2) with RESOLVE_IN_ROOT resolves every
// component as if ROOT were "/": ".." stops at ROOT and absolute links
// start from it. Below the first component we walk with *at(2) calls and
// O_NOFOLLOW, so nothing is ever resolved against the host's root.

// withRoot opens the container's root as a directory descriptor: the
// running container's own view (/proc/PID/root: its mounts, volumes too),
// or a stopped one's root mounted for the copy.
func (e *Engine) withRoot(ref string, fn func(root int) error) error {
	return e.withContainer(ref, func(in *Info, _ *lock) error {
		var dir string
		if in.State.Running && alive(in.State.Pid, in.State.PidStart) {
			dir = fmt.Sprintf("/proc/%d/root", in.State.Pid)
		} else {
			root, _, err := e.opts.Storage.Mount(in.Container)
			if err != nil {
				return err
			}
			defer e.opts.Storage.Unmount(in.Container)
			dir = root
		}
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the container's root: %w", err)
		}
		defer unix.Close(fd)
		return fn(fd)
	})
}

// openIn opens p inside the root; the last component is not followed
// when nofollow is set (so a link is copied as a link).
func openIn(root int, p string, flags uint64, nofollow bool) (int, error) {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	if nofollow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Openat2(root, rel, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return fd, nil
}

// CopyFrom copies src in the container to dst on the host (a file, a
// directory tree, or a link). An existing directory dst receives src by
// its name, as cp(1) and Docker do.
func (e *Engine) CopyFrom(ref, src, dst string) error {
	return e.withRoot(ref, func(root int) error {
		fd, err := openIn(root, src, unix.O_PATH, true)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("Could not find the file %s in container %s", src, ref)
			}
			return err
		}
		defer unix.Close(fd)
		if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
			name := path.Base(path.Clean("/" + src))
			if name == "/" {
				name = "."
			}
			dst = filepath.Join(dst, name)
		}
		return copyOut(fd, "", dst)
	})
}

// copyOut copies the object at (dirfd, name) — name "" means dirfd itself —
// to the host path dst.
func copyOut(dirfd int, name, dst string) error {
	var st unix.Stat_t
	flags := unix.AT_SYMLINK_NOFOLLOW
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.Fstatat(dirfd, name, &st, flags); err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	mode := os.FileMode(st.Mode & 0o7777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", name, err)
		}
		return os.Symlink(string(buf[:n]), dst)
	case unix.S_IFREG:
		fd, err := reopen(dirfd, name, unix.O_RDONLY)
		if err != nil {
			return err
		}
		in := os.NewFile(uintptr(fd), name)
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode.Perm())
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	case unix.S_IFDIR:
		fd, err := reopen(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		dir := os.NewFile(uintptr(fd), name)
		defer dir.Close()
		if err := os.Mkdir(dst, mode.Perm()|0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		names, err := dir.Readdirnames(-1)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := copyOut(fd, n, filepath.Join(dst, n)); err != nil {
				return err
			}
		}
		return os.Chmod(dst, mode.Perm())
	}
	return nil // devices, sockets, FIFOs: not copied
}

// reopen opens (dirfd, name) for reading without following a link.
func reopen(dirfd int, name string, flags int) (int, error) {
	if name == "" {
		// dirfd is an O_PATH descriptor: /proc/self/fd reopens it.
		fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", dirfd), flags|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, fmt.Errorf("open: %w", err)
		}
		return fd, nil
	}
	fd, err := unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", name, err)
	}
	return fd, nil
}

// CopyTo copies src on the host to dst in the container. An existing
// directory dst (resolved inside the root) receives src by its name.
func (e *Engine) CopyTo(ref, src, dst string) error {
	if _, err := os.Lstat(src); err != nil {
		return fmt.Errorf("could not find the file %s: %w", src, err)
	}
	return e.withRoot(ref, func(root int) error {
		parent, name := path.Split(path.Clean("/" + dst))
		if fd, err := openIn(root, dst, unix.O_PATH|unix.O_DIRECTORY, false); err == nil {
			// dst is a directory: src goes inside it.
			defer unix.Close(fd)
			return copyIn(src, fd, filepath.Base(src))
		}
		pfd, err := openIn(root, parent, unix.O_PATH|unix.O_DIRECTORY, false)
		if err != nil {
			return fmt.Errorf("the directory %s is not in the container: %w", parent, err)
		}
		defer unix.Close(pfd)
		return copyIn(src, pfd, name)
	})
}

// copyIn copies the host's src to (dirfd, name), owned by root as Docker
// makes it.
func copyIn(src string, dirfd int, name string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		unix.Unlinkat(dirfd, name, 0)
		return unix.Symlinkat(target, dirfd, name)
	case fi.Mode().IsRegular():
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(fi.Mode().Perm()))
		if err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		out := os.NewFile(uintptr(fd), name)
		_, err = io.Copy(out, in)
		if err == nil {
			err = out.Chmod(fi.Mode().Perm())
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	case fi.IsDir():
		if err := unix.Mkdirat(dirfd, name, uint32(fi.Mode().Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir %s: %w", name, err)
		}
		fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		defer unix.Close(fd)
		entries, err := os.ReadDir(src)
		if err != nil {
			return err
		}
		for _, en := range entries {
			if err := copyIn(filepath.Join(src, en.Name()), fd, en.Name()); err != nil {
				return err
			}
		}
		return nil
	}
	return nil
}
