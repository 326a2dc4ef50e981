package seccomp

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Default returns Docker's default profile resolved for a container with
// Docker's default capabilities on this host. Use DefaultFor when the
// container holds other capabilities: `--cap-add SYS_ADMIN` also allows
// mount, unshare and friends, as in Docker.
func Default() *specs.LinuxSeccomp {
	return DefaultFor(DockerDefaultCapabilities())
}

// DefaultFor is Default for a container that holds caps.
func DefaultFor(caps []string) *specs.LinuxSeccomp {
	s, err := DefaultProfile().Resolve(HostEnv(caps))
	if err != nil {
		panic("seccomp: the built-in default profile is invalid: " + err.Error())
	}
	return s
}

// DefaultProfile is Docker's default profile (moby's
// profiles/seccomp/default.json) in Docker's format, before it is resolved
// for a container. It has the same rules, with these differences:
//
//   - the archMap and the architecture-only rules cover amd64 (with i386
//     and x32) and arm64 (with arm); the ppc64le, s390, mips, riscv64 and
//     loong64 entries are left out (they never apply on this lab's
//     machines), so is the s390 variant of the clone rule;
//   - how the rules are enforced differs a little from libseccomp's: see
//     Compile (order of overlapping rules, ABIs without a syscall table,
//     no ENOSYS for syscalls newer than the profile).
//
// What it allows: the ~350 calls of ordinary programs below; personality(2)
// only with the personas programs use; socket(2) for every address family
// except a few rarely used, bug-prone ones (AF_VSOCK among them); clone(2)
// only without namespace flags and clone3(2) failing with ENOSYS (so that
// libc falls back to clone, whose flags a filter can see) unless the
// container holds CAP_SYS_ADMIN; and the calls that only make sense with a
// capability (mount with CAP_SYS_ADMIN, reboot with CAP_SYS_BOOT, chroot with
// CAP_SYS_CHROOT, ...) only when the container holds it. Everything else —
// keyctl, add_key, kexec_load, userfaultfd, open_by_handle_at, ... — fails
// with EPERM.
func DefaultProfile() *Profile {
	errnoRet := func(n uint) *uint { return &n }
	allow := func(names string) Syscall {
		return Syscall{Names: strings.Fields(names), Action: specs.ActAllow}
	}
	withCaps := func(names string, caps ...string) Syscall {
		sc := allow(names)
		sc.Includes = &Filter{Caps: caps}
		return sc
	}
	onArches := func(names string, arches ...string) Syscall {
		sc := allow(names)
		sc.Includes = &Filter{Arches: arches}
		return sc
	}
	argEq := func(name string, index uint, value uint64) Syscall {
		sc := allow(name)
		sc.Args = []specs.LinuxSeccompArg{{Index: index, Value: value, Op: specs.OpEqualTo}}
		return sc
	}

	p := &Profile{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: errnoRet(1), // EPERM
		ArchMap: []ArchMap{
			{Arch: specs.ArchX86_64, SubArches: []specs.Arch{specs.ArchX86, specs.ArchX32}},
			{Arch: specs.ArchAARCH64, SubArches: []specs.Arch{specs.ArchARM}},
		},
	}
	p.Syscalls = append(p.Syscalls, allow(defaultAllowed))
	// Since kernel 4.8 seccomp runs after ptrace's changes to a call, so a
	// traced process can no longer be steered around the filter.
	ptrace := allow("process_vm_readv process_vm_writev ptrace")
	ptrace.Includes = &Filter{MinKernel: "4.8"}
	p.Syscalls = append(p.Syscalls, ptrace)

	// socket(2): the address families below AF_DECnet (12), and these.
	lt := allow("socket")
	lt.Args = []specs.LinuxSeccompArg{{Index: 0, Value: 12, Op: specs.OpLessThan}}
	p.Syscalls = append(p.Syscalls, lt)
	for _, family := range []uint64{13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 39, 41, 42, 43, 44, 45} {
		p.Syscalls = append(p.Syscalls, argEq("socket", 0, family))
	}
	// personality(2): PER_LINUX (0), PER_LINUX32 (0x8), UNAME26 (0x20000),
	// UNAME26|PER_LINUX32, and the query 0xffffffff. ADDR_NO_RANDOMIZE
	// (0x0040000, what `setarch -R` asks) is not among them: it is denied.
	for _, persona := range []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		p.Syscalls = append(p.Syscalls, argEq("personality", 0, persona))
	}

	p.Syscalls = append(p.Syscalls,
		onArches("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", "arm", "arm64"),
		onArches("arch_prctl", "amd64", "x32"),
		onArches("modify_ldt", "amd64", "x32", "x86"),
		withCaps("open_by_handle_at", "CAP_DAC_READ_SEARCH"),
		withCaps("bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie "+
			"lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount "+
			"open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns "+
			"syslog umount umount2 unshare", "CAP_SYS_ADMIN"),
	)
	// Without CAP_SYS_ADMIN: clone(2) only when no CLONE_NEW* flag is set
	// (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET =
	// 0x7e020000), and clone3(2) says "not implemented", because its flags
	// sit in memory that a filter cannot read.
	clone := allow("clone")
	clone.Args = []specs.LinuxSeccompArg{{Index: 0, Value: 0x7e020000, ValueTwo: 0, Op: specs.OpMaskedEqual}}
	clone.Excludes = &Filter{Caps: []string{"CAP_SYS_ADMIN"}}
	clone3 := Syscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: errnoRet(38), // ENOSYS
		Excludes: &Filter{Caps: []string{"CAP_SYS_ADMIN"}}}
	p.Syscalls = append(p.Syscalls, clone, clone3,
		withCaps("reboot", "CAP_SYS_BOOT"),
		withCaps("chroot", "CAP_SYS_CHROOT"),
		withCaps("delete_module init_module finit_module", "CAP_SYS_MODULE"),
		withCaps("acct", "CAP_SYS_PACCT"),
		withCaps("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", "CAP_SYS_PTRACE"),
		withCaps("iopl ioperm", "CAP_SYS_RAWIO"),
		withCaps("settimeofday stime clock_settime clock_settime64", "CAP_SYS_TIME"),
		withCaps("vhangup", "CAP_SYS_TTY_CONFIG"),
		withCaps("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", "CAP_SYS_NICE"),
		withCaps("syslog", "CAP_SYSLOG"),
		withCaps("bpf", "CAP_BPF"),
		withCaps("perf_event_open", "CAP_PERFMON"),
	)
	return p
}

// defaultAllowed are the calls Docker's default profile allows to every
// container. Names of other architectures (chown32, _llseek, ...) are in
// the list as in Docker's; Apply skips names this kernel's table lacks.
const defaultAllowed = `
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir
chmod chown chown32 clock_adjtime clock_adjtime64 clock_getres
clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup
dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait
epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr
fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu
getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid
getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid
getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat
inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get
ioprio_set io_setup io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link
linkat listen listmount listxattr listxattrat llistxattr _llseek lremovexattr
lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2
mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap
mseal msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause
pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect
poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read
readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64
recvmsg remap_file_pages removexattr removexattrat rename renameat renameat2
restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield
seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile
sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32
setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address
setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown
sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair
splice stat stat64 statfs statfs64 statmount statx symlink symlinkat sync
sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname
unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes vfork
vmsplice wait4 waitid waitpid write writev
`
