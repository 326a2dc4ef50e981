package storage

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := NewStore(t.TempDir())
	require.NoError(t, err)
	return s
}

func put(t *testing.T, s *Store, es ...ent) digest.Digest {
	t.Helper()
	d, err := s.Put(bytes.NewReader(tarOf(t, es...)))
	require.NoError(t, err)
	return d
}

func snapshotter(t *testing.T, driver string, s *Store) Snapshotter {
	t.Helper()
	if driver == "overlay" {
		testkit.Require(t, "overlayfs", OverlaySupported)
	}
	sn, err := NewSnapshotter(driver, s)
	require.NoError(t, err)
	return sn
}

// prepareAndMount prepares snapshot id and mounts it on a new directory;
// the test's end unmounts and removes both.
func prepareAndMount(t *testing.T, sn Snapshotter, id string, layers []digest.Digest) string {
	t.Helper()
	require.NoError(t, sn.Prepare(id, layers))
	t.Cleanup(func() { assert.NoError(t, sn.Remove(id)) })
	target := t.TempDir()
	require.NoError(t, sn.Mount(id, target))
	t.Cleanup(func() { assert.NoError(t, unix.Unmount(target, unix.MNT_DETACH)) })
	return target
}

// view lists what a root shows: "path" for files, "path/" for directories.
func view(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	}))
	return out
}

// 120 layers, each adding a file; layer 60 whites out layer 10's file and
// layer 90 makes opq/ opaque over what layers 20 and 30 put there.
func TestSnapshot120Layers(t *testing.T) {
	for _, driver := range Drivers {
		t.Run(driver, func(t *testing.T) {
			testkit.Root(t)
			s := newTestStore(t)
			var layers []digest.Digest
			for i := 1; i <= 120; i++ {
				es := []ent{dir("files/"), file(fmt.Sprintf("files/f%03d", i), fmt.Sprint(i))}
				switch i {
				case 20, 30:
					es = append(es, dir("opq/"), file(fmt.Sprintf("opq/old%d", i), "old"))
				case 60:
					es = append(es, file("files/.wh.f010", ""))
				case 90:
					es = append(es, dir("opq/"), file("opq/.wh..wh..opq", ""), file("opq/new", "new"))
				}
				layers = append(layers, put(t, s, es...))
			}
			want := []string{"files/"}
			for i := 1; i <= 120; i++ {
				if i != 10 {
					want = append(want, fmt.Sprintf("files/f%03d", i))
				}
			}
			want = append(want, "opq/", "opq/new")

			sn := snapshotter(t, driver, s)
			root := prepareAndMount(t, sn, "c120", layers)
			assert.Equal(t, want, view(t, root))
			b, err := os.ReadFile(filepath.Join(root, "files/f120"))
			require.NoError(t, err)
			assert.Equal(t, "120", string(b))

			if o, ok := sn.(*Overlay); ok {
				opts, err := o.Options("c120")
				require.NoError(t, err)
				assert.Less(t, len(opts), 4096)
				var abs []string
				for _, d := range layers {
					p, err := s.Path(d)
					require.NoError(t, err)
					abs = append(abs, p)
				}
				assert.Greater(t, len("lowerdir="+strings.Join(abs, ":")), 4096,
					"absolute layer paths would not fit in mount(2)'s page: the short links matter")
			}
		})
	}
}

// du is the disk space of the files under dir, each inode counted once.
func du(t *testing.T, dir string) int64 {
	t.Helper()
	seen := map[uint64]bool{}
	var n int64
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if !seen[st.Ino] {
			seen[st.Ino] = true
			n += st.Blocks * 512
		}
		return nil
	}))
	return n
}

// Two containers of one image: overlay shares the layers (the store grows
// by two empty upper directories), vfs really copies (by two images).
func TestSnapshotsShareLayers(t *testing.T) {
	const size = 4 << 20
	for _, driver := range Drivers {
		t.Run(driver, func(t *testing.T) {
			testkit.Root(t)
			s := newTestStore(t)
			big := strings.Repeat("minibox!", size/8)
			layers := []digest.Digest{
				put(t, s, dir("data/"), file("data/one", big)),
				put(t, s, dir("data/"), file("data/two", big)),
			}
			sn := snapshotter(t, driver, s)
			before := du(t, s.Root)
			a := prepareAndMount(t, sn, "a", layers)
			b := prepareAndMount(t, sn, "b", layers)
			grew := du(t, s.Root) - before
			t.Logf("%s: the store grew by %d bytes for two containers of a %d-byte image", driver, grew, 2*size)

			for _, root := range []string{a, b} {
				assert.Equal(t, []string{"data/", "data/one", "data/two"}, view(t, root))
			}
			var sa, sb unix.Stat_t
			require.NoError(t, unix.Stat(filepath.Join(a, "data/one"), &sa))
			require.NoError(t, unix.Stat(filepath.Join(b, "data/one"), &sb))
			if driver == "overlay" {
				assert.Less(t, grew, int64(1<<20), "overlay: one copy of the layers")
			} else {
				assert.GreaterOrEqual(t, grew, int64(4*size), "vfs: each container has its copy")
				assert.NotEqual(t, sa.Ino, sb.Ino)
			}
			// Copy-on-write: one container's write is its own.
			require.NoError(t, os.WriteFile(filepath.Join(a, "data/one"), []byte("changed"), 0o644))
			got, err := os.ReadFile(filepath.Join(b, "data/one"))
			require.NoError(t, err)
			assert.Equal(t, big, string(got), "the other container still sees the image's file")
			p, err := s.Path(layers[0])
			require.NoError(t, err)
			got, err = os.ReadFile(filepath.Join(p, "data/one"))
			require.NoError(t, err)
			assert.Equal(t, big, string(got), "the layer is unchanged")
		})
	}
}

// A container adds, changes and deletes files, replaces a directory;
// Changes lists it as docker diff does, Commit makes it a layer, and a
// container of the new stack sees the result. Both drivers agree.
func TestChangesAndCommit(t *testing.T) {
	for _, driver := range Drivers {
		t.Run(driver, func(t *testing.T) {
			testkit.Root(t)
			s := newTestStore(t)
			base := put(t, s,
				dir("etc/"), file("etc/hostname", "box"), file("etc/motd", "hi"),
				dir("usr/"), dir("usr/bin/"), file("usr/bin/tool", "v1"),
				dir("var/"), dir("var/cache/"), file("var/cache/a", "a"), file("var/cache/b", "b"),
			)
			sn := snapshotter(t, driver, s)
			root := prepareAndMount(t, sn, "work", []digest.Digest{base})
			require.NoError(t, os.WriteFile(filepath.Join(root, "etc/new"), []byte("new"), 0o644))
			f, err := os.OpenFile(filepath.Join(root, "usr/bin/tool"), os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.WriteString("+v2")
			require.NoError(t, err)
			require.NoError(t, f.Close())
			require.NoError(t, os.Remove(filepath.Join(root, "etc/motd")))
			require.NoError(t, os.RemoveAll(filepath.Join(root, "var/cache")))
			require.NoError(t, os.Mkdir(filepath.Join(root, "var/cache"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(root, "var/cache/c"), []byte("c"), 0o644))

			changes, err := sn.Changes("work")
			require.NoError(t, err)
			var got []string
			for _, c := range changes {
				got = append(got, c.String())
			}
			assert.Equal(t, []string{
				"C /etc", "D /etc/motd", "A /etc/new",
				"C /usr", "C /usr/bin", "C /usr/bin/tool",
				"C /var", "C /var/cache", "D /var/cache/a", "D /var/cache/b", "A /var/cache/c",
			}, got)

			top, err := Commit(sn, s, "work")
			require.NoError(t, err)
			assert.True(t, s.Has(top))
			next := prepareAndMount(t, sn, "next", []digest.Digest{base, top})
			assert.Equal(t, []string{
				"etc/", "etc/hostname", "etc/new",
				"usr/", "usr/bin/", "usr/bin/tool",
				"var/", "var/cache/", "var/cache/c",
			}, view(t, next))
			b, err := os.ReadFile(filepath.Join(next, "usr/bin/tool"))
			require.NoError(t, err)
			assert.Equal(t, "v1+v2", string(b))

			users, err := s.Users(base)
			require.NoError(t, err)
			assert.Equal(t, []string{"snapshot-" + driver + "-next", "snapshot-" + driver + "-work"}, users)
			assert.ErrorIs(t, s.Remove(base), ErrInUse)
		})
	}
}

func TestSnapshotterRefusesBadInput(t *testing.T) {
	s := newTestStore(t)
	_, err := NewSnapshotter("aufs", s)
	assert.ErrorContains(t, err, "overlay, vfs")
	for _, driver := range Drivers {
		sn, err := NewSnapshotter(driver, s)
		require.NoError(t, err)
		for _, id := range []string{"", "..", "a/b", "a,b", "a:b"} {
			assert.Error(t, sn.Prepare(id, nil), "%s %q", driver, id)
		}
		assert.ErrorIs(t, sn.Prepare("x", []digest.Digest{digest.FromString("missing")}), ErrUnknownLayer)
		_, err = os.Stat(filepath.Join(s.Root, driver, "x"))
		assert.ErrorIs(t, err, os.ErrNotExist, "a failed Prepare leaves nothing")
		assert.NoError(t, sn.Remove("never-made"))
	}
}

// A root without layers (FROM scratch) works too, and removing the
// snapshots frees the layers for Store.Remove.
func TestEmptySnapshotAndRelease(t *testing.T) {
	for _, driver := range Drivers {
		t.Run(driver, func(t *testing.T) {
			testkit.Root(t)
			s := newTestStore(t)
			sn := snapshotter(t, driver, s)
			root := prepareAndMount(t, sn, "scratch", nil)
			assert.Empty(t, view(t, root))
			require.NoError(t, os.WriteFile(filepath.Join(root, "x"), nil, 0o644))
			changes, err := sn.Changes("scratch")
			require.NoError(t, err)
			assert.Equal(t, []Change{{Added, "/x"}}, changes)

			layer := put(t, s, file("a", "a"))
			require.NoError(t, sn.Prepare("user", []digest.Digest{layer}))
			assert.ErrorIs(t, s.Remove(layer), ErrInUse)
			require.NoError(t, sn.Remove("user"))
			_, err = os.Stat(filepath.Join(s.Root, driver, "user"))
			assert.ErrorIs(t, err, os.ErrNotExist)
			require.NoError(t, s.Remove(layer))
		})
	}
}
