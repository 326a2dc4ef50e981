package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// InRoot returns where path, read as if root were "/", lies on the host.
// Symbolic links are followed the way the container will see them: an
// absolute target starts again at root, and ".." stops at root. A plain
// filepath.Join is not enough: an image may hold /dev as a link to /, or
// /etc/passwd as a link to ../../../../etc/shadow, and a runtime that
// follows it on the host mounts or reads outside the container. Parts that
// do not exist yet are kept as written, for the caller to create.
//
// InRoot only computes a name: between it and the use of that name the
// files may change. Setup mounts through descriptors instead (see
// resolve_linux.go); InRoot serves what only reads a file of the image
// (/etc/passwd) and the fallback for kernels without openat2.
func InRoot(root, path string) (string, error) {
	resolved := "/" // the part done so far, as the container sees it
	rest := path
	for links := 0; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(strings.TrimLeft(rest, "/"), "/")
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved) // the parent of "/" is "/"
			continue
		}
		next := filepath.Join(resolved, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if errors.Is(err, fs.ErrNotExist) {
			resolved = next
			continue
		}
		if err != nil {
			// EACCES is no "does not exist": the caller would create the
			// path, or read another file, where one may well be.
			return "", fmt.Errorf("resolve %s in %s: %w", path, root, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > 255 {
			return "", fmt.Errorf("resolve %s in %s: too many levels of symbolic links", path, root)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		rest = target + "/" + rest
	}
	return filepath.Join(root, resolved), nil
}
