package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
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
//
// target is resolved inside the root and mounted on through a descriptor
// (resolve_linux.go); below it, inside our own new tmpfs, plain paths are
// safe: no one else can reach that tmpfs yet.
func mountCgroups(rd *rootDir, target string, o mountOptions, fresh bool) (*os.File, error) {
	hier, err := cgroupHierarchies()
	if err != nil {
		return nil, err
	}
	ro := o.flags & unix.MS_RDONLY
	flags := o.flags &^ unix.MS_RDONLY
	if len(hier) == 1 && hier[0].fstype == "cgroup2" && hier[0].mountpoint == "/sys/fs/cgroup" {
		top, err := mountNew(rd, target, mkDir, func(at string) error {
			return mountOneCgroup(hier[0], at, o.flags, fresh)
		})
		if err != nil || fresh {
			return top, err
		}
		// The bind mount's flags, set on the new mount (mountNew's root of
		// it: the descriptor we mounted on names the directory underneath).
		if err := nameTarget(remount(procPath(top), unix.MS_BIND|cgroupFlags(o.flags)), top); err != nil {
			top.Close()
			return nil, err
		}
		return top, nil
	}
	tmpfs, err := mountNew(rd, target, mkDir, func(at string) error {
		return mount("tmpfs", at, "tmpfs", flags, "mode=755")
	})
	if err != nil {
		return nil, err
	}
	if err := fillCgroupTmpfs(tmpfs, hier, o, fresh, ro, flags); err != nil {
		tmpfs.Close()
		return nil, err
	}
	return tmpfs, nil
}

// fillCgroupTmpfs puts one directory per hierarchy into the v1 tmpfs.
func fillCgroupTmpfs(tmpfs *os.File, hier []cgroupHierarchy, o mountOptions, fresh bool, ro, flags uintptr) error {
	dest := procPath(tmpfs)
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
		if !fresh {
			// A lookup of sub by name enters the new mount: remount it.
			if err := remount(sub, unix.MS_BIND|cgroupFlags(o.flags)); err != nil {
				return err
			}
		}
		if strings.Contains(name, ",") {
			for _, c := range strings.Split(name, ",") {
				if err := os.Symlink(name, filepath.Join(dest, c)); err != nil && !errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("link %s to %s: %w", c, name, err)
				}
			}
		}
	}
	if ro != 0 {
		return remount(dest, flags|unix.MS_RDONLY)
	}
	return nil
}

// mountOneCgroup puts the container's cgroup of one hierarchy at dest: a
// fresh mount in a cgroup namespace, else a bind mount of its directory
// (whose flags the caller then sets with a remount).
func mountOneCgroup(h cgroupHierarchy, dest string, flags uintptr, fresh bool) error {
	if fresh {
		data := ""
		if h.fstype == "cgroup" {
			data = h.options
		}
		return mount("cgroup", dest, h.fstype, cgroupFlags(flags), data)
	}
	return mount(filepath.Join(h.mountpoint, h.own), dest, "", unix.MS_BIND|unix.MS_REC, "")
}

// cgroupFlags are the spec's flags that a cgroup mount keeps.
func cgroupFlags(flags uintptr) uintptr {
	return flags & (unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
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
