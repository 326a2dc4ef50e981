package rootfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// The three system calls this lesson is made of each get one small wrapper:
// mount(2), umount2(2) and pivot_root(2). A failure comes back as a
// *MountError that names the call, the paths and the flags by their names,
// so that a student reads
//
//	mount MS_BIND|MS_REC /tmp/rootfs on /tmp/rootfs: permission denied
//
// instead of a bare "permission denied". errors.Is(err, unix.EPERM) still
// works through Unwrap.

// MountError is a failed mount(2), umount2(2) or pivot_root(2).
type MountError struct {
	Op     string  // "mount", "umount2" or "pivot_root"
	Source string  // mount: what is mounted; pivot_root: the new root
	Target string  // mount, umount2: where; pivot_root: where the old root goes
	FSType string  // mount: the filesystem type, "" for bind mounts and remounts
	Flags  uintptr // MS_* for mount, MNT_* for umount2
	Data   string  // mount: the filesystem's own options
	Err    error   // the errno
}

func (e *MountError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	switch e.Op {
	case "mount":
		if e.FSType != "" {
			fmt.Fprintf(&b, " -t %s", e.FSType)
		}
		fmt.Fprintf(&b, " %s", mountFlagNames(e.Flags))
		if e.Data != "" {
			fmt.Fprintf(&b, " -o %s", e.Data)
		}
		src := e.Source
		if src == "" {
			src = `""`
		}
		fmt.Fprintf(&b, " %s on %s", src, e.Target)
	case "umount2":
		fmt.Fprintf(&b, " %s %s", unmountFlagNames(e.Flags), e.Target)
	case "pivot_root":
		fmt.Fprintf(&b, " new root %s, old root to %s", e.Source, e.Target)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *MountError) Unwrap() error { return e.Err }

// mount is mount(2). See mount(2) for what each flag means; the flags that
// are not a filesystem's own options go in flags, the rest in data.
func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return &MountError{Op: "mount", Source: source, Target: target, FSType: fstype, Flags: flags, Data: data, Err: err}
	}
	return nil
}

// unmount is umount2(2).
func unmount(target string, flags int) error {
	if err := unix.Unmount(target, flags); err != nil {
		return &MountError{Op: "umount2", Target: target, Flags: uintptr(flags), Err: err}
	}
	return nil
}

// pivotRoot is pivot_root(2): make newRoot the root of our mount namespace
// and move the old root to putOld (which must be at or under newRoot).
func pivotRoot(newRoot, putOld string) error {
	if err := unix.PivotRoot(newRoot, putOld); err != nil {
		return &MountError{Op: "pivot_root", Source: newRoot, Target: putOld, Err: err}
	}
	return nil
}

// msNames lists the mount flags by name, in the order they are printed.
var msNames = []struct {
	flag uintptr
	name string
}{
	{unix.MS_RDONLY, "MS_RDONLY"},
	{unix.MS_NOSUID, "MS_NOSUID"},
	{unix.MS_NODEV, "MS_NODEV"},
	{unix.MS_NOEXEC, "MS_NOEXEC"},
	{unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"},
	{unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_MANDLOCK, "MS_MANDLOCK"},
	{unix.MS_DIRSYNC, "MS_DIRSYNC"},
	{unix.MS_NOATIME, "MS_NOATIME"},
	{unix.MS_NODIRATIME, "MS_NODIRATIME"},
	{unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"},
	{unix.MS_REC, "MS_REC"},
	{unix.MS_SILENT, "MS_SILENT"},
	{unix.MS_POSIXACL, "MS_POSIXACL"},
	{unix.MS_UNBINDABLE, "MS_UNBINDABLE"},
	{unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"},
	{unix.MS_SHARED, "MS_SHARED"},
	{unix.MS_RELATIME, "MS_RELATIME"},
	{unix.MS_I_VERSION, "MS_I_VERSION"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME"},
	{unix.MS_LAZYTIME, "MS_LAZYTIME"},
}

// mountFlagNames spells MS_* flags as "MS_BIND|MS_REC"; 0 is "0".
func mountFlagNames(flags uintptr) string {
	var names []string
	for _, n := range msNames {
		if flags&n.flag != 0 {
			names = append(names, n.name)
			flags &^= n.flag
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// unmountFlagNames spells umount2(2) flags.
func unmountFlagNames(flags uintptr) string {
	var names []string
	for _, n := range []struct {
		flag uintptr
		name string
	}{{unix.MNT_FORCE, "MNT_FORCE"}, {unix.MNT_DETACH, "MNT_DETACH"}, {unix.MNT_EXPIRE, "MNT_EXPIRE"}, {unix.UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW"}} {
		if flags&n.flag != 0 {
			names = append(names, n.name)
			flags &^= n.flag
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}
