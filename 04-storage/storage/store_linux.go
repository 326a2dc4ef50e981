package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"minibox/internal/atomicfile"
	"minibox/internal/filelock"
)

// ErrInUse is returned by Remove for a layer that someone still uses.
var ErrInUse = errors.New("layer in use")

// ErrUnknownLayer is returned for a diffID that the store does not hold.
var ErrUnknownLayer = errors.New("unknown layer")

// Store keeps unpacked layers, each once, by diffID:
//
//	ROOT/layers/sha256/<hex>/diff      the layer's files, in overlay form
//	ROOT/layers/sha256/<hex>/link      the name of its short link in ROOT/l
//	ROOT/layers/sha256/<hex>/users/X   one empty file per user (image, container)
//	ROOT/l/<short>                     -> ../layers/sha256/<hex>/diff
//	ROOT/chains/sha256/<hex>           a chainID's diffIDs (JSON), bottom first
//	ROOT/tmp/                          unpacking in progress
//	ROOT/lock                          flock(2) for every change of the above
//
// Any number of processes may use one root at once: a layer is unpacked
// into ROOT/tmp with no lock held and then renamed into place under the
// lock; a second process that unpacked the same diffID finds it there and
// throws its own copy away, so the store ends with one.
type Store struct {
	Root string
}

// NewStore returns the store at root, creating its directories.
func NewStore(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("layer store: %w", err)
	}
	for _, d := range []string{"layers/sha256", "l", "chains/sha256", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("layer store: %w", err)
		}
	}
	s := &Store{Root: abs}
	if err := s.cleanTmp(); err != nil {
		return nil, err
	}
	return s, nil
}

// cleanTmp removes what processes that died left in ROOT/tmp: every work
// directory there is flock(2)ed while in use, and the kernel drops the
// lock of a process that ends, however it ends.
func (s *Store) cleanTmp() error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	tmp := filepath.Join(s.Root, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("layer store: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		l, ok, err := filelock.TryExclusive(p)
		if errors.Is(err, os.ErrNotExist) || (err == nil && !ok) {
			continue // finished meanwhile, or in use
		}
		if err != nil {
			return fmt.Errorf("layer store: %w", err)
		}
		err = os.RemoveAll(p)
		l.Unlock()
		if err != nil {
			return fmt.Errorf("layer store: clean %s: %w", p, err)
		}
	}
	return nil
}

// lock takes the store's exclusive flock (internal/filelock).
func (s *Store) lock() (func(), error) {
	l, err := filelock.Exclusive(filepath.Join(s.Root, "lock"))
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}

func (s *Store) layerDir(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("diffID %q: not a sha256 digest", d)
	}
	return filepath.Join(s.Root, "layers/sha256", d.Encoded()), nil
}

// Put unpacks the uncompressed layer tar r, unless the store holds it
// already, and returns its diffID.
func (s *Store) Put(r io.Reader) (digest.Digest, error) {
	unlock, err := s.lock()
	if err != nil {
		return "", err
	}
	tmp, unlockTmp, err := workDir(filepath.Join(s.Root, "tmp"), "layer-")
	unlock()
	if err != nil {
		return "", fmt.Errorf("put layer: %w", err)
	}
	defer unlockTmp()
	defer os.RemoveAll(tmp) // what is left of it when the layer was here already
	if err := os.Mkdir(filepath.Join(tmp, "diff"), 0o755); err != nil {
		return "", fmt.Errorf("put layer: %w", err)
	}
	d, err := Extract(r, filepath.Join(tmp, "diff"))
	if err != nil {
		return "", fmt.Errorf("put layer: %w", err)
	}
	dir, _ := s.layerDir(d)
	if unlock, err = s.lock(); err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(dir); err == nil {
		return d, nil // another Put was first: one copy
	}
	short, err := s.shortLink(d)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, "link"), []byte(short), 0o600); err != nil {
		return "", fmt.Errorf("put layer: %w", err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "users"), 0o700); err != nil {
		return "", fmt.Errorf("put layer: %w", err)
	}
	// The link first (a link to a missing directory is allowed), then the
	// rename, which is atomic: a layer directory is whole or absent, and
	// once it is there, so is its link.
	link := filepath.Join(s.Root, "l", short)
	if err := os.Symlink(filepath.Join("..", "layers/sha256", d.Encoded(), "diff"), link); err != nil {
		return "", fmt.Errorf("put layer %s: short link: %w", d, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.Remove(link)
		return "", fmt.Errorf("put layer %s: %w", d, err)
	}
	return d, nil
}

// shortLink picks the name of the layer's link in ROOT/l: the first 12 hex
// digits of the diffID, longer in the unlikely case that those are taken.
// It keeps overlay's mount options short (see Overlay).
func (s *Store) shortLink(d digest.Digest) (string, error) {
	for n := 12; n <= len(d.Encoded()); n += 4 {
		name := d.Encoded()[:n]
		if _, err := os.Lstat(filepath.Join(s.Root, "l", name)); errors.Is(err, os.ErrNotExist) {
			return name, nil
		}
	}
	return "", fmt.Errorf("layer %s: no free short link name", d)
}

// Has reports whether the store holds the layer d.
func (s *Store) Has(d digest.Digest) bool {
	dir, err := s.layerDir(d)
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "diff"))
	return err == nil
}

// Path returns the directory of the layer d's files (read it, never write).
func (s *Store) Path(d digest.Digest) (string, error) {
	if !s.Has(d) {
		return "", fmt.Errorf("%w %s", ErrUnknownLayer, d)
	}
	dir, _ := s.layerDir(d)
	return filepath.Join(dir, "diff"), nil
}

// Link returns the layer's short link, relative to the store's root
// ("l/0123456789ab"), which leads to the same directory as Path.
func (s *Store) Link(d digest.Digest) (string, error) {
	dir, err := s.layerDir(d)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(dir, "link"))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w %s", ErrUnknownLayer, d)
	}
	if err != nil {
		return "", err
	}
	return "l/" + string(b), nil
}

// List returns the diffIDs of all layers in the store, sorted.
func (s *Store) List() ([]digest.Digest, error) {
	ents, err := os.ReadDir(filepath.Join(s.Root, "layers/sha256"))
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	var out []digest.Digest
	for _, e := range ents {
		out = append(out, digest.NewDigestFromEncoded(digest.SHA256, e.Name()))
	}
	return out, nil
}

func validUser(user string) error {
	if user == "" || user == "." || user == ".." || strings.ContainsAny(user, "/\x00") {
		return fmt.Errorf("layer user %q: not a file name", user)
	}
	return nil
}

// Use records that user (an image or container name; a file name) uses the
// layers ds, so that Remove leaves them alone.
func (s *Store) Use(user string, ds ...digest.Digest) error {
	if err := validUser(user); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	for _, d := range ds {
		if !s.Has(d) {
			return fmt.Errorf("use %s: %w %s", user, ErrUnknownLayer, d)
		}
		dir, _ := s.layerDir(d)
		if err := os.WriteFile(filepath.Join(dir, "users", user), nil, 0o600); err != nil {
			return fmt.Errorf("use %s: %w", user, err)
		}
	}
	return nil
}

// Release drops user's use of the layers ds (missing records are fine).
func (s *Store) Release(user string, ds ...digest.Digest) error {
	if err := validUser(user); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	for _, d := range ds {
		dir, err := s.layerDir(d)
		if err != nil {
			return err
		}
		if err := os.Remove(filepath.Join(dir, "users", user)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("release %s: %w", user, err)
		}
	}
	return nil
}

// Users returns who uses the layer d, sorted.
func (s *Store) Users(d digest.Digest) ([]string, error) {
	dir, err := s.layerDir(d)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(dir, "users"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w %s", ErrUnknownLayer, d)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, nil
}

// Remove deletes the layer d, or fails with ErrInUse while anyone uses it.
func (s *Store) Remove(d digest.Digest) error {
	dir, err := s.layerDir(d)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	users, err := s.Users(d)
	if err != nil {
		unlock()
		return fmt.Errorf("remove layer: %w", err)
	}
	if len(users) > 0 {
		unlock()
		return fmt.Errorf("remove layer %s: %w by %s", d, ErrInUse, strings.Join(users, ", "))
	}
	link, err := s.Link(d)
	if err != nil {
		unlock()
		return fmt.Errorf("remove layer: %w", err)
	}
	// Out of sight first (atomically), then its link, then the files,
	// without the lock held.
	gone, unlockGone, err := workDir(filepath.Join(s.Root, "tmp"), "removed-")
	if err == nil {
		defer unlockGone()
		err = os.Rename(dir, filepath.Join(gone, "layer"))
	}
	if err == nil {
		err = os.Remove(filepath.Join(s.Root, link))
	}
	unlock()
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", d, err)
	}
	return os.RemoveAll(gone)
}

// PutChain records the stack diffIDs (bottom first, every layer in the
// store) under its chainID and returns the chainID.
func (s *Store) PutChain(diffIDs []digest.Digest) (digest.Digest, error) {
	chain := ChainID(diffIDs)
	if chain == "" {
		return "", errors.New("put chain: no layers")
	}
	for _, d := range diffIDs {
		if !s.Has(d) {
			return "", fmt.Errorf("put chain: %w %s", ErrUnknownLayer, d)
		}
	}
	b, err := json.Marshal(diffIDs)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.Root, "chains/sha256", chain.Encoded()), b, 0o600); err != nil {
		return "", fmt.Errorf("put chain: %w", err)
	}
	return chain, nil
}

// Chain returns the diffIDs of a chainID recorded by PutChain.
func (s *Store) Chain(chain digest.Digest) ([]digest.Digest, error) {
	if err := chain.Validate(); err != nil {
		return nil, fmt.Errorf("chain %q: %w", chain, err)
	}
	b, err := os.ReadFile(filepath.Join(s.Root, "chains/sha256", chain.Encoded()))
	if err != nil {
		return nil, fmt.Errorf("chain %s: %w", chain, err)
	}
	var ds []digest.Digest
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, fmt.Errorf("chain %s: %w", chain, err)
	}
	return ds, nil
}
