package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"minibox/internal/atomicfile"
)

// snapshots is what both drivers keep per snapshot: a directory
// ROOT/<driver>/<id> with layers.json (the image's diffIDs, bottom first),
// and a "used by" record on each of those layers.
type snapshots struct {
	store  *Store
	driver string
	dir    string // ROOT/<driver>
}

func newSnapshots(store *Store, driver string) (snapshots, error) {
	dir := filepath.Join(store.Root, driver)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return snapshots{}, fmt.Errorf("%s snapshotter: %w", driver, err)
	}
	return snapshots{store: store, driver: driver, dir: dir}, nil
}

func (b snapshots) user(id string) string { return "snapshot-" + b.driver + "-" + id }

// create makes the snapshot's directory with the given subdirectories.
func (b snapshots) create(id string, layers []digest.Digest, subdirs ...string) (_ string, err error) {
	if err := validID(id); err != nil {
		return "", err
	}
	dir := filepath.Join(b.dir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("prepare %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := b.store.Use(b.user(id), layers...); err != nil {
		return "", fmt.Errorf("prepare %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			_ = b.store.Release(b.user(id), layers...)
		}
	}()
	js, err := json.Marshal(layers)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "layers.json"), js, 0o600); err != nil {
		return "", fmt.Errorf("prepare %s: %w", id, err)
	}
	for _, s := range subdirs {
		if err := os.Mkdir(filepath.Join(dir, s), 0o755); err != nil {
			return "", fmt.Errorf("prepare %s: %w", id, err)
		}
	}
	return dir, nil
}

// layers returns the snapshot's diffIDs and their directories, bottom first.
func (b snapshots) layers(id string) ([]digest.Digest, []string, error) {
	if err := validID(id); err != nil {
		return nil, nil, err
	}
	js, err := os.ReadFile(filepath.Join(b.dir, id, "layers.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	var ds []digest.Digest
	if err := json.Unmarshal(js, &ds); err != nil {
		return nil, nil, fmt.Errorf("snapshot %s: %w", id, err)
	}
	paths := make([]string, len(ds))
	for i, d := range ds {
		if paths[i], err = b.store.Path(d); err != nil {
			return nil, nil, fmt.Errorf("snapshot %s: %w", id, err)
		}
	}
	return ds, paths, nil
}

func (b snapshots) Remove(id string) error {
	if err := validID(id); err != nil {
		return err
	}
	dir := filepath.Join(b.dir, id)
	ds, _, err := b.layers(id)
	if errors.Is(err, os.ErrNotExist) {
		return os.RemoveAll(dir) // never prepared, or half
	}
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", id, err)
	}
	if err := b.store.Release(b.user(id), ds...); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", id, err)
	}
	return nil
}

// Unmount undoes a snapshotter's Mount at target.
func Unmount(target string) error {
	if err := unix.Unmount(target, 0); err != nil {
		return &os.PathError{Op: "umount", Path: target, Err: err}
	}
	return nil
}
