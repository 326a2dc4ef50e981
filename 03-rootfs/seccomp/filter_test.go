package seccomp

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	sb "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// call is one system call as the kernel shows it to a filter (struct
// seccomp_data).
type call struct {
	name string
	nr   uint32 // used when name is ""
	arch uint32 // AUDIT_ARCH_X86_64 when 0
	args [6]uint64
}

// run executes a compiled filter on c in x/net/bpf's interpreter and
// returns the SECCOMP_RET_* value, so that the filter's logic is tested
// without installing it.
func run(t *testing.T, prog *Program, c call) uint32 {
	t.Helper()
	vm, err := bpf.NewVM(prog.Instructions)
	require.NoError(t, err)
	nr := c.nr
	if c.name != "" {
		info, err := arch.GetInfo("")
		require.NoError(t, err)
		n, ok := info.SyscallNames[c.name]
		require.True(t, ok, "no syscall %s", c.name)
		nr = uint32(n)
	}
	if c.arch == 0 {
		c.arch = unix.AUDIT_ARCH_X86_64
	}
	// The interpreter loads words big-endian; the kernel hands the filter
	// native (little-endian) words. Store each 32-bit word where the
	// library's little-endian loads look for it, in the interpreter's order.
	buf := make([]byte, 64)
	binary.BigEndian.PutUint32(buf[0:], nr)
	binary.BigEndian.PutUint32(buf[4:], c.arch)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(buf[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(buf[16+8*i+4:], uint32(a>>32))
	}
	ret, err := vm.Run(buf)
	require.NoError(t, err)
	return uint32(ret)
}

const (
	allow = uint32(unix.SECCOMP_RET_ALLOW)
	eperm = uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.EPERM)
)

func errno(e unix.Errno) uint32 { return uint32(unix.SECCOMP_RET_ERRNO) | uint32(e) }

func TestDefaultFilter(t *testing.T) {
	if !hasArch(t) {
		return
	}
	threadFlags := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_SYSVSEM | unix.CLONE_THREAD | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID)
	cases := []struct {
		name string
		c    call
		want uint32 // for Docker's default capabilities
		sys  uint32 // with CAP_SYS_ADMIN added
	}{
		{"getpid", call{name: "getpid"}, allow, allow},
		{"write", call{name: "write"}, allow, allow},
		{"openat", call{name: "openat"}, allow, allow},
		{"execve", call{name: "execve"}, allow, allow},
		{"chroot with CAP_SYS_CHROOT", call{name: "chroot"}, allow, allow},
		{"ptrace on kernel >= 4.8", call{name: "ptrace"}, allow, allow},
		{"unshare", call{name: "unshare", args: [6]uint64{unix.CLONE_NEWUTS}}, eperm, allow},
		{"mount", call{name: "mount"}, eperm, allow},
		{"keyctl", call{name: "keyctl"}, eperm, eperm},
		{"add_key", call{name: "add_key"}, eperm, eperm},
		{"kexec_load", call{name: "kexec_load"}, eperm, eperm},
		{"init_module", call{name: "init_module"}, eperm, eperm},
		{"clone a thread", call{name: "clone", args: [6]uint64{threadFlags}}, allow, allow},
		{"clone a process (fork)", call{name: "clone", args: [6]uint64{uint64(unix.SIGCHLD)}}, allow, allow},
		{"clone into a new UTS namespace", call{name: "clone", args: [6]uint64{uint64(unix.SIGCHLD) | unix.CLONE_NEWUTS}}, eperm, allow},
		{"clone into a new user namespace", call{name: "clone", args: [6]uint64{uint64(unix.SIGCHLD) | unix.CLONE_NEWUSER}}, eperm, allow},
		{"clone3 says ENOSYS", call{name: "clone3"}, errno(unix.ENOSYS), allow},
		{"personality query", call{name: "personality", args: [6]uint64{0xffffffff}}, allow, allow},
		{"personality ADDR_NO_RANDOMIZE", call{name: "personality", args: [6]uint64{0x20000}}, allow, allow},
		{"personality READ_IMPLIES_EXEC", call{name: "personality", args: [6]uint64{0x0400000}}, eperm, eperm},
		{"socket AF_INET", call{name: "socket", args: [6]uint64{unix.AF_INET}}, allow, allow},
		{"socket AF_NETLINK", call{name: "socket", args: [6]uint64{unix.AF_NETLINK}}, allow, allow},
		{"socket AF_VSOCK", call{name: "socket", args: [6]uint64{unix.AF_VSOCK}}, eperm, eperm},
		{"socket AF_DECnet", call{name: "socket", args: [6]uint64{unix.AF_DECnet}}, eperm, eperm},
		{"socket with high bits set", call{name: "socket", args: [6]uint64{1<<32 | unix.AF_INET}}, eperm, eperm},
		{"x32 getpid", call{nr: 39 | 0x40000000}, allow, allow},
		{"x32 mount", call{nr: 165 | 0x40000000}, eperm, allow},
		{"i386 getpid", call{nr: 20, arch: unix.AUDIT_ARCH_I386}, allow, allow},
		{"i386 mount", call{nr: 21, arch: unix.AUDIT_ARCH_I386}, eperm, allow},
		{"i386 keyctl", call{nr: 288, arch: unix.AUDIT_ARCH_I386}, eperm, eperm},
		{"aarch64 ABI", call{nr: 172, arch: unix.AUDIT_ARCH_AARCH64}, errno(unix.ENOSYS), errno(unix.ENOSYS)},
	}
	def, err := Compile(Default())
	require.NoError(t, err)
	admin, err := Compile(DefaultFor(append(DockerDefaultCapabilities(), "CAP_SYS_ADMIN")))
	require.NoError(t, err)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, run(t, def, tc.c), "default capabilities")
			assert.Equal(t, tc.sys, run(t, admin, tc.c), "with CAP_SYS_ADMIN")
		})
	}
	assert.Contains(t, def.Skipped, "chown32", "32-bit names are skipped, not fatal")
	assert.Less(t, len(def.Instructions), unix.BPF_MAXINSNS)
}

func hasArch(t *testing.T) bool {
	if _, err := arch.GetInfo(""); err != nil {
		t.Skipf("go-seccomp-bpf has no syscall table for this architecture: %v", err)
		return false
	}
	return true
}

// TestConditions compares the compiled filter with the OCI meaning of
// each comparison, for many argument values.
func TestConditions(t *testing.T) {
	if !hasArch(t) {
		return
	}
	holds := func(a specs.LinuxSeccompArg, v uint64) bool {
		switch a.Op {
		case specs.OpEqualTo:
			return v == a.Value
		case specs.OpNotEqual:
			return v != a.Value
		case specs.OpLessThan:
			return v < a.Value
		case specs.OpLessEqual:
			return v <= a.Value
		case specs.OpGreaterThan:
			return v > a.Value
		case specs.OpGreaterEqual:
			return v >= a.Value
		case specs.OpMaskedEqual:
			return v&a.Value == a.ValueTwo
		}
		panic(a.Op)
	}
	values := []uint64{0, 1, 2, 7, 8, 40, 0xffffffff, 1 << 32, 1<<32 | 8, 0x7e020000, 0x7e020011, ^uint64(0)}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		values = append(values, rng.Uint64(), rng.Uint64()>>33)
	}
	args := []specs.LinuxSeccompArg{
		{Index: 0, Op: specs.OpEqualTo, Value: 8},
		{Index: 1, Op: specs.OpEqualTo, Value: 1<<32 | 8},
		{Index: 2, Op: specs.OpNotEqual, Value: 40},
		{Index: 3, Op: specs.OpLessThan, Value: 12},
		{Index: 4, Op: specs.OpLessThan, Value: 1<<32 | 5},
		{Index: 5, Op: specs.OpLessEqual, Value: 0xffffffff},
		{Index: 0, Op: specs.OpGreaterThan, Value: 7},
		{Index: 1, Op: specs.OpGreaterThan, Value: 1 << 32},
		{Index: 2, Op: specs.OpGreaterEqual, Value: 40},
		{Index: 0, Op: specs.OpMaskedEqual, Value: 0x7e020000, ValueTwo: 0},
		{Index: 0, Op: specs.OpMaskedEqual, Value: 0xff, ValueTwo: 0x11},
		{Index: 3, Op: specs.OpMaskedEqual, Value: 1<<40 | 3, ValueTwo: 1 << 40},
		{Index: 0, Op: specs.OpMaskedEqual, Value: 0, ValueTwo: 0},
		{Index: 0, Op: specs.OpMaskedEqual, Value: 1, ValueTwo: 2}, // never holds
		{Index: 5, Op: specs.OpMaskedEqual, Value: ^uint64(0), ValueTwo: 1<<32 | 8},
	}
	for _, a := range args {
		t.Run(string(a.Op), func(t *testing.T) {
			prog, err := Compile(&specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{a}}},
			})
			require.NoError(t, err)
			for _, v := range values {
				var c call
				c.name = "getpid"
				c.args[a.Index] = v
				want := allow
				if holds(a, v) {
					want = eperm
				}
				assert.Equal(t, want, run(t, prog, c), "%s %#x against %#x (valueTwo %#x)", a.Op, v, a.Value, a.ValueTwo)
			}
		})
	}
}

func TestConditionCombinations(t *testing.T) {
	if !hasArch(t) {
		return
	}
	compile := func(args ...specs.LinuxSeccompArg) *Program {
		p, err := Compile(&specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, Args: args}},
		})
		require.NoError(t, err)
		return p
	}
	// Different arguments: all must hold.
	and := compile(
		specs.LinuxSeccompArg{Index: 0, Op: specs.OpEqualTo, Value: 1},
		specs.LinuxSeccompArg{Index: 1, Op: specs.OpEqualTo, Value: 2})
	assert.Equal(t, eperm, run(t, and, call{name: "getpid", args: [6]uint64{1, 2}}))
	assert.Equal(t, allow, run(t, and, call{name: "getpid", args: [6]uint64{1, 3}}))
	// The same argument twice: either may hold (runc's rule).
	or := compile(
		specs.LinuxSeccompArg{Index: 0, Op: specs.OpEqualTo, Value: 1},
		specs.LinuxSeccompArg{Index: 0, Op: specs.OpEqualTo, Value: 2})
	assert.Equal(t, eperm, run(t, or, call{name: "getpid", args: [6]uint64{1}}))
	assert.Equal(t, eperm, run(t, or, call{name: "getpid", args: [6]uint64{2}}))
	assert.Equal(t, allow, run(t, or, call{name: "getpid", args: [6]uint64{3}}))
}

func TestActionFor(t *testing.T) {
	n := func(v uint) *uint { return &v }
	cases := []struct {
		action   specs.LinuxSeccompAction
		errnoRet *uint
		want     sb.Action
		err      string
	}{
		{specs.ActAllow, nil, sb.ActionAllow, ""},
		{specs.ActErrno, nil, sb.ActionErrno | sb.Action(unix.EPERM), ""},
		{specs.ActErrno, n(13), sb.ActionErrno | 13, ""},
		{specs.ActTrace, nil, sb.ActionTrace | sb.Action(unix.EPERM), ""},
		{specs.ActTrace, n(38), sb.ActionTrace | 38, ""},
		{specs.ActKill, nil, sb.ActionKillThread, ""},
		{specs.ActKillThread, nil, sb.ActionKillThread, ""},
		{specs.ActKillProcess, nil, sb.ActionKillProcess, ""},
		{specs.ActTrap, nil, sb.ActionTrap, ""},
		{specs.ActLog, nil, sb.ActionLog, ""},
		{specs.ActNotify, nil, 0, "SCMP_ACT_NOTIFY"},
		{specs.ActErrno, n(0), sb.ActionErrno, ""},
		{specs.ActErrno, n(70000), 0, "not an errno"},
		{specs.ActAllow, n(1), 0, "only meaningful"},
		{"SCMP_ACT_FOO", nil, 0, "unknown action"},
	}
	for _, tc := range cases {
		t.Run(string(tc.action), func(t *testing.T) {
			got, err := actionFor(tc.action, tc.errnoRet)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	rule := func(args ...specs.LinuxSeccompArg) []specs.LinuxSyscall {
		return []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno, Args: args}}
	}
	cases := []struct {
		name string
		s    specs.LinuxSeccomp
		err  string
	}{
		{"no default action", specs.LinuxSeccomp{Syscalls: rule()}, "no defaultAction"},
		{"notify", specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "SCMP_ACT_NOTIFY"},
		{"unknown op", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rule(specs.LinuxSeccompArg{Op: "SCMP_CMP_FOO"})}, `syscalls[0] ("mkdir"): args[0]: unknown op`},
		{"index 6", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rule(specs.LinuxSeccompArg{Index: 6, Op: specs.OpEqualTo})}, "numbered 0 to 5"},
		{"7 conditions", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: rule(make([]specs.LinuxSeccompArg, 7)...)}, "at most 6"},
		{"tsync", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}}, "not supported"},
		{"unknown arch", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, "unknown architecture"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(&tc.s)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestCompileSkipsAndDrops(t *testing.T) {
	if !hasArch(t) {
		return
	}
	p, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"no_such_call", "getpid", "getpid"}, Action: specs.ActAllow},
			{Names: []string{"mkdir"}, Action: specs.ActErrno}, // the default: dropped
		},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"no_such_call"}, p.Skipped)
	assert.Equal(t, allow, run(t, p, call{name: "getpid"}))
	assert.Equal(t, eperm, run(t, p, call{name: "mkdir"}))

	// Without a list of architectures only the native ABI is allowed in.
	assert.Equal(t, errno(unix.ENOSYS), run(t, p, call{nr: 39 | 0x40000000}), "x32")
	assert.Equal(t, errno(unix.ENOSYS), run(t, p, call{nr: 20, arch: unix.AUDIT_ARCH_I386}), "i386")

	// Only unknown names: the filter is the default action alone.
	p, err = Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActLog,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"no_such_call"}, Action: specs.ActAllow}}})
	require.NoError(t, err)
	assert.Equal(t, uint32(unix.SECCOMP_RET_LOG), run(t, p, call{name: "getpid"}))
}

func TestUnconfined(t *testing.T) {
	assert.True(t, Unconfined(nil))
	assert.True(t, Unconfined(&specs.LinuxSeccomp{}))
	assert.False(t, Unconfined(Default()))
	assert.NoError(t, Apply(nil), "nil is unconfined: nothing to install")
	assert.NoError(t, Apply(&specs.LinuxSeccomp{}))
}
