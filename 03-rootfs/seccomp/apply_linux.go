package seccomp

import (
	"fmt"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Apply installs the profile's filter on the calling thread. nil or an
// empty profile means unconfined (`--security-opt seccomp=unconfined`):
// Apply does nothing.
//
// A seccomp filter belongs to a thread, not to a process (seccomp(2)): it
// is inherited by the threads and children that this thread creates
// afterwards, and it survives execve(2). So the caller must lock its
// goroutine to its thread (runtime.LockOSThread) and execve the
// container's command from that same thread, as rootfs.Finish does: the
// new program, all of its threads and all of its children then run under
// this filter, while the runtime's other threads, which die at execve,
// never had it. That is also why Apply does not use
// SECCOMP_FILTER_FLAG_TSYNC: nothing but this thread needs the filter.
//
// Installing a filter needs CAP_SYS_ADMIN or the no_new_privs bit, so that
// an unprivileged process cannot confuse a setuid program with a filter.
// When the thread does not hold CAP_SYS_ADMIN (the usual case after
// Finish dropped the capabilities), Apply sets no_new_privs first, as
// go-seccomp-bpf's LoadFilter does when asked with Filter.NoNewPrivs (the
// library leaves that choice to its caller). runc avoids forcing the bit:
// without spec.Process.NoNewPrivileges it installs the filter before it
// drops the capabilities. The two system calls are made here rather than
// through LoadFilter because the program comes from Compile, not from the
// library's assembler (see Compile for why).
//
// Apply should come right before execve(2): every call after it is
// filtered, and the filter must allow execve itself (Docker's does).
func Apply(s *specs.LinuxSeccomp) error {
	if Unconfined(s) {
		return nil
	}
	prog, err := Compile(s)
	if err != nil {
		return err
	}
	raw, err := bpf.Assemble(prog.Instructions)
	if err != nil {
		return fmt.Errorf("seccomp: assemble the filter: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}

	admin, err := hasSysAdmin()
	if err != nil {
		return err
	}
	if !admin {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("seccomp: prctl PR_SET_NO_NEW_PRIVS: %w", err)
		}
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(prog.Flags), uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		switch errno {
		case unix.ENOSYS:
			return fmt.Errorf("seccomp: the kernel has no seccomp(2) (CONFIG_SECCOMP_FILTER): %w", errno)
		case unix.EACCES:
			return fmt.Errorf("seccomp: install the filter: neither CAP_SYS_ADMIN nor no_new_privs: %w", errno)
		}
		return fmt.Errorf("seccomp: install the filter (%d instructions, flags %#x): %w", len(filter), prog.Flags, errno)
	}
	return nil
}

// hasSysAdmin reports whether this thread holds CAP_SYS_ADMIN in its
// effective set, which is what seccomp(2) checks.
func hasSysAdmin() (bool, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3} // Pid 0: this thread
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false, fmt.Errorf("seccomp: capget: %w", err)
	}
	return data[unix.CAP_SYS_ADMIN/32].Effective&(1<<(unix.CAP_SYS_ADMIN%32)) != 0, nil
}
