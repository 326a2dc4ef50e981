package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"minibox/internal/filelock"
)

// Any CLI may be killed (kill -9, a crash, a power cut) at any moment, and
// the next command must find a consistent state. The rules:
//
//   - A container is built in DATA/containers/.creating-ID and renamed to
//     ID when it is complete: rename(2) is atomic, so a container is either
//     whole or invisible. Its creator holds the flock of .creating-ID/lock
//     all along (the same file becomes the container's lock after the
//     rename).
//   - A container is removed by renaming ID to .removing-ID first, under
//     its lock, which moves with it.
//   - A directory of either kind whose lock nobody holds was left by a dead
//     process (the kernel drops a flock when its holder dies): sweep removes
//     it, and for .creating-ID also what the storage made for it. Once it
//     holds the lock, the sweep checks that the file it locked is still
//     .creating-ID's: a creator may rename the directory and release the
//     lock between the sweep's open of the file and its flock.
//   - DATA/names.lock serialises every claim and release of a name and the
//     sweep, so that two CLIs never both take a stale name, and no sweep
//     sees a .creating-ID made but not yet locked.

const (
	creatingPrefix = ".creating-"
	removingPrefix = ".removing-"
)

func (e *Engine) creatingDir(id string) string {
	return filepath.Join(e.opts.DataRoot, "containers", creatingPrefix+id)
}

func (e *Engine) removingDir(id string) string {
	return filepath.Join(e.opts.DataRoot, "containers", removingPrefix+id)
}

// flockFile takes an exclusive flock on path (internal/filelock): waiting,
// and making the file when it is missing, unless nonblock; with nonblock,
// on an existing file only, and ok is false when another open file holds it.
func flockFile(path string, nonblock bool) (f *os.File, ok bool, err error) {
	if nonblock {
		l, ok, err := filelock.TryExclusive(path)
		if err != nil || !ok {
			return nil, ok, err
		}
		return l.File(), true, nil
	}
	l, err := filelock.Exclusive(path)
	if err != nil {
		return nil, false, err
	}
	return l.File(), true, nil
}

// namesLock takes DATA/names.lock (beside the names: their directory
// holds names only).
func (e *Engine) namesLock() (func(), error) {
	f, _, err := flockFile(filepath.Join(e.opts.DataRoot, "names.lock"), false)
	if err != nil {
		return nil, storageErr(e.opts.DataRoot, fmt.Errorf("lock the names: %w", err))
	}
	return func() { f.Close() }, nil
}

// ownerLive says whether the container id that a name file names still
// exists or is being created by a live process. The .creating- directory is
// checked before the final one: a creator renames the first to the second,
// so at least one of the two checks sees the container.
func (e *Engine) ownerLive(id string) bool {
	if !isFullID(id) {
		return false
	}
	if _, err := os.Stat(e.creatingDir(id)); err == nil {
		f, ok, err := flockFile(filepath.Join(e.creatingDir(id), "lock"), true)
		if err != nil || ok {
			if f != nil {
				f.Close()
			}
			// Unlocked (or no lock file): its creator died; but it may
			// have been renamed meanwhile, which the check below sees.
		} else {
			return true
		}
	}
	_, err := os.Stat(filepath.Join(e.dataDir(id), "config.json"))
	return err == nil
}

// beginCreate makes and locks .creating-ID under the names lock, so that no
// sweep finds it unlocked.
func (e *Engine) beginCreate(id string) (*lock, error) {
	unlock, err := e.namesLock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir := e.creatingDir(id)
	if err := os.Mkdir(dir, 0o710); err != nil {
		return nil, storageErr(e.opts.DataRoot, fmt.Errorf("create container: %w", err))
	}
	f, _, err := flockFile(filepath.Join(dir, "lock"), false)
	if err != nil {
		os.RemoveAll(dir)
		return nil, storageErr(e.opts.DataRoot, fmt.Errorf("create container: %w", err))
	}
	return &lock{f}, nil
}

// Sweep removes what dead processes left: .creating- directories (with the
// layer, volumes' use and name their creator had made), .removing-
// directories and names whose container is gone. Every command calls it
// (New does); what it cannot remove now, e.g. on a read-only data root, it
// leaves for the next command, and it reports the first such error.
func (e *Engine) Sweep() error {
	unlock, err := e.namesLock()
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	dir := filepath.Join(e.opts.DataRoot, "containers")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	for _, en := range entries {
		name := en.Name()
		switch {
		case strings.HasPrefix(name, creatingPrefix) && isFullID(strings.TrimPrefix(name, creatingPrefix)):
			errs = append(errs, e.sweepCreating(strings.TrimPrefix(name, creatingPrefix)))
		case strings.HasPrefix(name, removingPrefix) && isFullID(strings.TrimPrefix(name, removingPrefix)):
			errs = append(errs, e.sweepRemoving(filepath.Join(dir, name)))
		}
	}
	names, err := os.ReadDir(filepath.Join(e.opts.DataRoot, "names"))
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	for _, en := range names {
		if strings.HasPrefix(en.Name(), ".") {
			continue
		}
		p := filepath.Join(e.opts.DataRoot, "names", en.Name())
		owner, err := os.ReadFile(p)
		if err != nil || e.ownerLive(string(owner)) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("sweep: %w", err))
		}
	}
	return errors.Join(errs...)
}

// sweepCreating removes a half-made container whose creator died; the
// caller holds the names lock.
func (e *Engine) sweepCreating(id string) error {
	dir := e.creatingDir(id)
	f, ok, err := e.tryLockCreating(id)
	if errors.Is(err, os.ErrNotExist) {
		// The creator renamed .creating-ID to ID after we listed it (a
		// rename needs no names lock): the container is whole and not
		// ours to undo. Only a directory still there without its lock
		// file is a creator's that died between mkdir and lock.
		if _, serr := os.Lstat(dir); serr != nil {
			return nil
		}
	} else if err != nil {
		return fmt.Errorf("sweep %s: %w", short(id), err)
	}
	if err == nil && !ok {
		return nil // its creator lives
	}
	if f != nil {
		defer f.Close()
	}
	c := &Container{ID: id}
	var saved Container
	if err := readJSON(filepath.Join(dir, "config.json"), &saved); err == nil && saved.ID == id {
		c = &saved
	}
	// The storage's Remove is safe on a half-created container: it undoes
	// what its Create made for this ID (the layer, the volumes' and the
	// image's use of it), even when the config does not list it yet.
	if err := e.opts.Storage.Unmount(c); err != nil {
		return fmt.Errorf("sweep %s: %w", short(id), err)
	}
	if err := e.opts.Storage.Remove(c, true); err != nil {
		return fmt.Errorf("sweep %s: %w", short(id), err)
	}
	if c.Name != "" {
		p := filepath.Join(e.opts.DataRoot, "names", c.Name)
		if owner, err := os.ReadFile(p); err == nil && string(owner) == id {
			os.Remove(p)
		}
	}
	os.RemoveAll(e.execDir(id))
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("sweep %s: %w", short(id), err)
	}
	return nil
}

// sweepLockOpened, when a test sets it, runs between a sweep's open of
// .creating-ID/lock and its flock: the window in which a creator may rename
// the directory and release the lock.
var sweepLockOpened func(path string)

// tryLockCreating tries the flock of .creating-ID/lock without waiting, as
// flockFile does; a lock file that is missing is an error that errors.Is
// os.ErrNotExist, and ok is false when a live process holds the lock or
// the directory is no longer .creating-ID (its creator finished).
func (e *Engine) tryLockCreating(id string) (_ *os.File, ok bool, err error) {
	path := filepath.Join(e.creatingDir(id), "lock")
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	if sweepLockOpened != nil {
		sweepLockOpened(path)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	// A lock belongs to the file, not to its name: a creator that renamed
	// .creating-ID to ID after our open and then released its lock left us
	// the lock of a whole container, now at ID/lock. Only a file that is
	// still .creating-ID's lock, now that we hold it, is a dead creator's
	// (a live one renames only while it holds the lock).
	var held, named unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &held); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, &os.PathError{Op: "fstat", Path: path, Err: err})
	}
	if err := unix.Stat(path, &named); err != nil || named.Dev != held.Dev || named.Ino != held.Ino {
		f.Close()
		if err != nil && err != unix.ENOENT {
			return nil, false, fmt.Errorf("lock %s: %w", path, &os.PathError{Op: "stat", Path: path, Err: err})
		}
		return nil, false, nil // renamed: its creator finished
	}
	return f, true, nil
}

// sweepRemoving finishes the removal of a container whose remover died
// after it renamed the directory away.
func (e *Engine) sweepRemoving(dir string) error {
	f, ok, err := flockFile(filepath.Join(dir, "lock"), true)
	switch {
	case err == nil && !ok:
		return nil // its remover is at work
	case err == nil:
		defer f.Close()
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("sweep %s: %w", dir, err)
	}
	// No lock file: its remover deletes the lock last but one (the
	// directory is last), so it has nothing left to do but what we do.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("sweep %s: %w", dir, err)
	}
	return nil
}

// removeTrash deletes a directory renamed away for removal: everything but
// its lock, then the lock, then the directory, so that a sweep knows by the
// lock whether its remover still works on it.
func removeTrash(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, en := range entries {
		if en.Name() == "lock" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, en.Name())); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(dir, "lock")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// ExplainStorage is storageErr for the layers that open the data root
// before the engine does (the program's wiring).
func ExplainStorage(root string, err error) error { return storageErr(root, err) }

// storageErr explains the two errors of a data root that cannot be
// written, read-only storage and a full disk, with what to do about them;
// other errors pass as they are.
func storageErr(root string, err error) error {
	var se *StorageError
	if err == nil || errors.As(err, &se) {
		return err
	}
	what, remedy := "the data root "+root, " or use --data-root with a writable directory"
	space := " or use --data-root on a larger file system"
	// Another directory (the exec root, a bind mount's source) may be the
	// one at fault.
	var pe *fs.PathError
	var le *os.LinkError
	p := ""
	if errors.As(err, &pe) {
		p = pe.Path
	} else if errors.As(err, &le) {
		p = le.New
	}
	if p != "" && p != root && !strings.HasPrefix(p, root+"/") {
		what, remedy, space = filepath.Dir(p), "", ""
	}
	switch {
	case errors.Is(err, unix.EROFS):
		return &StorageError{Err: err, Message: fmt.Sprintf("%s is read-only: remount it read-write%s", what, remedy)}
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return &StorageError{Err: err, Message: fmt.Sprintf("no space left on device under %s: free some space (minibox rm, rmi, volume prune)%s", strings.TrimPrefix(what, "the data root "), space)}
	}
	return err
}

// StorageError is a data root that cannot be written.
type StorageError struct {
	Message string
	Err     error
}

func (s *StorageError) Error() string { return s.Message + " (" + s.Err.Error() + ")" }
func (s *StorageError) Unwrap() error { return s.Err }

// waitRuntimeIdle waits until no runtime create, start or delete of the
// container runs. A monitor killed during one leaves it running, orphaned;
// a teardown that went ahead would find no container yet, and the create
// would then finish one that nobody removes. The runtime's command lines
// are ours (runtimeFor): --root under our exec root, the command, the ID.
func (e *Engine) waitRuntimeIdle(id string) error {
	rootPrefix := filepath.Join(e.opts.ExecRoot, "runtime") + "/"
	deadline := time.Now().Add(30 * time.Second)
	for {
		busy := 0
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			data, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
			if err != nil || !strings.Contains(string(data), id) {
				continue
			}
			if lifecycleCommand(strings.Split(string(data), "\x00"), rootPrefix, id) {
				if _, ok := startTime(pid); ok {
					busy = pid
					break
				}
			}
		}
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s: the OCI runtime (PID %d) still works on it", short(id), busy)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lifecycleCommand says whether argv is `RUNTIME ... --root ROOT ...
// create|start|delete ... ID` with ROOT under rootPrefix.
func lifecycleCommand(argv []string, rootPrefix, id string) bool {
	root, cmd := false, false
	for i, a := range argv {
		switch {
		case a == "--root" && i+1 < len(argv) && strings.HasPrefix(argv[i+1], rootPrefix):
			root = true
		case a == "create" || a == "start" || a == "delete":
			cmd = true
		case a == id:
			return root && cmd
		}
	}
	return false
}
