package storage

import (
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Snapshotter gives each container its root filesystem: the read-only
// layers of its image with a read-write layer of its own on top. Every
// method takes the container's snapshot id (a file name).
type Snapshotter interface {
	// Prepare makes the snapshot id from the store's layers (bottom
	// first; none for an empty root) and records that it uses them.
	Prepare(id string, layers []digest.Digest) error
	// Mount mounts the snapshot's root at target, an existing directory.
	// Undo it with Unmount.
	Mount(id, target string) error
	// Changes lists what the container changed, as `docker diff` does.
	Changes(id string) ([]Change, error)
	// Diff writes the container's changes to w as a layer tar (deletions
	// as whiteouts) and returns its diffID: `docker commit`'s new layer.
	Diff(id string, w io.Writer) (digest.Digest, error)
	// Remove deletes the snapshot (unmount it first) and releases its
	// layers. Removing a snapshot that does not exist is no error.
	Remove(id string) error
}

// Drivers are the names NewSnapshotter accepts (--storage-driver).
var Drivers = []string{"overlay", "vfs"}

// NewSnapshotter returns the snapshotter driver ("overlay" or "vfs") over
// the layers of store; its snapshots live beside them in store.Root.
func NewSnapshotter(driver string, store *Store) (Snapshotter, error) {
	switch driver {
	case "overlay":
		return newOverlay(store)
	case "vfs":
		return newVFS(store)
	}
	return nil, fmt.Errorf("storage driver %q: want one of %s", driver, strings.Join(Drivers, ", "))
}

// Commit turns the snapshot id's changes into a new layer of store and
// returns its diffID (the tar streams from Diff straight into Put).
func Commit(s Snapshotter, store *Store, id string) (digest.Digest, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Diff(id, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	d, err := store.Put(pr)
	pr.CloseWithError(io.ErrClosedPipe) // unblocks Diff if Put stopped early
	if derr := <-done; err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", id, err)
	}
	return d, nil
}

func validID(id string) error {
	if id == "" || id == "." || id == ".." || len(id) > 128 || strings.ContainsAny(id, "/\x00,:") {
		return fmt.Errorf("snapshot id %q: want a file name of at most 128 bytes without , or :", id)
	}
	return nil
}
