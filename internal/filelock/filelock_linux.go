// Package filelock holds flock(2) locks on files and directories, the
// locks minibox's stores and containers use so that any two commands may
// run at once.
//
// flock is chosen over a lock file that exists or not because the kernel
// ties the lock to the open file description: it is released when the last
// descriptor to it closes, which includes the holder's death. A process
// killed while it holds a lock never leaves a stale one behind. Two opens
// of the same file (two processes, or two goroutines of one) are two
// descriptions and exclude each other; a child that inherits the
// descriptor shares the parent's lock (the engine hands a container's lock
// to its monitor that way).
package filelock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Lock is a held flock. Unlock releases it.
type Lock struct{ f *os.File }

// Exclusive waits for an exclusive lock on path (LOCK_EX). A missing
// regular file is created (mode 0600); a directory is locked as it is.
func Exclusive(path string) (*Lock, error) { return take(path, unix.LOCK_EX, true) }

// Shared waits for a shared lock on path (LOCK_SH): many holders of a
// shared lock exclude one exclusive holder.
func Shared(path string) (*Lock, error) { return take(path, unix.LOCK_SH, true) }

// TryExclusive takes an exclusive lock on an existing path without waiting
// (LOCK_EX|LOCK_NB): ok is false, with no error, when someone else holds
// a lock on it. It creates nothing: a path that is gone is an error that
// errors.Is os.ErrNotExist (a work directory removed meanwhile stays gone).
func TryExclusive(path string) (l *Lock, ok bool, err error) {
	l, err = take(path, unix.LOCK_EX|unix.LOCK_NB, false)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return l, true, nil
}

func take(path string, how int, create bool) (*Lock, error) {
	// flock needs no write access, so a read-only descriptor serves both a
	// file and a directory (open(2) refuses O_CREAT on a directory: EISDIR).
	f, err := os.Open(path)
	if create && errors.Is(err, os.ErrNotExist) {
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR { // a signal interrupted the wait: wait again
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f}, nil
}

// File is the locked descriptor, for handing the lock to a child process
// (exec.Cmd.ExtraFiles): the child then holds the same lock.
func (l *Lock) File() *os.File { return l.f }

// Unlock releases the lock by closing the descriptor (the lock goes when
// the last descriptor to it closes, so a child that inherited it keeps
// it). Unlock on a nil or released Lock does nothing.
func (l *Lock) Unlock() {
	if l != nil && l.f != nil {
		_ = l.f.Close() // close of a read-only descriptor reports nothing worth acting on
		l.f = nil
	}
}
