// Package atomicfile replaces a file whole, so that a reader, or a process
// killed halfway through a write, sees the old content or the new one and
// never a half-written file.
//
// The trick is rename(2): within one file system it atomically replaces the
// directory entry, so the new content is written to a temporary file in the
// same directory first (a temporary file elsewhere could be on another file
// system, where rename fails with EXDEV), synced with fsync(2), and only
// then renamed over the old name. Syncing the directory afterwards makes the
// rename itself survive a crash.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically with permission perm: a
// temporary file in path's directory is written, synced and renamed over
// path, and the directory is synced. On error path is left as it was and
// the temporary file is removed.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm) // CreateTemp makes 0600; the umask does not apply to fchmod
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // best effort: the write already failed
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory, which makes a rename in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
