package cgroups

import (
	"encoding/binary"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The devices controller decides which device nodes the container may open
// (read, write) or create (mknod). Without it, root in a container that
// keeps CAP_MKNOD (Docker's default set does) can `mknod /tmp/sda b 8 0`
// and read the host's whole disk: the node is just a number, and the
// kernel checks the cgroup's rules, not the path. Docker's rule is "deny
// everything, then allow a few": DefaultDevices.
//
// The rules are the spec's linux.resources.devices, in order, with v1's
// meaning: an "a" rule for every device and every access resets the
// default (allow or deny everything) and forgets what came before; the
// other rules are exceptions to it, and a later one wins over an earlier.
// v1 takes them as lines in devices.allow and devices.deny; v2 has no such
// files, and the same decision is made by a small eBPF program attached to
// the cgroup (devicesProgram).

// DefaultDevices are the device rules every container gets after its own
// (runc's list, which Docker uses too): mknod of any node, and use of the
// nodes every container has in /dev — null, zero, full, random, urandom,
// tty, console, ptmx and the pseudo-terminals of /dev/pts — and /dev/net/tun.
// Nothing else: no disk, no /dev/mem, no /dev/kmsg.
func DefaultDevices() []specs.LinuxDeviceCgroup {
	dev := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		d := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
		if major >= 0 {
			d.Major = &major
		}
		if minor >= 0 {
			d.Minor = &minor
		}
		return d
	}
	return []specs.LinuxDeviceCgroup{
		dev("c", -1, -1, "m"), dev("b", -1, -1, "m"),
		dev("c", 1, 3, "rwm"), dev("c", 1, 5, "rwm"), dev("c", 1, 7, "rwm"),
		dev("c", 1, 8, "rwm"), dev("c", 1, 9, "rwm"),
		dev("c", 5, 0, "rwm"), dev("c", 5, 1, "rwm"), dev("c", 5, 2, "rwm"),
		dev("c", 136, -1, "rwm"), dev("c", 10, 200, "rwm"),
	}
}

// DenyAllDevices is the rule that starts Docker's list: nothing is allowed.
func DenyAllDevices() specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
}

// deviceRule is one checked rule.
type deviceRule struct {
	allow        bool
	typ          byte  // 'a', 'c' or 'b'
	major, minor int64 // -1: any
	access       string
}

// checkDevices validates the spec's rules: type a, c or b (empty means a),
// access a non-empty subset of rwm.
func checkDevices(list []specs.LinuxDeviceCgroup) ([]deviceRule, error) {
	var out []deviceRule
	for i, d := range list {
		r := deviceRule{allow: d.Allow, typ: 'a', major: -1, minor: -1, access: d.Access}
		switch d.Type {
		case "", "a":
		case "c", "b":
			r.typ = d.Type[0]
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: type %q is not a, c or b", i, d.Type)
		}
		if r.access == "" {
			r.access = "rwm"
		}
		if strings.Trim(r.access, "rwm") != "" || len(r.access) > 3 {
			return nil, fmt.Errorf("linux.resources.devices[%d]: access %q: use letters of rwm", i, d.Access)
		}
		if d.Major != nil {
			if *d.Major < 0 || *d.Major > 1<<12 {
				return nil, fmt.Errorf("linux.resources.devices[%d]: major %d is out of range", i, *d.Major)
			}
			r.major = *d.Major
		}
		if d.Minor != nil {
			if *d.Minor < 0 || *d.Minor > 1<<20 {
				return nil, fmt.Errorf("linux.resources.devices[%d]: minor %d is out of range", i, *d.Minor)
			}
			r.minor = *d.Minor
		}
		out = append(out, r)
	}
	return out, nil
}

// resets says whether r is the rule for every device and every access,
// which sets the default instead of adding an exception.
func (r deviceRule) resets() bool {
	return r.typ == 'a' && r.major < 0 && r.minor < 0 && len(r.access) == 3
}

// v1Lines are the rule as devices.allow and devices.deny take it: "c 1:3 rwm".
// v1 reads any "a" line as "every device, every access", whatever follows
// it, so an "a" rule that is narrower is written as a "c" and a "b" line.
func (r deviceRule) v1Lines() []string {
	// LAB 02.5 BEGIN: one rule as v1 lines; a narrow "a" rule becomes a "c" and a "b" line
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return fmt.Sprint(n)
	}
	line := func(typ byte) string {
		return fmt.Sprintf("%c %s:%s %s", typ, num(r.major), num(r.minor), r.access)
	}
	if r.typ == 'a' && !r.resets() {
		return []string{line('c'), line('b')}
	}
	return []string{line(r.typ)}
	// LAB 02.5 END
	// LAB 02.5 STUB: lab.WarnOnce("02.5") // no lines: the cgroup allows every device
	// LAB 02.5 STUB: return nil
}

// effective reduces rules to a default and the exceptions after the last
// reset, as v1 keeps them.
func effective(rules []deviceRule) (defaultAllow bool, exceptions []deviceRule) {
	// LAB 02.5 BEGIN: the default and the exceptions after the last reset
	defaultAllow = true // a new cgroup allows everything
	for _, r := range rules {
		if r.resets() {
			defaultAllow, exceptions = r.allow, nil
			continue
		}
		exceptions = append(exceptions, r)
	}
	return defaultAllow, exceptions
	// LAB 02.5 END
	// LAB 02.5 STUB: return true, nil // allow every device
}

// eBPF, just enough for a device program (see the kernel's
// include/uapi/linux/bpf.h): instructions are 8 bytes, op, registers
// (dst low nibble, src high), a 16-bit jump offset and a 32-bit immediate.
const (
	bpfLdxW   = 0x61 // dst = *(u32 *)(src + off)
	bpfAndK   = 0x57 // dst &= imm        (64-bit ALU)
	bpfRshK   = 0x77 // dst >>= imm
	bpfMovX   = 0xbf // dst = src
	bpfMovK   = 0xb7 // dst = imm
	bpfJneK   = 0x55 // if dst != imm: pc += off
	bpfJeqK   = 0x15 // if dst == imm: pc += off
	bpfExit   = 0x95 // return r0
	devAccR   = 2    // BPF_DEVCG_ACC_READ
	devAccW   = 4    // BPF_DEVCG_ACC_WRITE
	devAccM   = 1    // BPF_DEVCG_ACC_MKNOD
	devTypBlk = 1    // BPF_DEVCG_DEV_BLOCK
	devTypChr = 2    // BPF_DEVCG_DEV_CHAR
)

type bpfInsn struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int32
}

// devicesProgram compiles rules into a BPF_PROG_TYPE_CGROUP_DEVICE
// program. The kernel calls it with a struct bpf_cgroup_dev_ctx in r1:
// access_type (access << 16 | type), major, minor, each a u32. It returns
// 1 to allow, 0 to deny. Exceptions are checked last first; none matches:
// the default.
func devicesProgram(rules []deviceRule) []byte {
	defaultAllow, exceptions := effective(rules)
	prog := []bpfInsn{
		{op: bpfLdxW, dst: 2, src: 1, off: 0}, // r2 = access_type
		{op: bpfMovX, dst: 3, src: 2},         // r3 = type
		{op: bpfAndK, dst: 3, imm: 0xffff},
		{op: bpfRshK, dst: 2, imm: 16},        // r2 = access
		{op: bpfLdxW, dst: 4, src: 1, off: 4}, // r4 = major
		{op: bpfLdxW, dst: 5, src: 1, off: 8}, // r5 = minor
	}
	for i := len(exceptions) - 1; i >= 0; i-- {
		var block []bpfInsn
		// LAB 02.5 BEGIN: the instructions that check one exception: type, major, minor, access
		r := exceptions[i]
		if r.typ != 'a' {
			t := int32(devTypChr)
			if r.typ == 'b' {
				t = devTypBlk
			}
			block = append(block, bpfInsn{op: bpfJneK, dst: 3, imm: t})
		}
		if r.major >= 0 {
			block = append(block, bpfInsn{op: bpfJneK, dst: 4, imm: int32(r.major)})
		}
		if r.minor >= 0 {
			block = append(block, bpfInsn{op: bpfJneK, dst: 5, imm: int32(r.minor)})
		}
		var acc int32
		for _, c := range r.access {
			acc |= map[rune]int32{'r': devAccR, 'w': devAccW, 'm': devAccM}[c]
		}
		block = append(block, bpfInsn{op: bpfMovX, dst: 6, src: 2})
		if r.allow {
			// Allowed when every requested access is in the rule.
			block = append(block,
				bpfInsn{op: bpfAndK, dst: 6, imm: ^acc & 7},
				bpfInsn{op: bpfJneK, dst: 6, imm: 0},
				bpfInsn{op: bpfMovK, dst: 0, imm: 1},
				bpfInsn{op: bpfExit})
		} else {
			// Denied when any requested access is in the rule.
			block = append(block,
				bpfInsn{op: bpfAndK, dst: 6, imm: acc},
				bpfInsn{op: bpfJeqK, dst: 6, imm: 0},
				bpfInsn{op: bpfMovK, dst: 0, imm: 0},
				bpfInsn{op: bpfExit})
		}
		// LAB 02.5 END
		// LAB 02.5 STUB: lab.WarnOnce("02.5") // no instructions: the default decides
		// Every conditional jump goes past the end of this block.
		for j := range block {
			if block[j].op == bpfJneK || block[j].op == bpfJeqK {
				block[j].off = int16(len(block) - j - 1)
			}
		}
		prog = append(prog, block...)
	}
	ret := int32(0)
	if defaultAllow {
		ret = 1
	}
	prog = append(prog, bpfInsn{op: bpfMovK, dst: 0, imm: ret}, bpfInsn{op: bpfExit})

	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = append(out, in.op, in.dst&0xf|in.src<<4)
		out = binary.LittleEndian.AppendUint16(out, uint16(in.off))
		out = binary.LittleEndian.AppendUint32(out, uint32(in.imm))
	}
	return out
}

// unsupported checks the resources minibox does not apply: network
// classes and priorities are refused (net_cls and net_prio exist on cgroup
// v1 only, and a silent no-op would leave traffic unclassified); hugepage,
// RDMA and raw v2 (unified) limits are not applied, with a warning.
func unsupported(r *specs.LinuxResources) (warnings []string, err error) {
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		return nil, fmt.Errorf("linux.resources.network (net_cls, net_prio) is not supported: cgroup v2 has no such controllers; classify traffic by cgroup path instead (nftables `socket cgroupv2`)")
	}
	if len(r.HugepageLimits) > 0 {
		warnings = append(warnings, "hugepage limits (linux.resources.hugepageLimits) are not applied by minibox")
	}
	if len(r.Rdma) > 0 {
		warnings = append(warnings, "RDMA limits (linux.resources.rdma) are not applied by minibox")
	}
	if len(r.Unified) > 0 {
		warnings = append(warnings, "raw cgroup v2 settings (linux.resources.unified) are not applied by minibox")
	}
	return warnings, nil
}
