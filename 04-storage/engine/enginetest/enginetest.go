// Package enginetest is a stand-in for lesson 04's storage while it is being
// written: a Storage that copies a root filesystem directory per container
// and bind-mounts it (so that unmounting is real and checked), and an
// Images that knows one image, "busybox", made from that directory. The
// engine's tests use it; 04-storage/main.go wires the real storage.
package enginetest

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	digest "github.com/opencontainers/go-digest"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/03-rootfs/runflags"
	"minibox/04-storage/engine"
)

// RootfsEnv names the directory the images are made of.
const RootfsEnv = "MINIBOX_TEST_ROOTFS"

// Storage copies Rootfs for each container under Dir.
type Storage struct {
	Dir    string // DATAROOT/teststorage
	Rootfs string // the image's files
}

func (s *Storage) dir(c *engine.Container) string { return filepath.Join(s.Dir, c.ID) }

// Create copies the image's files into the container's directory.
func (s *Storage) Create(c *engine.Container, img *engine.Image) error {
	if s.Rootfs == "" {
		return fmt.Errorf("test storage: set %s to a root filesystem directory", RootfsEnv)
	}
	for _, b := range c.HostConfig.Binds {
		if _, err := runflags.ParseVolume(b); err != nil {
			return err
		}
	}
	for p, o := range c.HostConfig.Tmpfs {
		if _, err := runflags.ParseTmpfs(tmpfsArg(p, o)); err != nil {
			return err
		}
	}
	dst := filepath.Join(s.dir(c), "rootfs")
	if err := os.MkdirAll(filepath.Join(s.dir(c), "merged"), 0o755); err != nil {
		return err
	}
	if err := copyTree(s.Rootfs, dst); err != nil {
		os.RemoveAll(s.dir(c))
		return fmt.Errorf("test storage: %w", err)
	}
	// An image's "/" is 0755 (a temporary directory is 0700).
	if err := os.Chmod(dst, 0o755); err != nil {
		os.RemoveAll(s.dir(c))
		return fmt.Errorf("test storage: %w", err)
	}
	c.GraphDriver = engine.GraphDriver{Name: "copy", Data: map[string]string{"UpperDir": dst, "MergedDir": filepath.Join(s.dir(c), "merged")}}
	return nil
}

func tmpfsArg(p, o string) string {
	if o == "" {
		return p
	}
	return p + ":" + o
}

// Mount bind-mounts the copy on merged/ and returns the binds and tmpfs.
func (s *Storage) Mount(c *engine.Container) (string, []specs.Mount, error) {
	merged := filepath.Join(s.dir(c), "merged")
	if !mounted(merged) {
		if err := unix.Mount(filepath.Join(s.dir(c), "rootfs"), merged, "", unix.MS_BIND, ""); err != nil {
			return "", nil, fmt.Errorf("test storage: bind %s: %w", merged, err)
		}
	}
	var mounts []specs.Mount
	for _, b := range c.HostConfig.Binds {
		m, err := runflags.ParseVolume(b)
		if err != nil {
			return "", nil, err
		}
		mounts = append(mounts, m)
	}
	for p, o := range c.HostConfig.Tmpfs {
		m, err := runflags.ParseTmpfs(tmpfsArg(p, o))
		if err != nil {
			return "", nil, err
		}
		mounts = append(mounts, m)
	}
	return merged, mounts, nil
}

// Unmount undoes Mount.
func (s *Storage) Unmount(c *engine.Container) error {
	merged := filepath.Join(s.dir(c), "merged")
	for mounted(merged) {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("test storage: unmount %s: %w", merged, err)
		}
	}
	return nil
}

// Remove deletes the copy.
func (s *Storage) Remove(c *engine.Container, volumes bool) error {
	if err := s.Unmount(c); err != nil {
		return err
	}
	return os.RemoveAll(s.dir(c))
}

func mounted(p string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.ReplaceAll(fields[4], `\040`, " ") == p {
			return true
		}
	}
	return false
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, to)
		case fi.IsDir():
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
			return os.Chmod(to, fi.Mode().Perm()|fi.Mode()&fs.ModeSticky)
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, fi.Mode().Perm())
		}
		return nil
	})
}

// Images knows "busybox" (any tag) and "busybox-usr1", whose stop signal
// is SIGUSR1.
type Images struct{}

// Resolve finds one of the two images.
func (Images) Resolve(ref string) (*engine.Image, error) {
	name := strings.TrimSuffix(ref, ":latest")
	var cfg imagespec.ImageConfig
	switch name {
	case "busybox":
		cfg = imagespec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FROM_IMAGE=yes"}}
	case "busybox-usr1":
		cfg = imagespec.ImageConfig{Cmd: []string{"sh"}, StopSignal: "SIGUSR1", WorkingDir: "/tmp"}
	default:
		if strings.HasPrefix(ref, "sha256:") {
			for _, n := range []string{"busybox", "busybox-usr1"} {
				if img, _ := (Images{}).Resolve(n); strings.HasPrefix(img.ID.String(), ref) {
					return img, nil
				}
			}
		}
		return nil, fmt.Errorf("%w: Unable to find image '%s' locally", engine.ErrImageNotFound, ref)
	}
	id := digest.NewDigestFromBytes(digest.SHA256, func() []byte { h := sha256.Sum256([]byte(name)); return h[:] }())
	return &engine.Image{ID: id, RepoTags: []string{name + ":latest"}, Config: imagespec.Image{Config: cfg}}, nil
}
