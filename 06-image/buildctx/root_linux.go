package buildctx

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// root is an open directory under which names are resolved by the kernel,
// never by joining strings: each lookup is one openat2(2) with
// RESOLVE_IN_ROOT, so ".." stops at the directory, an absolute symlink starts
// again at it, and no symlink leads out (04-storage's Extract does the same).
// Both sides of a COPY use it: the build context (a symlink "evil -> /etc"
// in it means the context's own etc) and the container's root filesystem
// (an image's "/usr -> /host-usr" stays inside the image).
type root struct {
	fd   int
	path string // for messages
	real string // the directory's resolved path, to name descriptors relative to it
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	real, err := fdPath(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &root{fd: fd, path: dir, real: real}, nil
}

func (r *root) Close() error { return unix.Close(r.fd) }

// open opens rel (relative; "." is the root) inside the root, following
// symlinks as if the root were "/".
func (r *root) open(rel string, flags int) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	rel = strings.TrimLeft(rel, "/")
	if rel == "" {
		rel = "."
	}
	for {
		fd, err := unix.Openat2(r.fd, rel, &how)
		// EAGAIN: a rename raced the walk and the kernel refuses to guess.
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat2", Path: path.Join(r.path, rel), Err: err}
		}
		return fd, nil
	}
}

// rel names the open descriptor fd relative to the root ("." for itself),
// from the kernel's own name for it (/proc/self/fd).
func (r *root) rel(fd int) (string, error) {
	p, err := fdPath(fd)
	if err != nil {
		return "", err
	}
	if p == r.real {
		return ".", nil
	}
	rel, ok := strings.CutPrefix(p, strings.TrimSuffix(r.real, "/")+"/")
	if !ok {
		return "", fmt.Errorf("%s resolved to %s, outside %s", r.path, p, r.real)
	}
	return rel, nil
}

// mkdirAll opens the directory rel inside the root, creating what is
// missing of it with mode and, when chown, owner uid:gid. A symlink on the
// way that points to a directory not there yet gets its target made, inside
// the root, as Docker's builder does for `COPY x /link/` (it resolves the
// link in the root's scope, then creates the directories).
func (r *root) mkdirAll(rel string, mode uint32, chown bool, uid, gid int) (int, error) {
	return r.mkdirAllDepth(rel, mode, chown, uid, gid, 0)
}

func (r *root) mkdirAllDepth(rel string, mode uint32, chown bool, uid, gid, depth int) (int, error) {
	rel = path.Clean("/" + rel)[1:]
	if rel == "" {
		rel = "."
	}
	fd, err := r.open(rel, unix.O_PATH|unix.O_DIRECTORY)
	if err == nil || rel == "." || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	pfd, err := r.mkdirAllDepth(path.Dir(rel), mode, chown, uid, gid, depth)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	base := path.Base(rel)
	err = unix.Mkdirat(pfd, base, mode)
	if err == nil {
		// mkdir(2) applies the umask; the mode asked for is the mode meant.
		if err := unix.Fchmodat(pfd, base, mode, 0); err != nil {
			return -1, fmt.Errorf("chmod %s: %w", rel, err)
		}
		if chown {
			if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return -1, fmt.Errorf("chown %s: %w", rel, err)
			}
		}
	} else if !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("mkdir %s: %w", path.Join(r.path, rel), err)
	}
	fd, err = r.open(rel, unix.O_PATH|unix.O_DIRECTORY)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	// It exists, yet does not resolve: a symlink to a place not there
	// (inside the root). Make that place, then look again.
	buf := make([]byte, unix.PathMax)
	n, lerr := unix.Readlinkat(pfd, base, buf)
	if lerr != nil {
		return -1, err
	}
	if depth >= 40 { // the kernel's own limit on links in one lookup
		return -1, fmt.Errorf("%s: %w", path.Join(r.path, rel), unix.ELOOP)
	}
	target := string(buf[:n])
	if !path.IsAbs(target) {
		target = path.Join(path.Dir(rel), target)
	}
	tfd, err := r.mkdirAllDepth(target, mode, chown, uid, gid, depth+1)
	if err != nil {
		return -1, fmt.Errorf("%s is a symbolic link to %q: %w", rel, buf[:n], err)
	}
	unix.Close(tfd)
	return r.open(rel, unix.O_PATH|unix.O_DIRECTORY)
}

// fdPath is the path the kernel has for an open descriptor.
func fdPath(fd int) (string, error) {
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return "", fmt.Errorf("name of descriptor %d: %w", fd, err)
	}
	return p, nil
}

// procPath names the entry base of the directory open as dirfd, for calls
// that have no *at form: the kernel follows the /proc/self/fd magic link to
// the very directory opened, then looks up base alone.
func procPath(dirfd int, base string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, base)
}

// removeAt removes base from the directory dirfd, a whole tree if it is
// one, never following a link.
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
