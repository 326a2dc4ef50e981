//go:build linux

package splice

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// openRoot opens the submission's directory, the root every submission
// file is read beneath.
func openRoot(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// readBeneath reads the file rel beneath root without following any
// symbolic link, in rel or in the directories above it: openat2(2) with
// RESOLVE_BENEATH refuses a path that leaves root (.. or an absolute link)
// and RESOLVE_NO_SYMLINKS refuses every symlink on the way (ELOOP). A file
// that is not a regular one (a symlink, a FIFO, a device, a directory)
// is errNotRegular, so that its regions are graded as their stubs; a file
// that does not exist is fs.ErrNotExist. O_NONBLOCK: opening a FIFO must
// not wait for a writer.
func readBeneath(root *os.File, rel string) ([]byte, error) {
	fd, err := unix.Openat2(int(root.Fd()), rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case errors.Is(err, unix.ENOSYS):
		return readBeneathPortable(root.Name(), rel) // a kernel before 5.6
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return nil, fmt.Errorf("%w: a symbolic link (or under one)", errNotRegular)
	case errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("%w: a directory on its path is not a directory", errNotRegular)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s", errNotRegular, kindOf(fi.Mode()))
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return b, nil
}
