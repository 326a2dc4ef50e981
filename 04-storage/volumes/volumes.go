// Package volumes keeps minibox's local volumes, in Docker's layout:
//
//	DATA/volumes/NAME/_data        what the container sees
//	DATA/volumes/NAME/volume.json  name, labels, creation time, anonymous
//	DATA/volumes/NAME/users/ID     one empty file per container that uses it
//	DATA/volumes/NAME/lock         flock(2) held while the volume is filled
//	DATA/volumes/NAME/populated    marker: the volume has its initial content
//	DATA/volumes/lock              flock(2) for every change of the above
//
// A volume is a directory that lives outside every container's layers, so
// its data survives the container and is written at the host file
// system's speed, with no copy-on-write in the way. (The lecture's slides
// on data volumes: named and anonymous volumes, bind mounts, tmpfs.)
package volumes

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"minibox/03-rootfs/runflags"
	"minibox/internal/filelock"
)

// ErrNotFound is wrapped when no volume has the name.
var ErrNotFound = errors.New("no such volume")

// ErrInUse is wrapped by Remove for a volume that a container uses.
var ErrInUse = errors.New("volume is in use")

// Volume is one volume, shaped as `docker volume inspect` prints it.
type Volume struct {
	CreatedAt  time.Time
	Driver     string
	Labels     map[string]string
	Mountpoint string
	Name       string
	Options    map[string]string
	Scope      string
	// Anonymous is true for a volume made for `-v /path` or an image's
	// VOLUME: `rm -v` and `--rm` remove it with its container.
	Anonymous bool `json:"-"`
}

type record struct {
	Name      string
	Labels    map[string]string `json:",omitempty"`
	CreatedAt time.Time
	Anonymous bool `json:",omitempty"`
}

// Store is the volumes under one directory (DATA/volumes).
type Store struct {
	Root string
}

// New returns the store at root, creating it.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	return &Store{Root: abs}, nil
}

// lock takes the volume store's exclusive flock (internal/filelock).
func (s *Store) lock() (func(), error) {
	l, err := filelock.Exclusive(filepath.Join(s.Root, "lock"))
	if err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	// Every .new- and .removed- directory is made and removed under this
	// lock: one found by its holder was left by a process that died.
	sweepTrash(s.Root)
	return l.Unlock, nil
}

// sweepTrash removes the work directories of dead processes; one it cannot
// remove now stays for the next holder of the lock.
func sweepTrash(root string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".new-") || strings.HasPrefix(n, ".removed-") {
			_ = os.RemoveAll(filepath.Join(root, n))
		}
	}
}

func (s *Store) dir(name string) string { return filepath.Join(s.Root, name) }

// Path returns the directory a container mounts for the volume name.
func (s *Store) Path(name string) string { return filepath.Join(s.dir(name), "_data") }

// RandomName is an anonymous volume's name: 64 hex digits, as Docker's.
func RandomName() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

// Create makes the volume name (a random one when name is ""), or returns
// the one that exists (Docker's `volume create` of an existing name does
// the same). anonymous marks a volume that belongs to one container.
func (s *Store) Create(name string, labels map[string]string, anonymous bool) (*Volume, error) {
	if name == "" {
		name = RandomName()
	}
	if !runflags.ValidVolumeName(name) {
		return nil, fmt.Errorf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed", name, name)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if v, err := s.inspect(name); err == nil {
		return v, nil
	}
	dir := s.dir(name)
	tmp, err := os.MkdirTemp(s.Root, ".new-")
	if err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp) // left only on failure
	// _data is 0755 root-owned, as Docker makes it; a copy-up from the
	// image gives it the image directory's mode and owner.
	for _, d := range []string{"_data", "users"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return nil, fmt.Errorf("create volume %s: %w", name, err)
		}
	}
	if err := os.Chmod(filepath.Join(tmp, "_data"), 0o755); err != nil { // past the umask
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	r := record{Name: name, Labels: labels, CreatedAt: time.Now().UTC().Truncate(time.Second), Anonymous: anonymous}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "volume.json"), b, 0o600); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("create volume %s: %w", name, err)
	}
	return s.inspect(name)
}

// Inspect returns the volume name.
func (s *Store) Inspect(name string) (*Volume, error) {
	if !runflags.ValidVolumeName(name) {
		return nil, fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	return s.inspect(name)
}

func (s *Store) inspect(name string) (*Volume, error) {
	b, err := os.ReadFile(filepath.Join(s.dir(name), "volume.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	labels := r.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	if r.Anonymous {
		labels = map[string]string{"com.docker.volume.anonymous": ""}
		for k, v := range r.Labels {
			labels[k] = v
		}
	}
	return &Volume{CreatedAt: r.CreatedAt, Driver: "local", Labels: labels, Mountpoint: s.Path(name),
		Name: r.Name, Options: map[string]string{}, Scope: "local", Anonymous: r.Anonymous}, nil
}

// Filter is `volume ls -f` and `volume prune -f`: each set field must hold.
type Filter struct {
	Dangling *bool    // dangling=true|false: used by no container
	Labels   []string // label=KEY or label=KEY=VALUE
	Names    []string // name=SUBSTRING (any of them)
}

// ParseFilter reads `-f KEY=VALUE` values into a Filter.
func ParseFilter(args []string) (Filter, error) {
	var f Filter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return Filter{}, fmt.Errorf("bad format of filter (expected name=value): %s", a)
		}
		switch k {
		case "dangling":
			var b bool
			switch strings.ToLower(v) {
			case "true", "1":
				b = true
			case "false", "0":
			default:
				return Filter{}, fmt.Errorf("invalid filter 'dangling=%s'", v)
			}
			f.Dangling = &b
		case "label":
			f.Labels = append(f.Labels, v)
		case "name":
			f.Names = append(f.Names, v)
		default:
			return Filter{}, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return f, nil
}

func (s *Store) match(v *Volume, f Filter) (bool, error) {
	if f.Dangling != nil {
		users, err := s.Users(v.Name)
		if err != nil {
			return false, err
		}
		if (len(users) == 0) != *f.Dangling {
			return false, nil
		}
	}
	for _, l := range f.Labels {
		k, want, hasValue := strings.Cut(l, "=")
		got, ok := v.Labels[k]
		if !ok || hasValue && got != want {
			return false, nil
		}
	}
	if len(f.Names) > 0 {
		found := false
		for _, n := range f.Names {
			found = found || strings.Contains(v.Name, n)
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

// List returns the volumes that match f, sorted by name.
func (s *Store) List(f Filter) ([]*Volume, error) {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []*Volume
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		v, err := s.inspect(e.Name())
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		ok, err := s.match(v, f)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Use records that container id uses the volume name.
func (s *Store) Use(name, id string) error {
	if strings.ContainsAny(id, "/\x00") || id == "" || id == "." || id == ".." {
		return fmt.Errorf("volume %s: user %q is not a file name", name, id)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.inspect(name); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir(name), "users", id), nil, 0o600); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	return nil
}

// Release drops container id's use of the volume name (none is fine).
func (s *Store) Release(name, id string) error {
	if !runflags.ValidVolumeName(name) || strings.ContainsAny(id, "/\x00") || id == "" {
		return nil
	}
	err := os.Remove(filepath.Join(s.dir(name), "users", id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	return nil
}

// ReleaseAll drops container id's use of every volume and returns the
// names of the volumes it used: a container whose creator died before it
// recorded its mounts is released all the same.
func (s *Store) ReleaseAll(id string) ([]string, error) {
	if strings.ContainsAny(id, "/\x00") || id == "" || id == "." || id == ".." {
		return nil, nil
	}
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		return nil, fmt.Errorf("volumes: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		err := os.Remove(filepath.Join(s.dir(e.Name()), "users", id))
		if err == nil {
			names = append(names, e.Name())
		} else if !errors.Is(err, os.ErrNotExist) {
			return names, fmt.Errorf("volume %s: %w", e.Name(), err)
		}
	}
	return names, nil
}

// Populated reports whether the volume name has been given its initial
// content (see Populate). It is a hint for skipping work: only Populate
// decides, under the volume's lock.
func (s *Store) Populated(name string) bool {
	_, err := os.Stat(filepath.Join(s.dir(name), "populated"))
	return err == nil
}

// Populate gives the volume name its initial content once: fill is called
// with the volume's data directory only if no earlier Populate gave it
// content and the directory is empty, and the marker NAME/populated then
// records that it has content. It holds the volume's own flock for the while (not the
// store's, so other volumes stay usable during a long copy), so two
// containers that start at once on a new volume copy the image's content
// into it once, not twice over each other. A fill that fails leaves the
// directory emptied again and no marker, so the next start tries again.
//
// Docker copies into any volume it finds empty; minibox copies once, so a
// volume its user emptied stays empty (the marker is what makes the
// decision race-free). A volume with content but no marker (made before
// the marker existed, or filled through another container's mount) is
// marked and left as it is. It reports whether fill ran.
func (s *Store) Populate(name string, fill func(dir string) error) (filled bool, err error) {
	if !runflags.ValidVolumeName(name) {
		return false, fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	l, err := filelock.Exclusive(filepath.Join(s.dir(name), "lock"))
	if errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("volume %s: %w", name, err)
	}
	defer l.Unlock()
	if s.Populated(name) {
		return false, nil
	}
	data := s.Path(name)
	empty, err := isEmptyDir(data)
	if err != nil {
		return false, fmt.Errorf("volume %s: %w", name, err)
	}
	if empty {
		if err := fill(data); err != nil {
			if cerr := emptyDir(data); cerr != nil {
				return true, fmt.Errorf("volume %s: %w (and emptying it again: %v)", name, err, cerr)
			}
			return true, fmt.Errorf("volume %s: %w", name, err)
		}
		filled = true
		// An image with nothing at the path leaves the volume empty and
		// unmarked: a later container's image may still fill it.
		if empty, err = isEmptyDir(data); err != nil || empty {
			return filled, err
		}
	}
	if err := os.WriteFile(filepath.Join(s.dir(name), "populated"), nil, 0o600); err != nil {
		return filled, fmt.Errorf("volume %s: %w", name, err)
	}
	return filled, nil
}

// isEmptyDir reports whether dir has no entries.
func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// emptyDir removes everything in dir, and keeps dir.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Users returns the IDs of the containers that use the volume, sorted.
func (s *Store) Users(name string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir(name), "users"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, nil
}

// Remove deletes the volume name and its data. A volume that a container
// uses is refused with Docker's message, which names the containers, even
// with force (force only makes a missing volume no error, as Docker's).
func (s *Store) Remove(name string, force bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return s.remove(name, force)
}

func (s *Store) remove(name string, force bool) error {
	if !runflags.ValidVolumeName(name) {
		if force {
			return nil
		}
		return fmt.Errorf("get %s: %w", name, ErrNotFound)
	}
	users, err := s.Users(name)
	if errors.Is(err, ErrNotFound) && force {
		return nil
	}
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("remove %s: %w - [%s]", name, ErrInUse, strings.Join(users, ", "))
	}
	// Out of sight first (atomically), then the files.
	gone, err := os.MkdirTemp(s.Root, ".removed-")
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := os.Rename(s.dir(name), filepath.Join(gone, "v")); err != nil {
		os.Remove(gone)
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// Prune removes the volumes that no container uses and that match f, and
// returns their names and the bytes freed. Like Docker's since 23.0, it
// removes anonymous volumes only unless all is true.
func (s *Store) Prune(f Filter, all bool) (names []string, reclaimed int64, err error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	yes := true
	f.Dangling = &yes
	vs, err := s.List(f)
	if err != nil {
		return nil, 0, err
	}
	for _, v := range vs {
		if !all && !v.Anonymous {
			continue
		}
		size, _ := DiskUsage(s.Path(v.Name))
		if err := s.remove(v.Name, false); err != nil {
			return names, reclaimed, err
		}
		names = append(names, v.Name)
		reclaimed += size
	}
	return names, reclaimed, nil
}

// DiskUsage is the bytes of the regular files under dir.
func DiskUsage(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n, err
}
