package engine

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// fakeStorage records which containers' storage was removed.
type fakeStorage struct{ removed []string }

func (f *fakeStorage) Create(c *Container, img *Image) error { return nil }
func (f *fakeStorage) Mount(c *Container) (string, []specs.Mount, error) {
	return "", nil, nil
}
func (f *fakeStorage) Unmount(c *Container) error { return nil }
func (f *fakeStorage) Remove(c *Container, volumes bool) error {
	f.removed = append(f.removed, c.ID)
	return nil
}

func sweepEngine(t *testing.T) (*Engine, *fakeStorage) {
	st := &fakeStorage{}
	e := &Engine{opts: Options{DataRoot: t.TempDir(), ExecRoot: t.TempDir(), Storage: st}}
	for _, d := range []string{"containers", "names"} {
		require.NoError(t, os.MkdirAll(filepath.Join(e.opts.DataRoot, d), 0o700))
	}
	return e, st
}

// holdLock stands for a live process holding a directory's lock: a flock
// belongs to an open file description, so a second open of the file in
// this process is locked out as another process would be.
func holdLock(t *testing.T, dir string) func() {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))
	return func() { f.Close() }
}

func TestSweepRemovesOnlyWhatDeadProcessesLeft(t *testing.T) {
	e, st := sweepEngine(t)
	dead, live := newID(), newID()
	// A creator that died after it claimed its name and wrote its config.
	require.NoError(t, os.Mkdir(e.creatingDir(dead), 0o700))
	require.NoError(t, writeJSON(filepath.Join(e.creatingDir(dead), "config.json"), &Container{ID: dead, Name: "gone"}))
	require.NoError(t, os.WriteFile(filepath.Join(e.creatingDir(dead), "lock"), nil, 0o600))
	require.NoError(t, e.reserveName("gone", dead))
	// A creator at work: its name is taken.
	require.NoError(t, os.Mkdir(e.creatingDir(live), 0o700))
	release := holdLock(t, e.creatingDir(live))
	require.NoError(t, e.reserveName("busy", live))
	var ce *ConflictError
	require.ErrorAs(t, e.reserveName("busy", newID()), &ce)
	assert.Equal(t, live, ce.ID)
	// Removers: one died, one works.
	deadRm, liveRm := e.removingDir(newID()), e.removingDir(newID())
	for _, d := range []string{deadRm, liveRm} {
		require.NoError(t, os.Mkdir(d, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(d, "config.json"), []byte("{}"), 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(deadRm, "lock"), nil, 0o600))
	releaseRm := holdLock(t, liveRm)
	// A name whose container is gone altogether.
	require.NoError(t, os.WriteFile(filepath.Join(e.opts.DataRoot, "names", "stale"), []byte(newID()), 0o600))

	require.NoError(t, e.Sweep())
	assert.Equal(t, []string{dead}, st.removed, "the dead creator's storage is undone")
	assert.NoDirExists(t, e.creatingDir(dead))
	assert.NoFileExists(t, filepath.Join(e.opts.DataRoot, "names", "gone"))
	assert.NoFileExists(t, filepath.Join(e.opts.DataRoot, "names", "stale"))
	assert.NoDirExists(t, deadRm)
	assert.DirExists(t, e.creatingDir(live))
	assert.FileExists(t, filepath.Join(e.opts.DataRoot, "names", "busy"))
	assert.DirExists(t, liveRm)

	// Once their owners are gone, the next sweep takes the rest.
	release()
	releaseRm()
	require.NoError(t, e.Sweep())
	assert.NoDirExists(t, e.creatingDir(live))
	assert.NoFileExists(t, filepath.Join(e.opts.DataRoot, "names", "busy"))
	assert.NoDirExists(t, liveRm)
	ents, err := os.ReadDir(filepath.Join(e.opts.DataRoot, "containers"))
	require.NoError(t, err)
	assert.Empty(t, ents)
}

func TestRemoveTrashKeepsTheLockLast(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".removing-x")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lock"), nil, 0o600))
	require.NoError(t, removeTrash(dir))
	assert.NoDirExists(t, dir)
	require.NoError(t, removeTrash(dir), "done twice (by a sweep and its remover) is no error")
}

func TestStorageErrSaysWhatToDo(t *testing.T) {
	ro := storageErr("/d", &os.PathError{Op: "mkdir", Path: "/d/containers/x", Err: unix.EROFS})
	assert.EqualError(t, ro, "the data root /d is read-only: remount it read-write or use --data-root with a writable directory (mkdir /d/containers/x: read-only file system)")
	full := storageErr("/d", &os.PathError{Op: "write", Path: "/d/x", Err: unix.ENOSPC})
	assert.Contains(t, full.Error(), "no space left on device under /d: free some space")
	assert.ErrorIs(t, full, unix.ENOSPC)
	other := storageErr("/d", &os.PathError{Op: "mkdir", Path: "/run/x/y", Err: unix.EROFS})
	assert.Contains(t, other.Error(), "/run/x is read-only: remount it read-write (")
	plain := &os.PathError{Op: "open", Path: "/d/x", Err: unix.ENOENT}
	assert.Equal(t, error(plain), storageErr("/d", plain))
}

// A sweep opens a .creating- directory's lock file and then flocks it. A
// creator that renames the directory to its final name in between and
// releases its lock (Create's last steps) leaves the sweep holding the lock
// of a whole container: the sweep must see that the file it locked is no
// longer .creating-ID's and leave the container alone (it once removed the
// container's layer, and its start failed on a missing layers.json).
func TestSweepLeavesACreateFinishedWhileItLocks(t *testing.T) {
	e, st := sweepEngine(t)
	id := newID()
	l, err := e.beginCreate(id)
	require.NoError(t, err)
	require.NoError(t, writeJSON(filepath.Join(e.creatingDir(id), "config.json"), &Container{ID: id, Name: "web"}))
	require.NoError(t, e.reserveName("web", id))
	require.NoError(t, os.MkdirAll(e.execDir(id), 0o700))

	opened, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sweepLockOpened = func(string) { once.Do(func() { close(opened); <-resume }) }
	t.Cleanup(func() { sweepLockOpened = nil })
	done := make(chan error, 1)
	go func() { done <- e.Sweep() }()
	<-opened
	// The sweep has the lock file open, not yet locked: the creator ends.
	require.NoError(t, os.Rename(e.creatingDir(id), e.dataDir(id)))
	l.unlock()
	close(resume)
	require.NoError(t, <-done)

	assert.Empty(t, st.removed, "the live container's storage is left alone")
	assert.FileExists(t, filepath.Join(e.dataDir(id), "config.json"))
	assert.FileExists(t, filepath.Join(e.dataDir(id), "lock"))
	assert.DirExists(t, e.execDir(id))
	got, err := e.Lookup("web")
	require.NoError(t, err, "its name is kept")
	assert.Equal(t, id, got)
}
