package seccomp

import (
	"errors"
	"fmt"
	"slices"

	sb "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Unconfined reports whether s asks for no filter: nil or the zero value.
func Unconfined(s *specs.LinuxSeccomp) bool {
	return s == nil || (s.DefaultAction == "" && len(s.Syscalls) == 0 && len(s.Flags) == 0)
}

// Program is a profile compiled for this machine: the BPF program and the
// seccomp(2) flags to install it with.
type Program struct {
	Instructions []bpf.Instruction
	Flags        uint
	Skipped      []string // syscall names this kernel's tables lack
	Arches       []string // the ABIs the program has rules for
}

// Compile translates an OCI profile into a seccomp BPF program
// (seccomp(2), "Filter return values"; the layout is libseccomp's, which
// runc and Docker use). The syscall tables and the SECCOMP_RET_* values
// come from elastic/go-seccomp-bpf. Its own assembler is not used: in
// v1.6.0, when the argument conditions of a rule do not match, the next
// rule is compared with the argument it loaded instead of the syscall
// number, so "socket(AF_INET) allowed by a second socket rule" fails and,
// worse, an argument equal to another call's number can match that call's
// rule (TestDefaultFilter catches it). It also refuses default actions
// other than its named ones, such as Docker's ERRNO(EPERM).
//
// The program checks the architecture first: the native one (x86_64) and
// those the profile lists that the library has tables for (Docker's default
// lists i386 and x32, which run on the same kernel) each get the rules
// resolved with their own syscall numbers; any other ABI fails with ENOSYS.
// Within an ABI the rules are tried in the profile's order and the first
// that matches decides; libseccomp instead merges the rules of a syscall
// into a tree and resolves overlaps by priority (Docker's default profile
// has no overlaps this changes). As in runc: names the tables lack are
// skipped, rules with the default action are dropped (they change
// nothing), and two conditions on the same argument are alternatives (OR),
// otherwise all conditions must hold (AND). Not supported: SCMP_ACT_NOTIFY,
// flags other than SECCOMP_FILTER_FLAG_LOG and SECCOMP_FILTER_FLAG_SPEC_ALLOW,
// and runc's "ENOSYS for syscalls newer than the profile" stub.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if s.DefaultAction == "" {
		return nil, errors.New("seccomp: the profile has no defaultAction")
	}
	def, err := actionFor(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	flags, err := flagsFor(s.Flags)
	if err != nil {
		return nil, err
	}
	native, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	infos := []*arch.Info{native}
	for _, a := range s.Architectures {
		if !slices.Contains(arches, a) {
			return nil, fmt.Errorf("seccomp: unknown architecture %q", a)
		}
		if info := archInfo[a]; info != nil && !slices.Contains(infos, info) && runsOn(info, native) {
			infos = append(infos, info)
		}
	}
	type rule struct {
		act   sb.Action
		names []string
		conds [][]specs.LinuxSeccompArg // nil: unconditional
	}
	var rules []rule
	for i, r := range s.Syscalls {
		act, err := actionFor(r.Action, r.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]%s: %w", i, ruleLabel(r), err)
		}
		conds, err := conditionsFor(r.Args)
		if err != nil {
			return nil, fmt.Errorf("seccomp: syscalls[%d]%s: %w", i, ruleLabel(r), err)
		}
		if act != def {
			rules = append(rules, rule{act, r.Names, conds})
		}
	}

	prog := &Program{Flags: flags}
	a := &assembler{}
	a.emit(bpf.LoadAbsolute{Off: archOffset, Size: 4})
	// x86_64 and x32 share AUDIT_ARCH_X86_64; x32 numbers carry bit 30.
	sections := map[uint32][]*arch.Info{}
	var order []uint32
	for _, info := range infos {
		id := uint32(info.ID)
		if _, ok := sections[id]; !ok {
			order = append(order, id)
		}
		sections[id] = append(sections[id], info)
		prog.Arches = append(prog.Arches, info.Name)
	}
	badArch := uint32(sb.ActionErrno) | uint32(unix.ENOSYS)
	for _, id := range order {
		next, here := a.label(), a.label()
		a.jump(bpf.JumpEqual, id, here, 0)
		a.ja(next)
		a.set(here)
		a.emit(bpf.LoadAbsolute{Off: nrOffset, Size: 4})
		var plain, masked *arch.Info
		for _, info := range sections[id] {
			if info.SeccompMask != 0 {
				masked = info
			} else {
				plain = info
			}
		}
		var maskedSection int
		if masked != nil {
			maskedSection = a.label()
		}
		if mask := uint32(arch.X32.SeccompMask); id == uint32(arch.X86_64.ID) {
			if masked != nil && plain != nil {
				plainSection := a.label()
				a.jump(bpf.JumpBitsSet, mask, 0, plainSection)
				a.ja(maskedSection)
				a.set(plainSection)
			} else if plain != nil {
				a.jumpRet(bpf.JumpBitsSet, mask, badArch)
			} else {
				a.jumpRet(bpf.JumpBitsNotSet, mask, badArch)
			}
		}
		for _, info := range []*arch.Info{plain, masked} {
			if info == nil {
				continue
			}
			if info == masked && plain != nil {
				a.set(maskedSection)
			}
			for _, r := range rules {
				nrs := a.numbers(info, r.names, &prog.Skipped, info == native)
				if r.conds == nil {
					a.anyOf(nrs, uint32(r.act))
					continue
				}
				for _, nr := range nrs {
					a.conditional(nr, r.conds, uint32(r.act))
				}
			}
			a.emit(bpf.RetConstant{Val: uint32(def)})
		}
		a.set(next)
	}
	a.emit(bpf.RetConstant{Val: badArch})
	insts, err := a.resolve()
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble the filter: %w", err)
	}
	if len(insts) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp: the filter has %d instructions, the kernel takes at most %d", len(insts), unix.BPF_MAXINSNS)
	}
	prog.Instructions = insts
	return prog, nil
}

// archInfo maps the spec's architectures to the library's syscall tables.
var archInfo = map[specs.Arch]*arch.Info{
	specs.ArchX86_64:  arch.X86_64,
	specs.ArchX86:     arch.I386,
	specs.ArchX32:     arch.X32,
	specs.ArchAARCH64: arch.AARCH64,
	specs.ArchARM:     arch.ARM,
}

// runsOn reports whether programs of ABI info can run on a native kernel.
func runsOn(info, native *arch.Info) bool {
	switch native {
	case arch.X86_64:
		return info == arch.I386 || info == arch.X32
	case arch.AARCH64:
		return info == arch.ARM
	}
	return false
}

func ruleLabel(r specs.LinuxSyscall) string {
	if len(r.Names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%q)", r.Names[0])
}

// actionFor is the SECCOMP_RET_* value of an OCI action (seccomp(2),
// "Filter return values"). The low 16 bits carry the errno of ERRNO and
// the message of TRACE; without errnoRet both default to EPERM, as in runc.
func actionFor(a specs.LinuxSeccompAction, errnoRet *uint) (sb.Action, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if a != specs.ActErrno && a != specs.ActTrace {
			return 0, fmt.Errorf("errnoRet is only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not %s", a)
		}
		if *errnoRet > maxErrno {
			return 0, fmt.Errorf("errnoRet %d is not an errno (at most %d)", *errnoRet, maxErrno)
		}
		data = uint32(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return sb.ActionAllow, nil
	case specs.ActErrno:
		return sb.ActionErrno | sb.Action(data), nil
	case specs.ActTrace:
		return sb.ActionTrace | sb.Action(data), nil
	case specs.ActKill, specs.ActKillThread:
		// SCMP_ACT_KILL is libseccomp's old name for killing the thread.
		return sb.ActionKillThread, nil
	case specs.ActKillProcess:
		return sb.ActionKillProcess, nil
	case specs.ActTrap:
		return sb.ActionTrap, nil
	case specs.ActLog:
		return sb.ActionLog, nil
	case specs.ActNotify:
		return 0, errors.New("SCMP_ACT_NOTIFY (hand the call to a supervisor through listenerPath) is not supported")
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

// conditionsFor checks a rule's argument conditions and groups them into
// alternatives (OR) of conjunctions (AND). nil means "no conditions": the
// rule matches on the syscall alone.
func conditionsFor(args []specs.LinuxSeccompArg) ([][]specs.LinuxSeccompArg, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if len(args) > 6 {
		return nil, fmt.Errorf("%d argument conditions, but a system call has at most 6 arguments", len(args))
	}
	perArg := map[uint]int{}
	for i, a := range args {
		if a.Index > 5 {
			return nil, fmt.Errorf("args[%d]: index %d: a system call's arguments are numbered 0 to 5", i, a.Index)
		}
		if !slices.Contains(ops, a.Op) {
			return nil, fmt.Errorf("args[%d]: unknown op %q (want one of %s)", i, a.Op, joinOps())
		}
		perArg[a.Index]++
	}
	for _, n := range perArg {
		if n > 1 {
			// runc's rule: the same argument twice means alternatives.
			alts := make([][]specs.LinuxSeccompArg, len(args))
			for i, a := range args {
				alts[i] = []specs.LinuxSeccompArg{a}
			}
			return alts, nil
		}
	}
	return [][]specs.LinuxSeccompArg{slices.Clone(args)}, nil
}

// flagsFor maps the spec's filter flags to seccomp(2)'s.
func flagsFor(flags []specs.LinuxSeccompFlag) (uint, error) {
	var out uint
	for _, f := range flags {
		switch f {
		case specs.LinuxSeccompFlagLog:
			out |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			out |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		default:
			return 0, fmt.Errorf("seccomp: flag %q is not supported (only %s and %s)", f, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow)
		}
	}
	return out, nil
}
