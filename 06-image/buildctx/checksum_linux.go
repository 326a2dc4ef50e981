package buildctx

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Owner is a numeric user and group, COPY --chown's.
type Owner struct{ UID, GID int }

// Checksum is the sources' part of a COPY or ADD's cache key: a sha256
// over what the copy puts into the image. For each source in order, and
// each file of a directory source in lexical order, it hashes the path the
// file lands at (a file source's base name, a directory's contents relative
// to it), its type, its mode after --chmod, its owner after --chown (the
// file's own without it, as Docker's tarsum did), a device's number, a
// symlink's target and a regular file's content. It never hashes times: a
// `touch` or a fresh `git clone` must not miss the cache, since the layer
// would be the same. root is the directory the sources are in ("" = the
// context Sources found them in).
func Checksum(srcs []Source, root string, chown *Owner, chmod *fs.FileMode) (digest.Digest, error) {
	// LAB 06.4 BEGIN: hash what lands in the image: names, types, modes, owners, link targets, contents; never times
	h := sha256.New()
	for i, src := range srcs {
		fmt.Fprintf(h, "source %d\n", i)
		err := walk(root, src, func(e *entry) error {
			name := e.rel
			if name == "." && e.kind() != unix.S_IFDIR {
				name = path.Base(src.Rel)
			}
			mode := e.st.Mode & 0o7777
			if chmod != nil && e.kind() != unix.S_IFLNK {
				mode = unixMode(*chmod)
			}
			uid, gid := int(e.st.Uid), int(e.st.Gid)
			if chown != nil {
				uid, gid = chown.UID, chown.GID
			}
			if name == "." {
				// A directory source's contents land in the destination,
				// the directory itself does not.
				fmt.Fprintf(h, "dir .\n")
				return nil
			}
			fmt.Fprintf(h, "%q %o %o %d:%d %d %q", name, e.kind(), mode, uid, gid, e.st.Rdev, e.link)
			if e.kind() == unix.S_IFREG {
				f, err := e.open()
				if err != nil {
					return err
				}
				c := sha256.New()
				_, err = io.Copy(c, f)
				f.Close()
				if err != nil {
					return fmt.Errorf("read %s: %w", e.rel, err)
				}
				fmt.Fprintf(h, " %x", c.Sum(nil))
			}
			_, err := io.WriteString(h, "\n")
			return err
		})
		if err != nil {
			return "", fmt.Errorf("checksum of %s: %w", src.Rel, err)
		}
	}
	return digest.NewDigest(digest.SHA256, h), nil
	// LAB 06.4 END
	// LAB 06.4 STUB: lab.WarnOnce("06.4") // names only: a changed file still hits the cache
	// LAB 06.4 STUB: _, _, _ = root, chown, chmod
	// LAB 06.4 STUB: h := sha256.New()
	// LAB 06.4 STUB: for _, src := range srcs {
	// LAB 06.4 STUB: fmt.Fprintf(h, "%s\n", src.Rel)
	// LAB 06.4 STUB: }
	// LAB 06.4 STUB: return digest.NewDigest(digest.SHA256, h), nil
}

// unixMode is a Go file mode's permission and set-id/sticky bits as
// chmod(2) takes them.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}
