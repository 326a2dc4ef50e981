package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"minibox/01-namespaces/namespaces"
	"minibox/03-rootfs/hooks"
)

// Setup gives the container its own root filesystem. It is a
// initproto.Step: lesson 01's init runs it inside the new namespaces, after
// it made every mount private and before it looks up the command. With no
// spec.Root it does nothing, and the container keeps seeing the host's files
// as in lessons 01 and 02.
//
// In order, as runc does it:
//
//  1. bind-mount spec.Root.Path onto itself, so that it is a mount point;
//  2. mount spec.Mounts inside it, in the order given;
//  3. when /dev is a filesystem of its own, create the device nodes and
//     links a program expects there;
//  4. pivot_root into it and detach the old root: the host's files are gone;
//  5. write spec.Linux.Sysctl, make spec.Linux.ReadonlyPaths read-only and
//     hide spec.Linux.MaskedPaths;
//  6. create the working directory (EnsureCwd);
//  7. with spec.Root.Readonly, remount "/" read-only.
//
// A relative spec.Root.Path or bind-mount source is taken from the working
// directory the runtime started the container in (for runc: the bundle).
func Setup(spec *specs.Spec) error {
	if spec.Root == nil || spec.Root.Path == "" {
		return nil
	}
	if !namespaces.HasNamespace(spec, specs.MountNamespace) {
		return errors.New("rootfs: a root filesystem needs its own mount namespace: without one, pivot_root would change the host's root")
	}
	if err := checkSysctls(spec); err != nil {
		return err
	}
	root, err := filepath.Abs(spec.Root.Path)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return fmt.Errorf("rootfs: root %s is not a directory", root)
	}

	// pivot_root(2) wants new_root to be a mount point, not just a
	// directory: it swaps whole mounts, and the old root is detached as a
	// mount. Binding the directory onto itself turns it into one (MS_REC
	// takes along what is already mounted below it). The bind mount lives
	// only in our mount namespace, which lesson 01 made private: pivot_root
	// also refuses to work when the old root or new root's parent is shared,
	// because the move would then propagate to the host.
	if err := mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("rootfs: make the root a mount point: %w", err)
	}
	// Every path inside the root is resolved from this descriptor, inside
	// the root, and mounted through a descriptor (resolve_linux.go).
	rd, err := openRoot(root)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	defer rd.close()
	for _, m := range spec.Mounts {
		if err := mountInto(rd, m, namespaces.HasNamespace(spec, specs.CgroupNamespace)); err != nil {
			return fmt.Errorf("rootfs: mount %s: %w", m.Destination, err)
		}
	}
	if ownDev(spec) {
		if err := populateDev(rd, spec); err != nil {
			return fmt.Errorf("rootfs: /dev: %w", err)
		}
	}
	// The OCI createContainer hooks run here: in the container's
	// namespaces, its mounts in place, the host's files still in reach.
	if spec.Hooks != nil && len(spec.Hooks.CreateContainer) > 0 {
		st, err := hooks.InitState(specs.StateCreated)
		if err != nil {
			return err
		}
		if err := hooks.Run("createContainer", spec.Hooks.CreateContainer, st); err != nil {
			return err
		}
	}
	rd.close()
	if err := pivotInto(root); err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}

	// From here on "/" is the container's root.
	if err := rootPropagation(spec); err != nil {
		return err
	}
	if err := writeSysctls(spec); err != nil {
		return err
	}
	if spec.Linux != nil {
		for _, p := range spec.Linux.ReadonlyPaths {
			if err := readonlyPath(p); err != nil {
				return fmt.Errorf("rootfs: read-only path %s: %w", p, err)
			}
		}
		for _, p := range spec.Linux.MaskedPaths {
			if err := maskPath(p); err != nil {
				return fmt.Errorf("rootfs: masked path %s: %w", p, err)
			}
		}
	}
	if err := EnsureCwd(spec); err != nil {
		return err
	}
	if spec.Root.Readonly {
		// Only the root mount becomes read-only: /proc, /dev, a tmpfs on
		// /tmp and every volume keep their own flags.
		if err := remount("/", unix.MS_BIND|unix.MS_RDONLY); err != nil {
			return fmt.Errorf("rootfs: make / read-only: %w", err)
		}
	}
	return nil
}

// EnsureCwd creates the command's working directory inside the container's
// root when it is missing, as `docker run -w /some/new/dir` does. Setup
// calls it after pivot_root; it does nothing without spec.Root, so that it
// never creates directories on the host.
func EnsureCwd(spec *specs.Spec) error {
	if spec.Root == nil || spec.Process == nil || spec.Process.Cwd == "" {
		return nil
	}
	cwd := spec.Process.Cwd
	if !filepath.IsAbs(cwd) {
		return fmt.Errorf("rootfs: the working directory %q must be an absolute path", cwd)
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fmt.Errorf("rootfs: create the working directory: %w", err)
	}
	return nil
}

// mountInto mounts one spec mount inside the root.
func mountInto(rd *rootDir, m specs.Mount, cgroupNS bool) error {
	if !filepath.IsAbs(m.Destination) {
		return fmt.Errorf("the destination must be an absolute path")
	}
	o := parseMountOptions(m.Options)
	var top *os.File // the new mount's root
	var err error
	switch {
	case m.Type == "cgroup" || m.Type == "cgroup2":
		top, err = mountCgroups(rd, m.Destination, o, cgroupNS)
	case isBind(m.Type, o.flags):
		top, err = bindInto(m.Source, rd, m.Destination, o)
	default:
		top, err = mountNew(rd, m.Destination, mkDir, func(at string) error {
			return mount(m.Source, at, m.Type, o.flags, o.data)
		})
	}
	if err != nil {
		return err
	}
	defer top.Close()
	// On the new mount's own root (mountNew's), not on the directory
	// underneath, which the descriptor we mounted on still names.
	for _, p := range o.propagation {
		if err := nameTarget(mount("", procPath(top), "", p, ""), top); err != nil {
			return err
		}
	}
	return nil
}

// withTarget resolves dest inside the root (creating it as create says)
// and calls do with the /proc/self/fd path of the result. A *MountError
// names the target as the root's path, not as /proc/self/fd/N.
func withTarget(rd *rootDir, dest string, create leaf, do func(at string) error) error {
	f, err := rd.open(dest, create)
	if err != nil {
		return err
	}
	defer f.Close()
	return nameTarget(do(procPath(f)), f)
}

// nameTarget makes a *MountError on f's /proc/self/fd path name f instead.
func nameTarget(err error, f *os.File) error {
	var me *MountError
	if errors.As(err, &me) && me.Target == procPath(f) {
		me.Target = f.Name()
	}
	return err
}

// afterMount, when a test sets it, runs between a mount and the reopening
// of its target: where a swap of the target would come.
var afterMount func()

// mountNew resolves dest inside the root, mounts on it with do, and returns
// the root of the new mount, for the calls that change it (a remount's
// flags, propagation). Those must not look dest up by name once more: a
// swap in between would make them land elsewhere, and a read-only volume
// would stay writable without a word. See rootDir.reopenMounted.
func mountNew(rd *rootDir, dest string, create leaf, do func(at string) error) (*os.File, error) {
	f, err := rd.open(dest, create)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := nameTarget(do(procPath(f)), f); err != nil {
		return nil, err
	}
	if afterMount != nil {
		afterMount()
	}
	return rd.reopenMounted(f)
}

// bindInto makes the host's source visible at dest: a bind mount attaches
// the same directory tree (or file) at a second place. The source is the
// host's (the spec's own choice); dest is resolved inside the root.
func bindInto(source string, rd *rootDir, dest string, o mountOptions) (*os.File, error) {
	src, err := filepath.Abs(source)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("bind source: %w", err)
	}
	// The mount point must be of the same kind as the source: a
	// directory for a directory, a file for a file (mounting one over the
	// other fails with ENOTDIR).
	kind := mkFile
	if fi.IsDir() {
		kind = mkDir
	}
	top, err := mountNew(rd, dest, kind, func(at string) error {
		return mount(src, at, "", unix.MS_BIND|o.flags&unix.MS_REC, "")
	})
	if err != nil {
		return nil, err
	}
	// The kernel ignores every flag but MS_BIND and MS_REC when it creates
	// a bind mount: "ro" would be silently dropped. A second call,
	// MS_REMOUNT|MS_BIND with the flags, sets them on the new mount only
	// (never on the source, and not on the mounts below it).
	if extra := o.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); extra != 0 {
		if err := nameTarget(remount(procPath(top), unix.MS_BIND|extra), top); err != nil {
			top.Close()
			return nil, err
		}
	}
	return top, nil
}

// remount changes the flags of the mount at path. In a user namespace the
// kernel refuses (EPERM) a remount that would clear nosuid, nodev, noexec or
// an atime flag that the mount got from a more privileged namespace: those
// flags are "locked". On EPERM we try again keeping the flags the mount
// already has.
func remount(path string, flags uintptr) error {
	err := mount("", path, "", unix.MS_REMOUNT|flags, "")
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	var st unix.Statfs_t
	if serr := unix.Statfs(path, &st); serr != nil {
		return err
	}
	// statfs(2) reports the mount flags as ST_*, which share the MS_* values.
	const lockable = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME
	locked := uintptr(st.Flags) & lockable
	if locked&flags == locked {
		return err
	}
	return mount("", path, "", unix.MS_REMOUNT|flags|locked, "")
}

// createFile creates an empty file at path (and its directories) unless
// something is there already.
func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// pivotInto makes root the root of our mount namespace and throws the old
// root away.
//
// Why not chroot(2)? chroot only changes where path lookups start for this
// process; the host's root is still mounted in the namespace, and a process
// with CAP_SYS_CHROOT walks back out: keep a descriptor of a directory,
// chroot into a subdirectory (now the descriptor points outside the root),
// fchdir to it and chdir("..") up to the real "/". pivot_root moves the
// mounts instead, and once the old root is unmounted there is no "outside"
// left in the namespace to walk to: ".." at the container's "/" is "/".
//
// The trick from runc, pivot_root(".", "."): with new_root and put_old the
// same directory, the old root ends up mounted on top of the new one, at
// the same place. We fchdir into the old root (still reachable through a
// descriptor we opened before), unmount it lazily, and the new root shows
// through. No put_old directory has to be created and removed in the image.
func pivotInto(root string) error {
	// LAB 03.1 BEGIN: pivot_root into root and detach the old root
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the old root: %w", err)
	}
	defer unix.Close(oldRoot)
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("enter the new root: %w", err)
	}
	if err := pivotRoot(".", "."); err != nil {
		return err
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("enter the old root: %w", err)
	}
	// Lesson 01 made every mount private already; a slave mount cannot
	// propagate either, and this keeps the unmount below from reaching the
	// host even if a later lesson changes the root's propagation.
	if err := mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return err
	}
	// MNT_DETACH: the old root is still busy (the proc mount of lesson 01
	// and more lie inside it); a lazy unmount takes it out of the namespace
	// now and frees it once nothing uses it.
	if err := unmount(".", unix.MNT_DETACH); err != nil {
		return err
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("enter the new root: %w", err)
	}
	return nil
	// LAB 03.1 END
	// LAB 03.1 STUB: lab.Warn("03.1") // chroot, the old way: the host stays mounted, and a kept fd escapes
	// LAB 03.1 STUB: if err := unix.Chroot(root); err != nil {
	// LAB 03.1 STUB: 	return fmt.Errorf("chroot %s: %w", root, err)
	// LAB 03.1 STUB: }
	// LAB 03.1 STUB: return unix.Chdir("/")
}

// readonlyPath makes path read-only: bind it onto itself (a mount of its
// own, whose flags can differ from the rest of /proc) and remount that
// read-only. A remount does not act on the mounts below path: a read-only
// tree would need mount_setattr(2) with AT_RECURSIVE (Linux 5.12).
func readonlyPath(path string) error {
	err := mount(path, path, "", unix.MS_BIND|unix.MS_REC, "")
	if errors.Is(err, unix.ENOENT) {
		return nil // this kernel has no such file: nothing to protect
	}
	if err != nil {
		return err
	}
	return remount(path, unix.MS_BIND|unix.MS_RDONLY)
}

// maskPath hides path: a file is covered by /dev/null (reads give nothing,
// writes vanish), a directory by an empty read-only tmpfs.
func maskPath(path string) error {
	// LAB 03.3 BEGIN: hide path: /dev/null over a file, an empty read-only tmpfs over a directory
	if _, err := os.Stat("/dev/null"); err != nil {
		return fmt.Errorf("masking needs /dev/null in the container (mount a tmpfs on /dev): %w", err)
	}
	err := mount("/dev/null", path, "", unix.MS_BIND, "")
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ENOTDIR):
		// Binding a file onto a directory fails with ENOTDIR.
		return mount("tmpfs", path, "tmpfs", unix.MS_RDONLY, "")
	}
	return err
	// LAB 03.3 END
	// LAB 03.3 STUB: lab.Warn("03.3")
	// LAB 03.3 STUB: return nil
}

// ownDev says whether the spec gives /dev a filesystem of its own (not a
// bind mount of a host directory). Only then does Setup create device nodes:
// it must never write them into the image's directory on the host disk.
func ownDev(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev" {
			return !isBind(m.Type, parseMountOptions(m.Options).flags)
		}
	}
	return false
}

// device is a character device every container gets (see devices(7) in
// the kernel's Documentation/admin-guide/devices.txt for the numbers).
type device struct {
	name         string
	major, minor uint32
}

var defaultDevices = []device{
	{"null", 1, 3},
	{"zero", 1, 5},
	{"full", 1, 7},
	{"random", 1, 8},
	{"urandom", 1, 9},
	{"tty", 5, 0},
}

// devLinks are the symbolic links a program expects in /dev.
var devLinks = [][2]string{
	{"/proc/self/fd", "fd"},
	{"/proc/self/fd/0", "stdin"},
	{"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"},
}

// populateDev creates the device nodes and links in the container's fresh
// /dev, before pivot_root, while the host's /dev is still reachable. dev is
// the /proc/self/fd path of the /dev mount, so that every name below it is
// looked up in that very directory.
func populateDev(rd *rootDir, spec *specs.Spec) error {
	devDir, err := rd.open("/dev", mustExist)
	if err != nil {
		return err
	}
	defer devDir.Close()
	dev := procPath(devDir)
	// mknod(2) applies the umask; the nodes must be 0666 for everyone.
	old := unix.Umask(0)
	defer unix.Umask(old)
	userns := namespaces.HasNamespace(spec, specs.UserNamespace)
	// LAB 03.2 BEGIN: create the default device nodes and the links to /proc/self/fd
	for _, d := range defaultDevices {
		path := filepath.Join(dev, d.name)
		if err := makeNode(path, unix.S_IFCHR|0o666, unix.Mkdev(d.major, d.minor), "/dev/"+d.name, userns); err != nil {
			return err
		}
	}
	for _, l := range devLinks {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	// LAB 03.2 END
	// LAB 03.2 STUB: lab.Warn("03.2") // an empty /dev: no null, no zero, no fd links
	// The devices the spec asks for (Docker's --device).
	for _, d := range linuxOf(spec).Devices {
		if err := specDevice(rd, d, userns); err != nil {
			return err
		}
	}
	// A devpts mounted with newinstance has its own ptmx, the multiplexer
	// that hands out new pseudo-terminals, at pts/ptmx. Programs open
	// /dev/ptmx, so it must lead there: a node made with mknod would open
	// the host's devpts instance instead, whose terminals we must not see.
	if fi, err := os.Stat(filepath.Join(dev, "pts/ptmx")); err == nil && fi.Mode()&fs.ModeCharDevice != 0 {
		ptmx := filepath.Join(dev, "ptmx")
		if err := os.Remove(ptmx); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Symlink("pts/ptmx", ptmx); err != nil {
			return err
		}
	}
	return nil
}

// rootPropagation applies linux.rootfsPropagation to the new root. Lesson
// 01 made every mount private; "shared" or "slave" here lets mounts made
// later (by the container, or on the host under a shared bind) travel.
func rootPropagation(spec *specs.Spec) error {
	p := linuxOf(spec).RootfsPropagation
	if p == "" {
		return nil
	}
	flag, ok := map[string]uintptr{
		"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
		"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
		"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
		"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	}[p]
	if !ok {
		return fmt.Errorf("rootfs: linux.rootfsPropagation %q: use shared, slave, private or unbindable (r-prefixed for recursive)", p)
	}
	if err := mount("", "/", "", flag, ""); err != nil {
		return fmt.Errorf("rootfs: root propagation %s: %w", p, err)
	}
	return nil
}

// linuxOf is spec.Linux, or an empty one.
func linuxOf(spec *specs.Spec) *specs.Linux {
	if spec.Linux == nil {
		return &specs.Linux{}
	}
	return spec.Linux
}

// makeNode creates a device node. In a user namespace mknod(2) of a device
// is refused (only the initial namespace may create device nodes: otherwise
// a container could make a node for the host's disk), so there we
// bind-mount the host's node instead, which gives the same file.
func makeNode(path string, mode uint32, dev uint64, hostPath string, userns bool) error {
	err := unix.Mknod(path, mode, int(dev))
	switch {
	case err == nil, errors.Is(err, unix.EEXIST):
		return nil
	case errors.Is(err, unix.EPERM) && userns:
		if err := createFile(path); err != nil {
			return err
		}
		return mount(hostPath, path, "", unix.MS_BIND, "")
	}
	return fmt.Errorf("mknod %s %o %d:%d: %w", path, mode, unix.Major(dev), unix.Minor(dev), err)
}

// specDevice creates one of spec.Linux.Devices inside the root, with its
// type, numbers, permissions and owner.
func specDevice(rd *rootDir, d specs.LinuxDevice, userns bool) error {
	if !filepath.IsAbs(d.Path) || !strings.HasPrefix(filepath.Clean(d.Path), "/dev/") {
		return fmt.Errorf("device %q: the path must be under /dev", d.Path)
	}
	parent, err := rd.open(filepath.Dir(filepath.Clean(d.Path)), mkDir)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	defer parent.Close()
	path := filepath.Join(procPath(parent), filepath.Base(d.Path))
	var mode uint32
	switch d.Type {
	case "c", "u":
		mode = unix.S_IFCHR
	case "b":
		mode = unix.S_IFBLK
	case "p":
		mode = unix.S_IFIFO
	default:
		return fmt.Errorf("device %s: type %q is not c, u, b or p", d.Path, d.Type)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	if err := makeNode(path, mode|perm, unix.Mkdev(uint32(d.Major), uint32(d.Minor)), d.Path, userns); err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	uid, gid := -1, -1
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("device %s: chown: %w", d.Path, err)
		}
	}
	return nil
}

// namespacedSysctls says which sysctls belong to a namespace (and so may be
// set for one container) rather than to the whole machine. Prefixes end in
// a dot. The list is runc's.
var namespacedSysctls = []struct {
	name string
	ns   specs.LinuxNamespaceType
}{
	{"kernel.msgmax", specs.IPCNamespace},
	{"kernel.msgmnb", specs.IPCNamespace},
	{"kernel.msgmni", specs.IPCNamespace},
	{"kernel.sem", specs.IPCNamespace},
	{"kernel.shmall", specs.IPCNamespace},
	{"kernel.shmmax", specs.IPCNamespace},
	{"kernel.shmmni", specs.IPCNamespace},
	{"kernel.shm_rmid_forced", specs.IPCNamespace},
	{"fs.mqueue.", specs.IPCNamespace},
	{"net.", specs.NetworkNamespace},
	{"kernel.hostname", specs.UTSNamespace},
	{"kernel.domainname", specs.UTSNamespace},
}

// checkSysctls refuses a sysctl that is not namespaced, or whose namespace
// the container does not have: writing it would change the host.
func checkSysctls(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	for key := range spec.Linux.Sysctl {
		ok := false
		for _, s := range namespacedSysctls {
			if key == s.name || (strings.HasSuffix(s.name, ".") && strings.HasPrefix(key, s.name)) {
				if !namespaces.HasNamespace(spec, s.ns) {
					return fmt.Errorf("rootfs: sysctl %s belongs to the %s namespace, which this container shares with the host", key, s.ns)
				}
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("rootfs: sysctl %s is not namespaced: setting it in a container would change the whole machine", key)
		}
	}
	return nil
}

// writeSysctls writes spec.Linux.Sysctl through the container's /proc/sys,
// before ReadonlyPaths makes it read-only: "net.ipv4.ip_forward" is the
// file /proc/sys/net/ipv4/ip_forward.
func writeSysctls(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	for key, value := range spec.Linux.Sysctl {
		path := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("rootfs: sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}
