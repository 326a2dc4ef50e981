// Package caps holds the capability list that Docker gives a container by
// default. Two packages of lesson 03 need it: rootfs, which gives the
// container these capabilities, and seccomp, whose profile allows some
// system calls only to a container that holds a capability. It is a package
// of its own so that both can import it (rootfs imports seccomp).
package caps

// Default returns the capabilities Docker leaves a container's root: enough
// to own files, switch users, bind low ports and make device nodes (which
// the device cgroup still polices), but not CAP_SYS_ADMIN (mount, and much
// more), CAP_NET_ADMIN (change links and routes), CAP_SYS_PTRACE,
// CAP_SYS_MODULE and the other ways to reach past the namespaces. The
// caller may change the slice: each call returns a new one.
func Default() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}
