package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"minibox/02-cgroups/cgroups"
)

// mountCgroups gives the container a /sys/fs/cgroup (a "cgroup" mount in
// the spec, as `runc spec` writes it) that shows its own cgroup only.
//
// In its own cgroup namespace (which the init entered before this) a new
// mount of a cgroup filesystem is rooted at the container's cgroup. Without
// one it would show the host's whole tree, so then the container's own
// directory of the host's hierarchy is bind-mounted instead.
//
// On cgroup v2 that is one mount.
//
// On v1 every controller is a hierarchy of its own, so /sys/fs/cgroup
// becomes a small tmpfs with one directory per hierarchy of the host
// (cpu,cpuacct memory pids ...), each holding the container's cgroup of
// that hierarchy, and links for co-mounted controllers (cpu -> cpu,cpuacct),
// as on the host. A read-only mount makes all of them read-only.
func mountCgroups(dest string, o mountOptions, fresh bool) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("create the mount point: %w", err)
	}
	hier, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	ro := o.flags & unix.MS_RDONLY
	flags := o.flags &^ unix.MS_RDONLY
	if len(hier) == 1 && hier[0].fstype == "cgroup2" && hier[0].mountpoint == "/sys/fs/cgroup" {
		return mountOneCgroup(hier[0], dest, o.flags, fresh)
	}
	if err := mount("tmpfs", dest, "tmpfs", flags, "mode=755"); err != nil {
		return err
	}
	for _, h := range hier {
		name := filepath.Base(h.mountpoint)
		sub := filepath.Join(dest, name)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", sub, err)
		}
		// A hierarchy in which the container has no cgroup of its own
		// (minibox makes none for devices or name=systemd) would show the
		// host's whole tree: it stays an empty directory. In a cgroup
		// namespace that is the hierarchy whose host mount is not outside
		// the namespace's root (its root field is "/", not "/../..").
		if (!fresh && h.own == ".") || (fresh && h.mountRoot == "/") {
			continue
		}
		if err := mountOneCgroup(h, sub, o.flags, fresh); err != nil {
			return err
		}
		if strings.Contains(name, ",") {
			for _, c := range strings.Split(name, ",") {
				_ = os.Symlink(name, filepath.Join(dest, c))
			}
		}
	}
	if ro != 0 {
		return remount(dest, flags|unix.MS_RDONLY)
	}
	return nil
}

// mountOneCgroup puts the container's cgroup of one hierarchy at dest: a
// fresh mount in a cgroup namespace, else a bind mount of its directory.
func mountOneCgroup(h cgroupHierarchy, dest string, flags uintptr, fresh bool) error {
	if fresh {
		data := ""
		if h.fstype == "cgroup" {
			data = h.options
		}
		return mount("cgroup", dest, h.fstype, flags&(unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC), data)
	}
	src := filepath.Join(h.mountpoint, h.own)
	if err := mount(src, dest, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return remount(dest, unix.MS_BIND|(flags&(unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)))
}

// cgroupHierarchy is one cgroup filesystem mounted on the host, with the
// path of our own cgroup in it.
type cgroupHierarchy struct {
	mountpoint, fstype, own string
	mountRoot               string // the mount's root in the hierarchy, as mountinfo shows it to us
	options                 string // for a v1 mount: "cpu,cpuacct" or "none,name=systemd"
}

// cgroupHierarchies lists the cgroup mounts under /sys/fs/cgroup and where
// this process sits in each (from /proc/self/cgroup). It runs before
// pivot_root, so both files still show the host's view.
func cgroupHierarchies() ([]cgroupHierarchy, error) {
	own := map[string]string{} // "cpu,cpuacct" or "" (v2) -> path
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroup mount: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(cg)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			own[strings.TrimPrefix(parts[1], "name=")] = parts[2]
		}
	}
	mounts, err := cgroups.Mounts("")
	if err != nil {
		return nil, fmt.Errorf("cgroup mount: %w", err)
	}
	var out []cgroupHierarchy
	for _, m := range mounts {
		key, options := "", ""
		if m.FSType == "cgroup" {
			key = cgroupKey(m.SuperOptions)
			options = key
			if strings.Contains(m.SuperOptions, "name=") {
				options = "none,name=" + key
			}
		}
		path, ok := own[key]
		if !ok {
			continue
		}
		// The mount may itself show only a subtree (its root).
		rel, err := filepath.Rel(m.Root, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			rel = "."
		}
		out = append(out, cgroupHierarchy{mountpoint: m.Point, fstype: m.FSType, own: rel, mountRoot: m.Root, options: options})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cgroup mount: no cgroup filesystem is mounted under /sys/fs/cgroup")
	}
	return out, nil
}

// cgroupKey turns a v1 mount's super options ("rw,cpu,cpuacct" or
// "rw,name=systemd") into the controller list /proc/self/cgroup uses.
func cgroupKey(superOpts string) string {
	var names []string
	for _, o := range strings.Split(superOpts, ",") {
		switch {
		case strings.HasPrefix(o, "name="):
			return strings.TrimPrefix(o, "name=")
		case o == "rw" || o == "ro" || strings.Contains(o, "=") || o == "noprefix" || o == "clone_children" || o == "xattr" || o == "nsdelegate" || o == "memory_recursiveprot":
		default:
			names = append(names, o)
		}
	}
	return strings.Join(names, ",")
}
