package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/internal/atomicfile"
	"minibox/internal/filelock"
)

// Every JSON file is replaced whole: written to a temporary file, synced,
// and renamed over the old one. rename(2) is atomic, so a reader (or a
// process killed halfway) sees the old file or the new one, never half.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// lock is a container's flock(2). flock belongs to the open file
// description, so a child that inherits the descriptor holds the same lock:
// the CLI hands its lock to the monitor while the monitor starts the
// container.
type lock struct{ f *os.File }

func (e *Engine) lock(id string) (*lock, error) {
	fl, err := filelock.Exclusive(filepath.Join(e.dataDir(id), "lock"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, fmt.Errorf("lock container %s: %w", short(id), err)
	}
	// The container may have been removed while we waited.
	if _, err := os.Stat(filepath.Join(e.dataDir(id), "config.json")); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return &lock{fl.File()}, nil
}

func (l *lock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close() // closing the last descriptor releases the flock
		l.f = nil
	}
}

// withLock resolves ref and runs fn with the container's lock held; the
// lock is released when fn returns (a lock handed on to a child, as Start
// hands it to the monitor, stays held by the child's copy of it).
func (e *Engine) withLock(ref string, fn func(id string, l *lock) error) error {
	id, err := e.Lookup(ref)
	if err != nil {
		return err
	}
	l, err := e.lock(id)
	if err != nil {
		return err
	}
	defer l.unlock()
	return fn(id, l)
}

// withContainer is withLock with the container's config and observed state
// read under the lock.
func (e *Engine) withContainer(ref string, fn func(in *Info, l *lock) error) error {
	return e.withLock(ref, func(id string, l *lock) error {
		in, err := e.info(id)
		if err != nil {
			return err
		}
		return fn(in, l)
	})
}

// newID is 32 random bytes in hex, as Docker's container IDs.
func newID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// validName is Docker's rule for container names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ConflictError is Docker's message for a name in use.
type ConflictError struct{ Name, ID string }

func (c *ConflictError) Error() string {
	return fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", c.Name, c.ID)
}

// reserveName claims name for id: names/NAME is created with O_EXCL, which
// the kernel makes atomic, so of two CLIs that want one name, one wins. A
// file left by a container removed halfway (its config is gone, and no live
// creator is making it) is stale. Claims and releases hold DATA/names.lock, so
// that two CLIs that both find a name stale cannot both remove it and each
// take it (the second would remove the first one's new claim).
func (e *Engine) reserveName(name, id string) error {
	unlock, err := e.namesLock()
	if err != nil {
		return err
	}
	defer unlock()
	p := filepath.Join(e.opts.DataRoot, "names", name)
	for range 3 {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.WriteString(id)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(p)
				return storageErr(e.opts.DataRoot, fmt.Errorf("reserve the name %s: %w", name, err))
			}
			return nil
		}
		if !errors.Is(err, os.ErrExist) {
			return storageErr(e.opts.DataRoot, fmt.Errorf("reserve the name %s: %w", name, err))
		}
		owner, rerr := os.ReadFile(p)
		if rerr != nil {
			return &ConflictError{name, "?"}
		}
		if e.ownerLive(string(owner)) {
			return &ConflictError{name, string(owner)}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) { // stale: its container is gone
			return storageErr(e.opts.DataRoot, fmt.Errorf("reserve the name %s: %w", name, err))
		}
	}
	return &ConflictError{name, "?"}
}

// releaseName gives up id's claim on name (another's claim stays).
func (e *Engine) releaseName(name, id string) error {
	unlock, err := e.namesLock()
	if err != nil {
		return err
	}
	defer unlock()
	p := filepath.Join(e.opts.DataRoot, "names", name)
	if owner, err := os.ReadFile(p); err == nil && string(owner) == id {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("release the name %s: %w", name, err)
		}
	}
	return nil
}

// IDs lists the containers' IDs.
func (e *Engine) IDs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(e.opts.DataRoot, "containers"))
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var ids []string
	for _, en := range entries {
		if len(en.Name()) == 64 {
			if _, err := os.Stat(filepath.Join(e.dataDir(en.Name()), "config.json")); err == nil {
				ids = append(ids, en.Name())
			}
		}
	}
	return ids, nil
}

// Lookup finds a container by full ID, name (with or without Docker's
// leading "/"), or unique ID prefix.
func (e *Engine) Lookup(ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("%w: \"\"", ErrNotFound)
	}
	if isFullID(ref) {
		if _, err := os.Stat(filepath.Join(e.dataDir(ref), "config.json")); err == nil {
			return ref, nil
		}
	}
	name := strings.TrimPrefix(ref, "/")
	if !strings.Contains(name, "/") && name != "." && name != ".." {
		if owner, err := os.ReadFile(filepath.Join(e.opts.DataRoot, "names", name)); err == nil && isFullID(string(owner)) {
			if _, err := os.Stat(filepath.Join(e.dataDir(string(owner)), "config.json")); err == nil {
				return string(owner), nil
			}
		}
	}
	ids, err := e.IDs()
	if err != nil {
		return "", err
	}
	var found []string
	for _, id := range ids {
		if strings.HasPrefix(id, ref) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%w: %s", ErrNotFound, ref)
	default:
		return "", fmt.Errorf("multiple IDs found with provided prefix: %s", ref)
	}
}

// isFullID reports whether s is a full container ID: 64 lowercase hex
// digits. Only such a string is ever joined into a path as an ID, so that
// no reference can name a directory outside the data root.
func isFullID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// record is everything stored about a container besides its state.
func (e *Engine) load(id string) (*Container, error) {
	if !isFullID(id) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var c Container
	if err := readJSON(filepath.Join(e.dataDir(id), "config.json"), &c); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, err
	}
	if c.ID != id {
		return nil, fmt.Errorf("container %s: its config.json names another container (%q)", short(id), c.ID)
	}
	var spec specs.Spec
	if err := readJSON(filepath.Join(e.dataDir(id), "spec.json"), &spec); err == nil {
		c.Spec = &spec
	}
	return &c, nil
}

func (e *Engine) saveConfig(c *Container) error {
	if c.Spec != nil {
		if err := writeJSON(filepath.Join(e.dataDir(c.ID), "spec.json"), c.Spec); err != nil {
			return err
		}
	}
	return writeJSON(filepath.Join(e.dataDir(c.ID), "config.json"), c)
}

func (e *Engine) loadState(id string) (State, error) {
	var st State
	err := readJSON(filepath.Join(e.dataDir(id), "state.json"), &st)
	if errors.Is(err, os.ErrNotExist) {
		return State{Status: "created"}, nil
	}
	return st, err
}

func (e *Engine) saveState(id string, st State) error {
	return writeJSON(filepath.Join(e.dataDir(id), "state.json"), st)
}

func (e *Engine) loadRuntime(id string) (Runtime, error) {
	var rt Runtime
	if err := readJSON(filepath.Join(e.dataDir(id), "runtime.json"), &rt); err != nil {
		return rt, fmt.Errorf("container %s: its runtime: %w", short(id), err)
	}
	return rt, nil
}
