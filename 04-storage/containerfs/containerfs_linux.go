// Package containerfs is lesson 04's engine.Storage: it gives a container
// its file systems. Its root is a snapshot (package storage: overlay or
// vfs) of its image's layers with a read-write layer of its own; its data
// lives in volumes (package volumes), bind mounts and tmpfs, which the OCI
// runtime mounts over that root from the spec's mounts.
//
// Where things are, under the engine's data root DATA:
//
//	DATA/storage/               the layer store and the snapshots (package storage)
//	DATA/storage/mnt/<id>       where Mount mounts container <id>'s root (the
//	                            engine points the bundle's root.path at it)
//	DATA/volumes/NAME/_data     volumes (package volumes)
//	DATA/images/                the image store (package images)
package containerfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/03-rootfs/runflags"
	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/04-storage/mounts"
	"minibox/04-storage/storage"
	"minibox/04-storage/volumes"
)

// Storage implements engine.Storage over a layer store, a volume store and
// (to record which container uses which image) an image store.
type Storage struct {
	Layers  *storage.Store
	Volumes *volumes.Store
	Images  *images.Store // may be nil
	// Lookup finds a container by name or ID, for --volumes-from; nil
	// makes --volumes-from an error.
	Lookup func(nameOrID string) (*engine.Container, error)
	// DefaultDriver is the snapshotter when a container names none
	// (HostConfig.StorageDriver); "" is overlay.
	DefaultDriver string
}

var _ engine.Storage = (*Storage)(nil)

// New opens (creating) the stores under the data root: DATA/storage,
// DATA/volumes and DATA/images.
func New(dataRoot string) (*Storage, error) {
	layers, err := storage.NewStore(filepath.Join(dataRoot, "storage"))
	if err != nil {
		return nil, err
	}
	vols, err := volumes.New(filepath.Join(dataRoot, "volumes"))
	if err != nil {
		return nil, err
	}
	imgs, err := images.New(filepath.Join(dataRoot, "images"), layers)
	if err != nil {
		return nil, err
	}
	return &Storage{Layers: layers, Volumes: vols, Images: imgs}, nil
}

func (s *Storage) driver(c *engine.Container) string {
	switch {
	case c.GraphDriver.Name != "":
		return c.GraphDriver.Name
	case c.HostConfig.StorageDriver != "":
		return c.HostConfig.StorageDriver
	case s.DefaultDriver != "":
		return s.DefaultDriver
	}
	return "overlay"
}

// Snapshotter returns the container's snapshotter.
func (s *Storage) Snapshotter(c *engine.Container) (storage.Snapshotter, error) {
	return storage.NewSnapshotter(s.driver(c), s.Layers)
}

// MountPath is where Mount mounts the container's root.
func (s *Storage) MountPath(c *engine.Container) string {
	return filepath.Join(s.Layers.Root, "mnt", c.ID)
}

// plan is one mount that Create resolved.
type plan struct {
	mp     engine.MountPoint
	nocopy bool
	create bool // a -v bind source to create
	tmpfs  string
}

// resolve turns the host config and the image's volumes into mount points,
// checking everything and creating nothing.
func (s *Storage) resolve(c *engine.Container, img *engine.Image) ([]plan, error) {
	hc := &c.HostConfig
	var explicit []engine.Mount
	var ps []plan
	add := func(m engine.Mount, mode string, fromV bool) error {
		p := plan{mp: engine.MountPoint{Type: m.Type, Destination: m.Target, RW: !m.ReadOnly, Mode: mode}, nocopy: m.VolumeNoCopy}
		switch m.Type {
		case "bind":
			p.mp.Source = m.Source
			p.mp.Propagation = m.BindPropagation
			if p.mp.Propagation == "" {
				p.mp.Propagation = "rprivate"
			}
			if _, err := os.Stat(m.Source); errors.Is(err, os.ErrNotExist) {
				if m.BindNoCreate {
					return fmt.Errorf("invalid mount config for type \"bind\": bind source path does not exist: %s", m.Source)
				}
				p.create = true
			} else if err != nil {
				return fmt.Errorf("bind source %s: %w", m.Source, err)
			}
		case "volume":
			p.mp.Name, p.mp.Driver = m.Source, "local"
			p.mp.Anonymous = m.Source == ""
		case "tmpfs":
			opts := hc.Tmpfs[m.Target]
			if !fromV {
				var o []string
				if m.TmpfsSize > 0 {
					o = append(o, "size="+strconv.FormatInt(m.TmpfsSize, 10))
				}
				if m.TmpfsMode != 0 {
					o = append(o, "mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
				}
				if m.ReadOnly {
					o = append(o, "ro")
				}
				opts = strings.Join(o, ",")
			}
			p.tmpfs = opts
		}
		explicit = append(explicit, m)
		ps = append(ps, p)
		return nil
	}
	for _, b := range hc.Binds {
		m, err := mounts.ParseVolume(b)
		if err != nil {
			return nil, err
		}
		mode := ""
		if parts := strings.Split(b, ":"); len(parts) == 3 {
			mode = parts[2]
		}
		if err := add(m, mode, true); err != nil {
			return nil, err
		}
	}
	for _, m := range hc.Mounts {
		if m.Type == "tmpfs" || m.Type == "bind" || m.Type == "volume" {
			if err := add(m, "", false); err != nil {
				return nil, err
			}
			continue
		}
		return nil, fmt.Errorf("invalid mount type %q", m.Type)
	}
	paths := make([]string, 0, len(hc.Tmpfs))
	for p := range hc.Tmpfs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		arg := p
		if hc.Tmpfs[p] != "" {
			arg += ":" + hc.Tmpfs[p]
		}
		if _, err := runflags.ParseTmpfs(arg); err != nil {
			return nil, err
		}
		if err := add(engine.Mount{Type: "tmpfs", Target: filepath.Clean(p)}, "", true); err != nil {
			return nil, err
		}
	}
	if err := mounts.CheckDuplicates(explicit); err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, m := range explicit {
		taken[m.Target] = true
	}
	// --volumes-from: the other container's volumes and binds, where these
	// flags put nothing (Docker's order: explicit mounts win).
	for _, vf := range hc.VolumesFrom {
		name, mode, err := mounts.ParseVolumesFrom(vf)
		if err != nil {
			return nil, err
		}
		if s.Lookup == nil {
			return nil, fmt.Errorf("--volumes-from %s: no container lookup", name)
		}
		other, err := s.Lookup(name)
		if err != nil {
			return nil, err
		}
		for _, mp := range other.Mounts {
			if mp.Type == "tmpfs" || taken[mp.Destination] {
				continue
			}
			if mode != "" {
				mp.RW, mp.Mode = mode == "rw", mode
			}
			mp.Anonymous = false // it belongs to the other container
			taken[mp.Destination] = true
			ps = append(ps, plan{mp: mp, nocopy: true})
		}
	}
	// The image's VOLUMEs (and the container config's): anonymous volumes
	// where nothing else is mounted.
	var vols []string
	for v := range img.Config.Config.Volumes {
		vols = append(vols, v)
	}
	for v := range c.Config.Volumes {
		vols = append(vols, v)
	}
	sort.Strings(vols)
	for _, v := range slices.Compact(vols) {
		v = filepath.Clean(v)
		if !filepath.IsAbs(v) || v == "/" || taken[v] {
			continue
		}
		taken[v] = true
		ps = append(ps, plan{mp: engine.MountPoint{Type: "volume", Destination: v, Driver: "local", RW: true, Anonymous: true}})
	}
	// Parents before children: /data is mounted before /data/x.
	sort.SliceStable(ps, func(i, j int) bool {
		return strings.Count(ps[i].mp.Destination, "/") < strings.Count(ps[j].mp.Destination, "/")
	})
	return ps, nil
}

// Create makes the container's snapshot and volumes (see engine.Storage).
// On an error everything it made is undone: no snapshot, no new volume, no
// new host directory.
func (s *Storage) Create(c *engine.Container, img *engine.Image) (err error) {
	driver := s.driver(c)
	if driver == "overlay" {
		if err := storage.OverlaySupported(); err != nil {
			return fmt.Errorf("storage driver overlay: %w (use --storage-driver vfs)", err)
		}
	}
	sn, err := storage.NewSnapshotter(driver, s.Layers)
	if err != nil {
		return err
	}
	ps, err := s.resolve(c, img)
	if err != nil {
		return err
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	if err := sn.Prepare(c.ID, img.DiffIDs); err != nil {
		return fmt.Errorf("create the container's layer: %w", err)
	}
	undo = append(undo, func() { _ = sn.Remove(c.ID) })
	if s.Images != nil && img.ID != "" {
		if err := s.Images.Use(img.ID, c.ID); err != nil {
			return err
		}
		undo = append(undo, func() { _ = s.Images.Release(img.ID, c.ID) })
	}
	var fill []*plan
	for i := range ps {
		p := &ps[i]
		switch {
		case p.mp.Type == "volume":
			existed := false
			if p.mp.Name != "" {
				_, ierr := s.Volumes.Inspect(p.mp.Name)
				existed = ierr == nil
			}
			v, err := s.Volumes.Create(p.mp.Name, nil, p.mp.Anonymous)
			if err != nil {
				return err
			}
			if !existed {
				name := v.Name
				undo = append(undo, func() { _ = s.Volumes.Remove(name, true) })
			}
			p.mp.Name, p.mp.Source = v.Name, v.Mountpoint
			if err := s.Volumes.Use(v.Name, c.ID); err != nil {
				return err
			}
			undo = append(undo, func() { _ = s.Volumes.Release(v.Name, c.ID) })
			if !p.nocopy && !s.Volumes.Populated(v.Name) {
				fill = append(fill, p) // Populate decides, under the volume's lock
			}
		case p.mp.Type == "bind" && p.create:
			made, err := mkdirAll(p.mp.Source)
			if err != nil {
				return fmt.Errorf("create bind source %s: %w", p.mp.Source, err)
			}
			if made != "" {
				undo = append(undo, func() { _ = os.RemoveAll(made) })
			}
		}
	}
	if len(fill) > 0 {
		if err := s.copyUp(sn, c, fill); err != nil {
			return err
		}
	}
	c.Mounts = c.Mounts[:0]
	for _, p := range ps {
		c.Mounts = append(c.Mounts, p.mp)
	}
	c.GraphDriver, err = s.graphDriver(c, driver, img.DiffIDs)
	return err
}

// copyUp fills empty volumes with what the image has at their paths, with
// owners, modes and times (Docker's copy of a volume's initial content):
// the root is mounted for the while on the container's mount path.
func (s *Storage) copyUp(sn storage.Snapshotter, c *engine.Container, fill []*plan) error {
	target := s.MountPath(c)
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	if err := sn.Mount(c.ID, target); err != nil {
		return err
	}
	defer func() { _ = unmountAll(target) }()
	rootfd, err := unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", target, err)
	}
	defer unix.Close(rootfd)
	// LAB 04.5 BEGIN: copy what the image has at each volume's path (resolved inside the root) into the volume
	for _, p := range fill {
		// The path is resolved inside the root: a symlink in the image
		// ("/data -> /etc") cannot lead the copy to the host's files.
		// Populate copies once per volume, under the volume's lock: two
		// containers that start at once on a new volume do not both copy.
		_, err := s.Volumes.Populate(p.mp.Name, func(dst string) error {
			fd, err := unix.Openat2(rootfd, strings.TrimPrefix(p.mp.Destination, "/"), &unix.OpenHow{
				Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
			})
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return nil // nothing to copy
			}
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return copyDir(fmt.Sprintf("/proc/self/fd/%d/", fd), dst)
		})
		if err != nil {
			return fmt.Errorf("copy %s into its volume: %w", p.mp.Destination, err)
		}
	}
	// LAB 04.5 END
	// LAB 04.5 STUB: lab.Warn("04.5") // the volumes stay empty: the image's files at their paths are hidden by the mount
	return nil
}

// copyDir copies the tree src into the empty directory dst as a tar
// stream (storage.WriteTar into storage.Extract), which keeps owners,
// modes, xattrs, links and times; dst itself takes src's mode and owner.
func copyDir(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Stat(src, &st); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := storage.WriteTar(pw, src)
		pw.CloseWithError(err)
		done <- err
	}()
	_, err := storage.Extract(pr, dst)
	pr.CloseWithError(io.ErrClosedPipe)
	if werr := <-done; err == nil && werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		err = werr
	}
	if err != nil {
		return err
	}
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return unix.Chmod(dst, st.Mode&07777)
}

func (s *Storage) graphDriver(c *engine.Container, driver string, diffIDs []digest.Digest) (engine.GraphDriver, error) {
	gd := engine.GraphDriver{Name: driver, Data: map[string]string{"MergedDir": s.MountPath(c)}}
	switch driver {
	case "overlay":
		var lowers []string
		for i := len(diffIDs) - 1; i >= 0; i-- {
			p, err := s.Layers.Path(diffIDs[i])
			if err != nil {
				return gd, err
			}
			lowers = append(lowers, p)
		}
		if len(lowers) > 0 {
			gd.Data["LowerDir"] = strings.Join(lowers, ":")
		}
		gd.Data["UpperDir"] = filepath.Join(s.Layers.Root, "overlay", c.ID, "upper")
		gd.Data["WorkDir"] = filepath.Join(s.Layers.Root, "overlay", c.ID, "work")
	case "vfs":
		gd.Data["Dir"] = filepath.Join(s.Layers.Root, "vfs", c.ID, "rootfs")
	}
	return gd, nil
}

// Mount mounts the container's root on MountPath(c) (if it is not mounted
// there yet) and returns that path and the spec mounts of c.Mounts.
func (s *Storage) Mount(c *engine.Container) (string, []specs.Mount, error) {
	ms, err := s.SpecMounts(c)
	if err != nil {
		return "", nil, err
	}
	sn, err := s.Snapshotter(c)
	if err != nil {
		return "", nil, err
	}
	target := s.MountPath(c)
	if err := os.MkdirAll(target, 0o700); err != nil {
		return "", nil, fmt.Errorf("mount %s: %w", c.ID, err)
	}
	mounted, err := isMountPoint(target)
	if err != nil {
		return "", nil, err
	}
	if !mounted {
		if err := sn.Mount(c.ID, target); err != nil {
			return "", nil, err
		}
	}
	return target, ms, nil
}

// SpecMounts are the OCI mounts of c.Mounts, in order: volumes and binds
// as bind mounts (ro or rw, with their propagation), tmpfs as tmpfs with
// Docker's noexec,nosuid,nodev unless its options say otherwise.
func (s *Storage) SpecMounts(c *engine.Container) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, mp := range c.Mounts {
		switch mp.Type {
		case "bind", "volume":
			mode := "rw"
			if !mp.RW {
				mode = "ro"
			}
			prop := mp.Propagation
			if prop == "" {
				prop = "rprivate"
			}
			out = append(out, specs.Mount{Destination: mp.Destination, Type: "bind", Source: mp.Source, Options: []string{"rbind", mode, prop}})
		case "tmpfs":
			arg := mp.Destination
			if o := s.tmpfsOptions(c, mp.Destination); o != "" {
				arg += ":" + o
			}
			m, err := runflags.ParseTmpfs(arg)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		default:
			return nil, fmt.Errorf("mount %s: unknown type %q", mp.Destination, mp.Type)
		}
	}
	return out, nil
}

func (s *Storage) tmpfsOptions(c *engine.Container, dst string) string {
	for _, m := range c.HostConfig.Mounts {
		if m.Type == "tmpfs" && m.Target == dst {
			var o []string
			if m.TmpfsSize > 0 {
				o = append(o, "size="+strconv.FormatInt(m.TmpfsSize, 10))
			}
			if m.TmpfsMode != 0 {
				o = append(o, "mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
			}
			if m.ReadOnly {
				o = append(o, "ro")
			}
			return strings.Join(o, ",")
		}
	}
	for p, o := range c.HostConfig.Tmpfs {
		if filepath.Clean(p) == dst {
			return o
		}
	}
	return ""
}

// Unmount unmounts the container's root; nothing mounted is no error.
func (s *Storage) Unmount(c *engine.Container) error {
	return unmountAll(s.MountPath(c))
}

// Remove deletes the container's layer and releases its volumes and image;
// with volumes, its anonymous volumes go too unless another container uses
// them (named volumes stay). It is safe on a half-created container.
func (s *Storage) Remove(c *engine.Container, withVolumes bool) error {
	if err := s.Unmount(c); err != nil {
		return err
	}
	sn, err := s.Snapshotter(c)
	if err != nil {
		return err
	}
	if err := sn.Remove(c.ID); err != nil {
		return err
	}
	if err := os.Remove(s.MountPath(c)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", c.ID, err)
	}
	for _, mp := range c.Mounts {
		if mp.Type != "volume" || mp.Name == "" {
			continue
		}
		if err := s.Volumes.Release(mp.Name, c.ID); err != nil {
			return err
		}
		if withVolumes && mp.Anonymous {
			err := s.Volumes.Remove(mp.Name, true)
			if err != nil && !errors.Is(err, volumes.ErrInUse) {
				return err
			}
		}
	}
	// A container whose creator was killed inside Create may use volumes
	// that c.Mounts does not list yet; its anonymous ones go with it.
	released, err := s.Volumes.ReleaseAll(c.ID)
	if err != nil {
		return err
	}
	for _, name := range released {
		if v, err := s.Volumes.Inspect(name); err == nil && withVolumes && v.Anonymous {
			err := s.Volumes.Remove(name, true)
			if err != nil && !errors.Is(err, volumes.ErrInUse) {
				return err
			}
		}
	}
	if s.Images != nil && c.Image != "" {
		if d, err := digest.Parse(c.Image); err == nil {
			return s.Images.Release(d, c.ID)
		}
	}
	return nil
}

// Changes lists the container's changes, as `docker diff`.
func (s *Storage) Changes(c *engine.Container) ([]storage.Change, error) {
	sn, err := s.Snapshotter(c)
	if err != nil {
		return nil, err
	}
	return sn.Changes(c.ID)
}

// Commit makes an image of c's image plus c's changes (`docker commit`).
func (s *Storage) Commit(c *engine.Container, parent *engine.Image, opts images.CommitOptions) (*engine.Image, error) {
	if s.Images == nil {
		return nil, errors.New("commit: no image store")
	}
	sn, err := s.Snapshotter(c)
	if err != nil {
		return nil, err
	}
	return s.Images.Commit(sn, c.ID, parent, opts)
}

// Export writes c's whole file system, the layers flattened, as a tar to w
// (`docker export`). The root is mounted for the while if it is not.
func (s *Storage) Export(c *engine.Container, w io.Writer) error {
	target := s.MountPath(c)
	mounted, err := isMountPoint(target)
	if err != nil {
		return err
	}
	if !mounted {
		if _, _, err := s.Mount(c); err != nil {
			return err
		}
		defer func() { _ = s.Unmount(c) }()
	}
	if _, err := storage.WriteTar(w, target); err != nil {
		return fmt.Errorf("export %s: %w", c.ID, err)
	}
	return nil
}

// mkdirAll is os.MkdirAll that returns the topmost directory it made ("" if
// none), so that an undo removes exactly what it made.
func mkdirAll(p string) (string, error) {
	top := ""
	for d := p; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		top = d
		if d == filepath.Dir(d) {
			break
		}
	}
	return top, os.MkdirAll(p, 0o755)
}

// isMountPoint reports whether something is mounted on path (its line in
// /proc/self/mountinfo: field 5 is the mount point, octal-escaped).
func isMountPoint(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescape(fields[4]) == path {
			return true, nil
		}
	}
	return false, sc.Err()
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountAll unmounts path until nothing is mounted there.
func unmountAll(path string) error {
	for {
		mounted, err := isMountPoint(path)
		if err != nil || !mounted {
			return err
		}
		if err := unix.Unmount(path, 0); err != nil {
			if errors.Is(err, unix.EBUSY) {
				err = unix.Unmount(path, unix.MNT_DETACH)
			}
			if errors.Is(err, unix.EINVAL) {
				return nil // not a mount point after all
			}
			if err != nil {
				return &os.PathError{Op: "umount", Path: path, Err: err}
			}
		}
	}
}
