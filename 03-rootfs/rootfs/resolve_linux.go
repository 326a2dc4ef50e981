package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Mount targets are resolved inside the root and mounted through a
// descriptor, never by a path that is looked up a second time.
//
// Why: the runtime mounts while the container's files may be changed by
// someone else, say another container that shares a volume with this one.
// If the runtime first resolves /data to rootfs/data, checks it, and then
// calls mount(2) with the path, the other side can swap rootfs/data for a
// symbolic link to /etc in between, and the runtime mounts over the host's
// /etc. That is runc's CVE-2021-30465. So:
//
//  1. openat2(2) with RESOLVE_IN_ROOT resolves the path as if the root were
//     "/": an absolute link starts again at the root, ".." stops there.
//     RESOLVE_NO_MAGICLINKS refuses /proc/<pid>/fd/... links inside it,
//     which point wherever their process's files are.
//  2. What is missing is created one level at a time, each with mkdirat(2)
//     in the directory we hold open, then opened again inside the root.
//  3. The O_PATH descriptor that results is the mount point. mount(2) takes
//     only paths, so we give it /proc/self/fd/N: the kernel follows that
//     "magic link" to the very file we opened, whatever its name says now.
//  4. A later change of the new mount (a bind's "ro", propagation) goes
//     through its root, opened again and checked (reopenMounted).
//
// Without openat2 (Linux before 5.6) minibox refuses to mount: see
// errNoOpenat2.

// leaf says what to create at the end of a path that is missing.
type leaf int

const (
	mustExist leaf = iota // create nothing: the path must exist
	mkDir                 // a directory, as a mount point for a directory
	mkFile                // an empty file, as a mount point for a file
)

// rootDir is the container's root, held open while Setup mounts into it.
type rootDir struct {
	path string
	fd   int
}

// openRoot opens the directory root. Open it after it became a mount (the
// bind mount onto itself): a descriptor of the directory underneath would
// put the mounts below the bind mount, where the container never sees them.
func openRoot(root string) (*rootDir, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the root %s: %w", root, err)
	}
	return &rootDir{path: root, fd: fd}, nil
}

// close closes the root's descriptor; a second call does nothing.
func (r *rootDir) close() {
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// procPath is the magic link through which mount(2) and friends reach what
// f is open on.
func procPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// haveOpenat2 says whether openat2(2) works here: not before Linux 5.6,
// and not under a seccomp profile older than the call (old Docker profiles
// answer EPERM). It is asked once, on "/".
var haveOpenat2 = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// useOpenat2 is turned off by tests, to try the fallback here.
var useOpenat2 = true

// open returns an O_PATH descriptor of path inside the root, creating what
// is missing as create says. Errors keep their errno: a permission error
// is EACCES (or EPERM), never "does not exist".
func (r *rootDir) open(path string, create leaf) (*os.File, error) {
	if useOpenat2 && haveOpenat2() {
		return r.openat2(path, create)
	}
	return r.openLegacy(path, create)
}

// resolve is openat2(2) of path under the root with RESOLVE_IN_ROOT.
func (r *rootDir) resolve(path string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	if path == "" {
		path = "."
	}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(r.fd, path, &how)
		// EAGAIN: a rename raced with a ".." step, and the kernel could
		// not prove that the walk stayed inside the root. Walk again.
		if err == unix.EINTR || (err == unix.EAGAIN && try < 100) {
			continue
		}
		return fd, err
	}
}

func (r *rootDir) openat2(path string, create leaf) (*os.File, error) {
	rest := components(path)
	var done []string // resolved by the kernel on every open, as written
	dir, err := r.resolve("")
	if err != nil {
		return nil, r.err("resolve", path, err)
	}
	defer func() {
		if dir >= 0 {
			unix.Close(dir)
		}
	}()
	for links := 0; len(rest) > 0; {
		part := rest[0]
		next := strings.Join(append(done, part), "/")
		fd, err := r.resolve(next)
		if errors.Is(err, unix.ENOENT) && create != mustExist {
			last := len(rest) == 1
			if err := makeAt(dir, part, last && create == mkFile); err != nil {
				return nil, r.err("create", next, err)
			}
			fd, err = r.resolve(next)
			if errors.Is(err, unix.ENOENT) {
				// part is there (mkdirat said EEXIST) and yet does not
				// resolve: a symbolic link to something missing. Follow
				// it by hand, still inside the root, and create its
				// target.
				target, lerr := readlinkAt(dir, part)
				if lerr != nil {
					return nil, r.err("resolve", next, err)
				}
				if links++; links > 40 {
					return nil, r.err("resolve", path, unix.ELOOP)
				}
				if filepath.IsAbs(target) {
					done = nil
					unix.Close(dir)
					if dir, err = r.resolve(""); err != nil {
						return nil, r.err("resolve", path, err)
					}
				}
				rest = append(components(target), rest[1:]...)
				continue
			}
		}
		if err != nil {
			return nil, r.err("resolve", next, err)
		}
		unix.Close(dir)
		dir = fd
		done = append(done, part)
		rest = rest[1:]
	}
	f := os.NewFile(uintptr(dir), filepath.Join(r.path, path))
	dir = -1 // f owns it now
	return f, nil
}

// makeAt creates name in the directory dir: an empty file or a directory.
// Neither call follows a symbolic link in name's place; one that is there
// already makes it EEXIST, which is fine: the caller resolves name again.
func makeAt(dir int, name string, file bool) error {
	if name == ".." {
		return unix.ENOENT
	}
	var err error
	if file {
		var fd int
		fd, err = unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
	} else {
		err = unix.Mkdirat(dir, name, 0o755)
	}
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	return err
}

// readlinkAt reads the symbolic link name in dir.
func readlinkAt(dir int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// reopenMounted returns the root of the mount just made on under (a
// descriptor of the target opened before the mount, which still names the
// directory underneath). It opens the same path again, as the kernel named
// under (symbolic links resolved), with no link followed now, and checks
// that it is a mount's root (STATX_ATTR_MOUNT_ROOT) of another mount than
// under's: else the target was swapped after the mount, and we refuse
// rather than change some other mount.
func (r *rootDir) reopenMounted(under *os.File) (*os.File, error) {
	mntID := func(fd int) (unix.Statx_t, error) {
		var st unix.Statx_t
		err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &st)
		if err == nil && (st.Mask&unix.STATX_MNT_ID == 0 || st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0) {
			err = errors.New("this kernel's statx(2) reports no mount ID or mount root (Linux 5.8+)")
		}
		return st, err
	}
	fail := func(err error) (*os.File, error) {
		return nil, fmt.Errorf("reopen the new mount at %s: %w", under.Name(), err)
	}
	before, err := mntID(int(under.Fd()))
	if err != nil {
		return fail(err)
	}
	real, err := os.Readlink(procPath(under))
	if err != nil {
		return fail(err)
	}
	root, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", r.fd))
	if err != nil {
		return fail(err)
	}
	rel, ok := strings.CutPrefix(real, root)
	if root == "/" {
		rel, ok = real, true
	}
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return fail(fmt.Errorf("it is at %s, outside the root %s", real, root))
	}
	fd, err := unix.Openat2(r.fd, "."+rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fail(fmt.Errorf("was it swapped? %w", err))
	}
	f := os.NewFile(uintptr(fd), under.Name())
	after, err := mntID(fd)
	if err == nil && (after.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 || after.Mnt_id == before.Mnt_id) {
		err = errors.New("it is not the root of the new mount: the target was swapped after the mount")
	}
	if err != nil {
		f.Close()
		return fail(err)
	}
	return f, nil
}

// errNoOpenat2 is what open says without openat2(2). Resolving by hand and
// then creating with mkdir/open by path, as this fallback once did, follows
// a symbolic link swapped in between before any check can see it (runc's
// CVE-2024-45310): there is no safe way to create a mount target without
// RESOLVE_IN_ROOT, so minibox refuses.
var errNoOpenat2 = errors.New("this kernel lacks openat2 (Linux 5.6+): minibox cannot resolve mount targets safely")

// openLegacy is open without openat2(2): it fails closed.
func (r *rootDir) openLegacy(path string, _ leaf) (*os.File, error) {
	return nil, r.err("resolve", path, errNoOpenat2)
}

func (r *rootDir) err(op, path string, err error) error {
	return fmt.Errorf("%s %s in the root %s: %w", op, "/"+strings.TrimPrefix(path, "/"), r.path, err)
}

// components splits a path into its names, without empty ones and ".".
func components(path string) []string {
	var out []string
	for _, p := range strings.Split(path, "/") {
		if p != "" && p != "." {
			out = append(out, p)
		}
	}
	return out
}
