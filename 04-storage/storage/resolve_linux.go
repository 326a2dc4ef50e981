package storage

import (
	"errors"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// root is an open directory under which every name of a layer is resolved.
// Names are never joined onto its path as strings: each lookup is one
// openat2(2) with RESOLVE_IN_ROOT, so the kernel walks the path as if the
// directory were "/": ".." stops at it, an absolute symlink starts again
// at it, and a symlink planted by an earlier entry can only lead somewhere
// inside. A string join followed by open(2) would follow the same symlink
// to the host's /etc.
type root struct {
	fd   int
	path string
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &root{fd: fd, path: dir}, nil
}

func (r *root) Close() error { return unix.Close(r.fd) }

// open opens rel (clean, relative, "." for the root itself) inside the root.
func (r *root) open(rel string, flags uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(r.fd, rel, &how)
		// EAGAIN: a rename elsewhere raced the walk, and the kernel
		// refuses to guess (openat2(2)); walking again is safe.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat2", Path: path.Join(r.path, rel), Err: err}
		}
		return fd, nil
	}
}

// dir opens rel as a directory (an O_PATH descriptor: good as the dirfd of
// the *at system calls, not for reading).
func (r *root) dir(rel string) (int, error) {
	return r.open(rel, unix.O_PATH|unix.O_DIRECTORY)
}

// mkdirAll opens rel as a directory, first creating what is missing of it
// (mode 0755), as tar does for entries whose parents the archive omits.
func (r *root) mkdirAll(rel string) (int, error) {
	fd, err := r.dir(rel)
	if err == nil || rel == "." || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	pfd, err := r.mkdirAll(path.Dir(rel))
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	err = unix.Mkdirat(pfd, path.Base(rel), 0o755)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("mkdir %s: %w", path.Join(r.path, rel), err)
	}
	fd, err = r.dir(rel)
	if errors.Is(err, unix.ENOENT) {
		// It exists, yet does not resolve: a symbolic link to a place
		// that is not inside the layer (resolved inside, it is missing).
		buf := make([]byte, unix.PathMax)
		if n, lerr := unix.Readlinkat(pfd, path.Base(rel), buf); lerr == nil {
			return -1, fmt.Errorf("%s is a symbolic link to %q, which leads nowhere inside the layer: %w", rel, buf[:n], err)
		}
	}
	return fd, err
}

// procPath names the entry base of the directory open as dirfd by a path
// that xattr calls accept: they have no *at form. The kernel follows the
// /proc/self/fd magic link to the very directory we opened and then looks
// up base alone, so nothing is resolved again by name.
func procPath(dirfd int, base string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, base)
}

// removeAt removes base from the directory dirfd, a whole tree if it is one.
// os.RemoveAll walks with unlinkat and O_NOFOLLOW, never through a link.
func removeAt(dirfd int, base string) error {
	err := unix.Unlinkat(dirfd, base, 0)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
		err = os.RemoveAll(procPath(dirfd, base))
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", base, err)
	}
	return nil
}
