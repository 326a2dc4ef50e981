package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// The filter reads struct seccomp_data (linux/seccomp.h): the syscall
// number, the audit architecture, the instruction pointer and the six
// arguments, 64 bits each, in the machine's byte order.
const (
	nrOffset   = 0
	archOffset = 4
	argsOffset = 16
)

// assembler builds a classic BPF program with forward jumps to labels. A
// conditional jump reaches at most 255 instructions ahead, so the code it
// emits keeps those short and uses `ja` (32-bit) for anything farther.
type assembler struct {
	insts []bpf.Instruction
	pos   []int // label -> instruction index, -1 until set; label 0 is "next"
	jumps []pendingJump
}

type pendingJump struct {
	at     int
	t, f   int
	always bool
}

func (a *assembler) emit(i bpf.Instruction) { a.insts = append(a.insts, i) }

func (a *assembler) label() int {
	if len(a.pos) == 0 {
		a.pos = append(a.pos, -1) // label 0 means "the next instruction"
	}
	a.pos = append(a.pos, -1)
	return len(a.pos) - 1
}

// set places label l at the next instruction.
func (a *assembler) set(l int) { a.pos[l] = len(a.insts) }

// jump compares A with val and goes to t when cond holds, f otherwise.
func (a *assembler) jump(cond bpf.JumpTest, val uint32, t, f int) {
	a.jumps = append(a.jumps, pendingJump{at: len(a.insts), t: t, f: f})
	a.emit(bpf.JumpIf{Cond: cond, Val: val})
}

// ja always goes to l, however far.
func (a *assembler) ja(l int) {
	a.jumps = append(a.jumps, pendingJump{at: len(a.insts), t: l, always: true})
	a.emit(bpf.Jump{})
}

// jumpRet returns ret when cond holds and goes on otherwise.
func (a *assembler) jumpRet(cond bpf.JumpTest, val, ret uint32) {
	skip := a.label()
	a.jump(cond, val, 0, skip)
	a.emit(bpf.RetConstant{Val: ret})
	a.set(skip)
}

func (a *assembler) resolve() ([]bpf.Instruction, error) {
	target := func(at, l int) (int, error) {
		if l == 0 {
			return 0, nil
		}
		if a.pos[l] < 0 {
			return 0, fmt.Errorf("label %d never placed", l)
		}
		return a.pos[l] - at - 1, nil
	}
	out := slices.Clone(a.insts)
	for _, j := range a.jumps {
		t, err := target(j.at, j.t)
		if err != nil {
			return nil, err
		}
		if j.always {
			out[j.at] = bpf.Jump{Skip: uint32(t)}
			continue
		}
		f, err := target(j.at, j.f)
		if err != nil {
			return nil, err
		}
		if t < 0 || f < 0 || t > 255 || f > 255 {
			return nil, fmt.Errorf("a jump of %d/%d instructions at %d: the rule's conditions are too long", t, f, j.at)
		}
		ji := out[j.at].(bpf.JumpIf)
		ji.SkipTrue, ji.SkipFalse = uint8(t), uint8(f)
		out[j.at] = ji
	}
	return out, nil
}

// numbers looks names up in an ABI's table; unknown names are skipped
// (and, for the native ABI, recorded), as runc does.
func (a *assembler) numbers(info *arch.Info, names []string, skipped *[]string, record bool) []uint32 {
	var out []uint32
	for _, name := range names {
		n, ok := info.SyscallNames[name]
		if !ok {
			if record && !slices.Contains(*skipped, name) {
				*skipped = append(*skipped, name)
			}
			continue
		}
		nr := uint32(n | info.SeccompMask)
		if !slices.Contains(out, nr) {
			out = append(out, nr)
		}
	}
	return out
}

// anyOf returns ret when A is one of nrs. A holds the syscall number
// before and after.
func (a *assembler) anyOf(nrs []uint32, ret uint32) {
	for len(nrs) > 0 {
		chunk := nrs[:min(len(nrs), 200)]
		nrs = nrs[len(chunk):]
		hit, miss := a.label(), a.label()
		for i, nr := range chunk {
			if i == len(chunk)-1 {
				a.jump(bpf.JumpEqual, nr, hit, miss)
			} else {
				a.jump(bpf.JumpEqual, nr, hit, 0)
			}
		}
		a.set(hit)
		a.emit(bpf.RetConstant{Val: ret})
		a.set(miss)
	}
}

// conditional returns ret when A is nr and one of the alternatives holds
// for its arguments. The comparisons load arguments into A, so the
// syscall number is loaded again for the rules after it.
func (a *assembler) conditional(nr uint32, alts [][]specs.LinuxSeccompArg, ret uint32) {
	end, first := a.label(), a.label()
	a.jump(bpf.JumpEqual, nr, first, 0)
	a.ja(end)
	a.set(first)
	for i, alt := range alts {
		fail := end
		if i < len(alts)-1 {
			fail = a.label()
		}
		for _, c := range alt {
			a.compare(c, fail)
		}
		a.emit(bpf.RetConstant{Val: ret})
		if fail != end {
			a.set(fail)
		}
	}
	a.set(end)
	a.emit(bpf.LoadAbsolute{Off: nrOffset, Size: 4})
}

// argWords are the offsets of the low and high 32 bits of argument i.
func argWords(i uint) (lo, hi uint32) {
	off := argsOffset + 8*uint32(i)
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 { // little-endian
		return off, off + 4
	}
	return off + 4, off
}

// compare falls through when condition c holds for the 64-bit argument
// and goes to fail otherwise. Like libseccomp, it compares unsigned 64-bit
// values, high words first.
func (a *assembler) compare(c specs.LinuxSeccompArg, fail int) {
	// LAB 03.5 BEGIN: compare a 64-bit argument with 32-bit loads and jumps; fall through when it holds, go to fail when not
	lo, hi := argWords(c.Index)
	vlo, vhi := uint32(c.Value), uint32(c.Value>>32)
	pass := a.label()
	ldHi := func() { a.emit(bpf.LoadAbsolute{Off: hi, Size: 4}) }
	ldLo := func() { a.emit(bpf.LoadAbsolute{Off: lo, Size: 4}) }
	ldHi()
	switch c.Op {
	case specs.OpEqualTo:
		a.jump(bpf.JumpEqual, vhi, 0, fail)
		ldLo()
		a.jump(bpf.JumpEqual, vlo, pass, fail)
	case specs.OpNotEqual:
		a.jump(bpf.JumpEqual, vhi, 0, pass)
		ldLo()
		a.jump(bpf.JumpEqual, vlo, fail, pass)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		a.jump(bpf.JumpGreaterThan, vhi, pass, 0)
		a.jump(bpf.JumpEqual, vhi, 0, fail)
		ldLo()
		if c.Op == specs.OpGreaterThan {
			a.jump(bpf.JumpGreaterThan, vlo, pass, fail)
		} else {
			a.jump(bpf.JumpGreaterOrEqual, vlo, pass, fail)
		}
	case specs.OpLessThan, specs.OpLessEqual:
		a.jump(bpf.JumpGreaterThan, vhi, fail, 0)
		a.jump(bpf.JumpEqual, vhi, 0, pass)
		ldLo()
		if c.Op == specs.OpLessThan {
			a.jump(bpf.JumpGreaterOrEqual, vlo, fail, pass)
		} else {
			a.jump(bpf.JumpGreaterThan, vlo, fail, pass)
		}
	case specs.OpMaskedEqual:
		// (arg & Value) == ValueTwo
		mlo, mhi := uint32(c.Value), uint32(c.Value>>32)
		wlo, whi := uint32(c.ValueTwo), uint32(c.ValueTwo>>32)
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mhi})
		a.jump(bpf.JumpEqual, whi, 0, fail)
		ldLo()
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mlo})
		a.jump(bpf.JumpEqual, wlo, pass, fail)
	default:
		panic("seccomp: compare: unchecked op " + string(c.Op))
	}
	a.set(pass)
	// LAB 03.5 END
	// LAB 03.5 STUB: lab.WarnOnce("03.5") // no instructions: every condition holds, so a conditional rule applies to every call
}
