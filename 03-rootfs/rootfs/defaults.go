package rootfs

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/03-rootfs/caps"
)

// DefaultMounts returns the filesystems Docker (through runc) mounts into
// every container, in the order they must be mounted: /dev before the
// mounts inside it. The container gets a /proc and /sys of its own
// namespaces, a fresh /dev on tmpfs (the host's device nodes stay out of
// reach; Setup creates the few a program expects), its own pseudo-terminals
// in /dev/pts, POSIX shared memory in /dev/shm and message queues in
// /dev/mqueue. /sys is read-only: much of it is global to the machine.
//
// Docker also mounts the container's cgroups read-only at /sys/fs/cgroup
// (Setup knows the "cgroup" mount type, and the OCI `spec` command adds it);
// `run --rootfs` leaves it out to keep the list short.
func DefaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
	}
}

// DefaultMaskedPaths returns the paths Docker hides from a container: files
// in /proc and /sys that are not namespaced and tell (or let a process
// change) too much about the host, such as its kernel memory (/proc/kcore),
// its keyrings (/proc/keys) or its firmware (/sys/firmware). Setup covers
// each file with /dev/null and each directory with an empty read-only tmpfs.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/asound",
		"/proc/acpi",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
}

// DefaultReadonlyPaths returns the paths in /proc that Docker makes
// read-only: through them root could change the whole machine (most of
// /proc/sys is global, /proc/sysrq-trigger can reboot it), yet programs
// legitimately read them.
func DefaultReadonlyPaths() []string {
	return []string{
		"/proc/bus",
		"/proc/fs",
		"/proc/irq",
		"/proc/sys",
		"/proc/sysrq-trigger",
	}
}

// DefaultCapabilities returns the capabilities Docker leaves a container's
// root (caps.Default, where the list and its reasons are written once, for
// this package and for seccomp's capability rules).
func DefaultCapabilities() []string { return caps.Default() }

// CapabilitiesOf returns the spec form of a capability list as Docker fills
// it: the same set as bounding, effective and permitted; inheritable and
// ambient stay empty, so a program that switches to another user keeps none.
func CapabilitiesOf(caps []string) *specs.LinuxCapabilities {
	cp := func() []string { return append([]string(nil), caps...) }
	return &specs.LinuxCapabilities{Bounding: cp(), Effective: cp(), Permitted: cp()}
}
