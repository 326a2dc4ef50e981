package storage

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes an exclusive flock(2) on path and returns its release.
// flock locks belong to the open file description, so two goroutines that
// open the file separately exclude each other just as two processes do,
// and the kernel drops the lock if the process dies.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the last descriptor releases the lock
}

// tryLock takes an exclusive flock on path without waiting: ok is false
// when someone else holds it.
func tryLock(path string) (unlock func(), ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, true, nil
}

// workDir makes a new directory in parent, named prefix+random, and locks
// it for as long as the caller works in it; a directory found unlocked
// belongs to a process that died (see Store.cleanTmp). The caller holds
// the store's lock, so that cleanTmp never sees the directory made but
// not yet locked.
func workDir(parent, prefix string) (dir string, unlock func(), err error) {
	dir, err = os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, err
	}
	unlock, ok, err := tryLock(dir)
	if err != nil || !ok {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("lock %s: %v", dir, err)
	}
	return dir, unlock, nil
}
