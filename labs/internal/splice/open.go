package splice

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// errNotRegular is a submission file that is not read: a symbolic link, or
// under one, or not a regular file. Its regions are graded as their stubs.
var errNotRegular = errors.New("not a regular file")

// kindOf names a file type that is not a regular file.
func kindOf(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "not a regular file"
}

// readBeneathPortable reads dir/rel, refusing a symlink in any element of
// rel (checked with os.Root's Lstat, which also keeps the path inside dir,
// then opened through the same root). Racy against a submission that
// changes while it is graded, which openat2(2) is not; used only where
// openat2 is missing.
func readBeneathPortable(dir, rel string) ([]byte, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	defer r.Close()
	elems := strings.Split(path.Clean(rel), "/")
	for i := range elems {
		fi, err := r.Lstat(strings.Join(elems[:i+1], "/"))
		if err != nil {
			return nil, err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%w: a symbolic link (or under one)", errNotRegular)
		}
		if i < len(elems)-1 && !fi.IsDir() {
			return nil, fmt.Errorf("%w: a directory on its path is not a directory", errNotRegular)
		}
		if i == len(elems)-1 && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w: %s", errNotRegular, kindOf(fi.Mode()))
		}
	}
	f, err := r.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
