package storage

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// VFS is the snapshotter that copies: a container's root is a directory of
// its own holding a full copy of every layer, applied bottom to top. It
// works on any file system (overlayfs cannot use some, such as overlayfs
// itself or NFS as an upper layer) and shows what copy-on-write saves: two
// containers of one image cost two copies.
//
//	ROOT/vfs/<id>/rootfs   the container's root
//
// Each layer is applied as a layer tar (WriteTar of its directory, read
// back by the extractor), so the copy is as contained as an extraction, a
// whiteout deletes what the layers below put there, and an opaque
// directory is emptied first. Files are copied, never hard-linked to the
// store: a container writing a file must not change the image.
type VFS struct {
	snapshots
}

func newVFS(store *Store) (*VFS, error) {
	b, err := newSnapshots(store, "vfs")
	if err != nil {
		return nil, err
	}
	return &VFS{b}, nil
}

// Prepare copies the layers into the snapshot's rootfs.
func (v *VFS) Prepare(id string, layers []digest.Digest) error {
	dir, err := v.create(id, layers, "rootfs")
	if err != nil {
		return err
	}
	_, paths, err := v.layers(id)
	if err == nil {
		for _, p := range paths {
			if err = applyDir(p, filepath.Join(dir, "rootfs")); err != nil {
				break
			}
		}
	}
	if err != nil {
		_ = v.Remove(id)
		return fmt.Errorf("prepare %s: %w", id, err)
	}
	return nil
}

// applyDir applies the layer directory src onto dst through a tar stream.
func applyDir(src, dst string) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := WriteTar(pw, src)
		pw.CloseWithError(err)
		done <- err
	}()
	_, err := extract(pr, dst, whiteoutsApply)
	pr.CloseWithError(io.ErrClosedPipe)
	if werr := <-done; err == nil {
		err = werr
	}
	return err
}

// Mount bind-mounts the snapshot's rootfs at target.
func (v *VFS) Mount(id, target string) error {
	if _, _, err := v.layers(id); err != nil {
		return err
	}
	src := v.rootfs(id)
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount snapshot %s: bind %s on %s: %w", id, src, target, err)
	}
	return nil
}

// Changes compares the copy with its layers, file by file.
func (v *VFS) Changes(id string) ([]Change, error) {
	_, paths, err := v.layers(id)
	if err != nil {
		return nil, err
	}
	return naiveChanges(paths, v.rootfs(id))
}

// Diff writes every added or changed path of Changes with its content, and
// a whiteout for every deleted one.
func (v *VFS) Diff(id string, w io.Writer) (digest.Digest, error) {
	changes, err := v.Changes(id)
	if err != nil {
		return "", err
	}
	lw := newLayerWriter(w)
	for _, c := range changes {
		rel := strings.TrimPrefix(c.Path, "/")
		if c.Kind == Deleted {
			err = lw.whiteout(rel)
		} else {
			err = lw.add(filepath.Join(v.rootfs(id), rel), rel)
		}
		if err != nil {
			return "", fmt.Errorf("diff of %s: %w", id, err)
		}
	}
	return lw.close()
}

func (v *VFS) rootfs(id string) string { return filepath.Join(v.dir, id, "rootfs") }
