package storage

import (
	"fmt"
	"os"

	"minibox/internal/filelock"
)

// workDir makes a new directory in parent, named prefix+random, and locks
// it (flock(2), see internal/filelock) for as long as the caller works in
// it; a directory found unlocked belongs to a process that died (see
// Store.cleanTmp). The caller holds the store's lock, so that cleanTmp
// never sees the directory made but not yet locked.
func workDir(parent, prefix string) (dir string, unlock func(), err error) {
	dir, err = os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, err
	}
	l, ok, err := filelock.TryExclusive(dir)
	if err != nil || !ok {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("lock %s: %v", dir, err)
	}
	return dir, l.Unlock, nil
}
