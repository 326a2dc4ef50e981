package containerfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/04-storage/engine"
	"minibox/04-storage/images"
	"minibox/04-storage/storage"
	"minibox/04-storage/volumes"
	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

var drivers = []string{"overlay", "vfs"}

type ent struct {
	name, body string
	dir        bool
	mode       int64
	uid, gid   int
}

func tarOf(t *testing.T, es ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Uid: e.uid, Gid: e.gid, ModTime: time.Unix(1700000000, 0)}
		if e.dir {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if e.mode != 0 {
			h.Mode = e.mode
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// baseImage is a small image: /etc files, /data with owned content (for
// the copy into a volume), /d with a file (for the opaque directory), and
// an image VOLUME /logs that has content too.
func baseTar(t *testing.T) []byte {
	return tarOf(t,
		ent{name: "etc/", dir: true},
		ent{name: "etc/keep", body: "keep\n"},
		ent{name: "etc/change", body: "old\n"},
		ent{name: "etc/gone", body: "gone\n"},
		ent{name: "data/", dir: true, mode: 0o710, uid: 1234, gid: 5678},
		ent{name: "data/seed", body: "seed\n", mode: 0o600, uid: 1234, gid: 5678},
		ent{name: "d/", dir: true},
		ent{name: "d/old", body: "x"},
		ent{name: "logs/", dir: true},
		ent{name: "logs/first.log", body: "1\n"},
	)
}

func newStorage(t *testing.T) (*Storage, *engine.Image) {
	t.Helper()
	s, err := New(t.TempDir())
	require.NoError(t, err)
	img, err := s.Images.Import(bytes.NewReader(baseTar(t)), "base:1", []string{"VOLUME /logs"}, "")
	require.NoError(t, err)
	return s, img
}

func newContainer(driver string, hc engine.HostConfig, img *engine.Image) *engine.Container {
	hc.StorageDriver = driver
	return &engine.Container{ID: volumes.RandomName(), HostConfig: hc, Image: img.ID.String()}
}

// create runs Create and registers the container's removal.
func create(t *testing.T, s *Storage, c *engine.Container, img *engine.Image) {
	t.Helper()
	if c.HostConfig.StorageDriver == "overlay" {
		testkit.Require(t, "overlayfs", storage.OverlaySupported)
	}
	require.NoError(t, s.Create(c, img))
	t.Cleanup(func() { assert.NoError(t, s.Remove(c, true)) })
}

func mountPoint(t *testing.T, c *engine.Container, dst string) engine.MountPoint {
	t.Helper()
	for _, mp := range c.Mounts {
		if mp.Destination == dst {
			return mp
		}
	}
	t.Fatalf("no mount point %s in %+v", dst, c.Mounts)
	return engine.MountPoint{}
}

func TestCreateMountRemove(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			testkit.Root(t)
			s, img := newStorage(t)
			host := t.TempDir()
			missing := filepath.Join(t.TempDir(), "made", "by", "v")
			c := newContainer(driver, engine.HostConfig{
				Binds:  []string{"named:/data", "/anon", host + ":/h:ro", missing + ":/m"},
				Mounts: []engine.Mount{{Type: "tmpfs", Target: "/t", TmpfsSize: 1 << 20, TmpfsMode: 0o1770}},
				Tmpfs:  map[string]string{"/run": "size=1m"},
			}, img)
			create(t, s, c, img)

			named := mountPoint(t, c, "/data")
			assert.Equal(t, engine.MountPoint{Type: "volume", Name: "named", Source: s.Volumes.Path("named"), Destination: "/data", Driver: "local", RW: true}, named)
			anon := mountPoint(t, c, "/anon")
			assert.True(t, anon.Anonymous)
			assert.Len(t, anon.Name, 64)
			logs := mountPoint(t, c, "/logs")
			assert.True(t, logs.Anonymous, "the image's VOLUME")
			bind := mountPoint(t, c, "/h")
			assert.Equal(t, engine.MountPoint{Type: "bind", Source: host, Destination: "/h", Mode: "ro", RW: false, Propagation: "rprivate"}, bind)
			assert.DirExists(t, missing, "-v makes a missing host directory")
			assert.Equal(t, "tmpfs", mountPoint(t, c, "/t").Type)
			assert.Equal(t, "tmpfs", mountPoint(t, c, "/run").Type)

			// Docker's copy: the image's /data, owners and modes kept.
			b, err := os.ReadFile(filepath.Join(named.Source, "seed"))
			require.NoError(t, err)
			assert.Equal(t, "seed\n", string(b))
			var st unix.Stat_t
			require.NoError(t, unix.Stat(filepath.Join(named.Source, "seed"), &st))
			assert.Equal(t, []uint32{1234, 5678, 0o600}, []uint32{st.Uid, st.Gid, st.Mode & 0o7777})
			require.NoError(t, unix.Stat(named.Source, &st))
			assert.Equal(t, []uint32{1234, 5678, 0o710}, []uint32{st.Uid, st.Gid, st.Mode & 0o7777}, "the volume's root takes the image directory's")
			assert.FileExists(t, filepath.Join(logs.Source, "first.log"))

			assert.Equal(t, driver, c.GraphDriver.Name)
			assert.Equal(t, s.MountPath(c), c.GraphDriver.Data["MergedDir"])
			if driver == "overlay" {
				lower, err := s.Layers.Path(img.DiffIDs[0])
				require.NoError(t, err)
				assert.Equal(t, lower, c.GraphDriver.Data["LowerDir"])
				assert.DirExists(t, c.GraphDriver.Data["UpperDir"])
				assert.DirExists(t, c.GraphDriver.Data["WorkDir"])
			}

			root, ms, err := s.Mount(c)
			require.NoError(t, err)
			assert.Equal(t, s.MountPath(c), root)
			root2, _, err := s.Mount(c)
			require.NoError(t, err, "a second Mount is no error")
			assert.Equal(t, root, root2)
			assert.FileExists(t, filepath.Join(root, "etc/keep"))
			byDst := map[string][]string{}
			var order []string
			for _, m := range ms {
				byDst[m.Destination] = append([]string{m.Type, m.Source}, m.Options...)
				order = append(order, m.Destination)
			}
			assert.Equal(t, []string{"bind", named.Source, "rbind", "rw", "rprivate"}, byDst["/data"])
			assert.Equal(t, []string{"bind", host, "rbind", "ro", "rprivate"}, byDst["/h"])
			assert.Equal(t, []string{"tmpfs", "tmpfs", "noexec", "nosuid", "nodev", "size=1048576", "mode=1770"}, byDst["/t"])
			assert.Equal(t, []string{"tmpfs", "tmpfs", "noexec", "nosuid", "nodev", "size=1m"}, byDst["/run"])
			assert.Len(t, order, len(c.Mounts))

			users, err := s.Volumes.Users("named")
			require.NoError(t, err)
			assert.Equal(t, []string{c.ID}, users)
			err = s.Volumes.Remove("named", true)
			assert.EqualError(t, err, fmt.Sprintf("remove named: volume is in use - [%s]", c.ID))

			require.NoError(t, s.Unmount(c))
			require.NoError(t, s.Unmount(c), "twice is no error")
			require.NoError(t, s.Remove(c, true))
			_, err = s.Volumes.Inspect(anon.Name)
			assert.ErrorIs(t, err, volumes.ErrNotFound, "rm -v removes the anonymous volume")
			_, err = s.Volumes.Inspect(logs.Name)
			assert.ErrorIs(t, err, volumes.ErrNotFound)
			_, err = s.Volumes.Inspect("named")
			assert.NoError(t, err, "never a named one")
			assert.NoDirExists(t, s.MountPath(c))
			assert.NoDirExists(t, filepath.Join(s.Layers.Root, driver, c.ID))
			users, err = s.Volumes.Users("named")
			require.NoError(t, err)
			assert.Empty(t, users)
		})
	}
}

func TestNoCopyAndNonEmptyVolumes(t *testing.T) {
	testkit.Root(t)
	s, img := newStorage(t)
	_, err := s.Volumes.Create("full", nil, false)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(s.Volumes.Path("full"), "mine"), []byte("x"), 0o644))
	c := newContainer("vfs", engine.HostConfig{
		Binds:  []string{"full:/data", "empty:/etc:nocopy"},
		Mounts: []engine.Mount{{Type: "volume", Source: "viamount", Target: "/d", VolumeNoCopy: true}},
	}, img)
	create(t, s, c, img)
	names := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		require.NoError(t, err)
		out := []string{}
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	assert.Equal(t, []string{"mine"}, names(s.Volumes.Path("full")), "a volume with content is not filled")
	assert.Empty(t, names(s.Volumes.Path("empty")), "nocopy")
	assert.Empty(t, names(s.Volumes.Path("viamount")), "volume-nocopy")
}

func TestBadInputChangesNothing(t *testing.T) {
	testkit.Root(t)
	s, img := newStorage(t)
	other := t.TempDir()
	notMade := filepath.Join(other, "not", "made")
	s.Lookup = func(name string) (*engine.Container, error) {
		return nil, fmt.Errorf("%w: %s", engine.ErrNotFound, name)
	}
	tests := []struct {
		name string
		hc   engine.HostConfig
		err  string
	}{
		{"--mount bind of a missing source", engine.HostConfig{Binds: []string{"v1:/a", notMade + ":/b"}, Mounts: []engine.Mount{{Type: "bind", Source: "/nonexistent/x", Target: "/x", BindNoCreate: true}}},
			`invalid mount config for type "bind": bind source path does not exist: /nonexistent/x`},
		{"duplicate", engine.HostConfig{Binds: []string{"v1:/data"}, Tmpfs: map[string]string{"/data": ""}}, "Duplicate mount point: /data"},
		{"bad -v", engine.HostConfig{Binds: []string{"v1:/a", "x:/b"}}, "invalid volume specification: 'x:/b'"},
		{"bad tmpfs", engine.HostConfig{Binds: []string{"v1:/a"}, Tmpfs: map[string]string{"/t": "bogus"}}, "invalid --tmpfs"},
		{"missing --volumes-from", engine.HostConfig{Binds: []string{"v1:/a"}, VolumesFrom: []string{"ghost"}}, "no such container: ghost"},
		// These fail late: the volume and the layer are made, then undone.
		{"a host directory that cannot be made", engine.HostConfig{Binds: []string{"v1:/a", "/proc/minibox-none/x:/b"}}, "create bind source /proc/minibox-none/x"},
		{"the same container twice", engine.HostConfig{Binds: []string{"v1:/a"}}, "exists"},
		{"bad driver", engine.HostConfig{Binds: []string{"v1:/a"}, StorageDriver: "zfs"}, "storage driver \"zfs\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			driver := tt.hc.StorageDriver
			if driver == "" {
				driver = "vfs"
			}
			c := newContainer(driver, tt.hc, img)
			if tt.name == "the same container twice" {
				first := newContainer(driver, engine.HostConfig{}, img)
				create(t, s, first, img)
				c.ID = first.ID
				defer func() {
					ents, _ := os.ReadDir(filepath.Join(s.Layers.Root, driver))
					assert.Len(t, ents, 1, "the first one's snapshot stays")
				}()
			}
			before, err := s.Volumes.List(volumes.Filter{})
			require.NoError(t, err)
			err = s.Create(c, img)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
			vs, err := s.Volumes.List(volumes.Filter{})
			require.NoError(t, err)
			assert.Equal(t, before, vs, "no new volume")
			assert.NoDirExists(t, filepath.Join(other, "not"), "no host directory")
			assert.Empty(t, c.Mounts)
			if tt.name == "the same container twice" {
				return
			}
			for _, d := range []string{"overlay", "vfs"} {
				ents, _ := os.ReadDir(filepath.Join(s.Layers.Root, d))
				assert.Empty(t, ents, "no snapshot")
			}
			users, err := s.Layers.Users(img.DiffIDs[0])
			require.NoError(t, err)
			assert.Len(t, users, 1, "only the image uses its layer")
		})
	}
}

func TestVolumesFrom(t *testing.T) {
	testkit.Root(t)
	s, img := newStorage(t)
	host := t.TempDir()
	c1 := newContainer("vfs", engine.HostConfig{Binds: []string{"shared:/data", host + ":/h", "/own"}, Tmpfs: map[string]string{"/t": ""}}, img)
	create(t, s, c1, img)
	s.Lookup = func(name string) (*engine.Container, error) {
		if name == "first" {
			return c1, nil
		}
		return nil, engine.ErrNotFound
	}
	c2 := newContainer("vfs", engine.HostConfig{Binds: []string{"mine:/h"}, VolumesFrom: []string{"first:ro"}}, img)
	create(t, s, c2, img)
	data := mountPoint(t, c2, "/data")
	assert.Equal(t, "shared", data.Name)
	assert.False(t, data.RW, ":ro")
	assert.Equal(t, "mine", mountPoint(t, c2, "/h").Name, "its own -v wins")
	own := mountPoint(t, c2, "/own")
	assert.False(t, own.Anonymous, "the first container's anonymous volume is not the second's")
	for _, mp := range c2.Mounts {
		assert.NotEqual(t, "/t", mp.Destination, "tmpfs is not shared")
	}
	users, err := s.Volumes.Users(own.Name)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{c1.ID, c2.ID}, users)
	require.NoError(t, s.Remove(c1, true))
	_, err = s.Volumes.Inspect(own.Name)
	assert.NoError(t, err, "rm -v keeps an anonymous volume another container uses")
}

// TestTmpfsNothingReachesDisk mounts a container's tmpfs where the runtime
// would and checks that what is written there is in memory only.
func TestTmpfsNothingReachesDisk(t *testing.T) {
	testkit.Root(t)
	s, img := newStorage(t)
	c := newContainer("overlay", engine.HostConfig{Tmpfs: map[string]string{"/scratch": "size=1m"}}, img)
	create(t, s, c, img)
	root, ms, err := s.Mount(c)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Unmount(c)) })
	require.Len(t, ms, 2) // /logs (the image's VOLUME) and /scratch
	m := ms[0]
	if m.Destination != "/scratch" {
		m = ms[1]
	}
	require.Equal(t, "/scratch", m.Destination)
	require.Equal(t, "tmpfs", m.Type)
	dst := filepath.Join(root, m.Destination)
	require.NoError(t, os.MkdirAll(dst, 0o755))
	require.NoError(t, unix.Mount(m.Source, dst, m.Type, unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, strings.Join(m.Options[3:], ",")))
	secret := "tmpfs-" + volumes.RandomName()
	require.NoError(t, os.WriteFile(filepath.Join(dst, "f"), []byte(secret), 0o644))
	var fs unix.Statfs_t
	require.NoError(t, unix.Statfs(dst, &fs))
	assert.Equal(t, int64(unix.TMPFS_MAGIC), int64(fs.Type))
	require.NoError(t, unix.Unmount(dst, 0))
	found := ""
	require.NoError(t, filepath.Walk(s.Layers.Root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || strings.HasPrefix(p, root+"/") {
			return err
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secret)) {
			found = p
		}
		return nil
	}))
	assert.Empty(t, found, "the tmpfs's data reached the storage root")
	assert.NoFileExists(t, filepath.Join(dst, "f"), "gone with the mount")
}

// du is the bytes of regular files under dir, each inode once.
func du(t *testing.T, dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().IsRegular() && !seen[st.Ino] {
			seen[st.Ino] = true
			n += fi.Size()
		}
		return nil
	}))
	return n
}

func TestTwoContainersShareLayers(t *testing.T) {
	testkit.Root(t)
	const size = 4 << 20
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			s, err := New(t.TempDir())
			require.NoError(t, err)
			img, err := s.Images.Import(bytes.NewReader(tarOf(t, ent{name: "big", body: strings.Repeat("x", size)})), "", nil, "")
			require.NoError(t, err)
			before := du(t, s.Layers.Root)
			for range 2 {
				create(t, s, newContainer(driver, engine.HostConfig{}, img), img)
			}
			grown := du(t, s.Layers.Root) - before
			if driver == "overlay" {
				assert.Less(t, grown, int64(64<<10), "overlay: one copy for both")
			} else {
				assert.GreaterOrEqual(t, grown, int64(2*size), "vfs: a copy each")
			}
		})
	}
}

func tarNames(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[strings.TrimSuffix(h.Name, "/")] = string(b)
	}
}

// TestImportChangeCommitRoundTrip is the lesson's round trip at the storage
// level: import → a container changes and deletes files → commit → a
// container of the new image sees the changes, the deletions included.
func TestImportChangeCommitRoundTrip(t *testing.T) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			testkit.Root(t)
			s, img := newStorage(t)
			c := newContainer(driver, engine.HostConfig{}, img)
			create(t, s, c, img)
			root, _, err := s.Mount(c)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(root, "etc/new"), []byte("new\n"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(root, "etc/change"), []byte("new\n"), 0o644))
			require.NoError(t, os.Remove(filepath.Join(root, "etc/gone")))
			require.NoError(t, os.RemoveAll(filepath.Join(root, "d")))
			require.NoError(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(root, "d/fresh"), nil, 0o644))
			require.NoError(t, s.Unmount(c))

			changes, err := s.Changes(c)
			require.NoError(t, err)
			var got []string
			for _, ch := range changes {
				got = append(got, ch.String())
			}
			assert.Subset(t, got, []string{"A /etc/new", "C /etc/change", "D /etc/gone", "A /d/fresh"})

			committed, err := s.Commit(c, img, images.CommitOptions{Ref: "base:2", Message: "m", Author: "a", Changes: []string{"ENV X=1"}})
			require.NoError(t, err)
			require.Len(t, committed.DiffIDs, 2)
			assert.Equal(t, img.DiffIDs[0], committed.DiffIDs[0], "the parent's layer is shared")
			assert.Equal(t, []string{"X=1"}, committed.Config.Config.Env)
			assert.Equal(t, "a", committed.Config.Author)
			resolved, err := s.Images.Resolve("base:2")
			require.NoError(t, err)
			assert.Equal(t, committed.ID, resolved.ID)

			c2 := newContainer(driver, engine.HostConfig{}, committed)
			create(t, s, c2, committed)
			root2, _, err := s.Mount(c2)
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, s.Unmount(c2)) })
			b, err := os.ReadFile(filepath.Join(root2, "etc/change"))
			require.NoError(t, err)
			assert.Equal(t, "new\n", string(b))
			assert.FileExists(t, filepath.Join(root2, "etc/new"))
			assert.FileExists(t, filepath.Join(root2, "etc/keep"))
			assert.NoFileExists(t, filepath.Join(root2, "etc/gone"), "the whiteout hides the lower file")
			assert.NoFileExists(t, filepath.Join(root2, "d/old"), "the opaque directory hides the lower contents")
			assert.FileExists(t, filepath.Join(root2, "d/fresh"))

			var exp bytes.Buffer
			require.NoError(t, s.Export(c2, &exp))
			names := tarNames(t, &exp)
			assert.Equal(t, "new\n", names["etc/change"])
			assert.Contains(t, names, "etc/new")
			assert.NotContains(t, names, "etc/gone")
			assert.NotContains(t, names, "d/old")
			var keys []string
			for k := range names {
				keys = append(keys, k)
				assert.NotContains(t, k, ".wh.", "an export is flat: no whiteouts")
			}
			sort.Strings(keys)
			assert.Contains(t, keys, "data/seed")
		})
	}
}
