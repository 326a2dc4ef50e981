package cgroups

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runDeviceProgram interprets the few eBPF instructions devicesProgram
// emits, with the kernel's context (access<<16|type, major, minor).
func runDeviceProgram(t *testing.T, prog []byte, typ, access, major, minor uint32) bool {
	t.Helper()
	ctx := []uint32{access<<16 | typ, major, minor}
	var r [11]uint64
	for pc := 0; pc < len(prog)/8; pc++ {
		in := prog[pc*8 : pc*8+8]
		op, dst, src := in[0], in[1]&0xf, in[1]>>4
		off := int16(binary.LittleEndian.Uint16(in[2:]))
		imm := uint64(int64(int32(binary.LittleEndian.Uint32(in[4:]))))
		switch op {
		case bpfLdxW:
			require.Equal(t, uint8(1), src, "loads only from the context")
			r[dst] = uint64(ctx[off/4])
		case bpfMovX:
			r[dst] = r[src]
		case bpfMovK:
			r[dst] = imm
		case bpfAndK:
			r[dst] &= imm
		case bpfRshK:
			r[dst] >>= imm
		case bpfJneK:
			if r[dst] != imm {
				pc += int(off)
			}
		case bpfJeqK:
			if r[dst] == imm {
				pc += int(off)
			}
		case bpfExit:
			return r[0] == 1
		default:
			t.Fatalf("unknown op %#x", op)
		}
	}
	t.Fatal("the program ran off its end")
	return false
}

func TestDeviceRules(t *testing.T) {
	i := func(n int64) *int64 { return &n }
	docker := append([]specs.LinuxDeviceCgroup{DenyAllDevices()}, DefaultDevices()...)
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		typ   uint32 // devTypChr or devTypBlk
		acc   uint32
		major uint32
		minor uint32
		allow bool
	}{
		{"null rw", docker, devTypChr, devAccR | devAccW, 1, 3, true},
		{"pts", docker, devTypChr, devAccR | devAccW, 136, 7, true},
		{"disk read", docker, devTypBlk, devAccR, 8, 0, false},
		{"disk mknod", docker, devTypBlk, devAccM, 8, 0, true},
		{"disk mknod+read", docker, devTypBlk, devAccM | devAccR, 8, 0, false},
		{"/dev/mem", docker, devTypChr, devAccR, 1, 1, false},
		{"loop-control", docker, devTypChr, devAccR, 10, 237, false},
		{"no rules", nil, devTypBlk, devAccR, 8, 0, true},
		{"privileged", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}, devTypBlk, devAccR | devAccW, 8, 0, true},
		{"deny one", []specs.LinuxDeviceCgroup{{Allow: false, Type: "b", Major: i(8), Access: "w"}}, devTypBlk, devAccW, 8, 16, false},
		{"deny one, other access", []specs.LinuxDeviceCgroup{{Allow: false, Type: "b", Major: i(8), Access: "w"}}, devTypBlk, devAccR, 8, 16, true},
		{"later wins", []specs.LinuxDeviceCgroup{DenyAllDevices(), {Allow: true, Type: "c", Major: i(4), Access: "rw"}, {Allow: false, Type: "c", Major: i(4), Minor: i(1), Access: "rw"}}, devTypChr, devAccR, 4, 1, false},
		{"later wins, other minor", []specs.LinuxDeviceCgroup{DenyAllDevices(), {Allow: true, Type: "c", Major: i(4), Access: "rw"}, {Allow: false, Type: "c", Major: i(4), Minor: i(1), Access: "rw"}}, devTypChr, devAccR, 4, 2, true},
		{"narrow a rule: any type, one access", []specs.LinuxDeviceCgroup{{Allow: false, Type: "a", Access: "w"}}, devTypChr, devAccW, 1, 3, false},
		{"narrow a rule, other access", []specs.LinuxDeviceCgroup{{Allow: false, Type: "a", Access: "w"}}, devTypBlk, devAccR | devAccM, 8, 0, true},
		{"a major of any type", []specs.LinuxDeviceCgroup{DenyAllDevices(), {Allow: true, Type: "a", Major: i(7), Access: "r"}}, devTypBlk, devAccR, 7, 3, true},
		{"a major of any type, write", []specs.LinuxDeviceCgroup{DenyAllDevices(), {Allow: true, Type: "a", Major: i(7), Access: "r"}}, devTypBlk, devAccR | devAccW, 7, 3, false},
		{"reset forgets", []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: i(4), Access: "rw"}, DenyAllDevices()}, devTypChr, devAccR, 4, 2, false},
	} {
		rules, err := checkDevices(tc.rules)
		require.NoError(t, err, tc.name)
		got := runDeviceProgram(t, devicesProgram(rules), tc.typ, tc.acc, tc.major, tc.minor)
		assert.Equal(t, tc.allow, got, tc.name)
	}
}

func TestDeviceRuleLinesAndErrors(t *testing.T) {
	i := func(n int64) *int64 { return &n }
	rules, err := checkDevices([]specs.LinuxDeviceCgroup{DenyAllDevices(), {Allow: true, Type: "c", Major: i(136), Access: "rwm"}, {Allow: true, Type: "b", Major: i(8), Minor: i(0), Access: "r"}})
	require.NoError(t, err)
	var lines []string
	for _, r := range rules {
		lines = append(lines, r.v1Lines()...)
	}
	assert.Equal(t, []string{"a *:* rwm", "c 136:* rwm", "b 8:0 r"}, lines)

	// A narrower "a" rule: v1 would read "a *:* m" as everything, rwm.
	narrow, err := checkDevices([]specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Access: "m"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"c *:* m", "b *:* m"}, narrow[0].v1Lines())

	for _, bad := range []specs.LinuxDeviceCgroup{
		{Type: "x", Access: "r"}, {Type: "c", Access: "rx"}, {Type: "c", Access: "rwmr"},
		{Type: "c", Major: i(-2), Access: "r"}, {Type: "c", Minor: i(1 << 21), Access: "r"},
	} {
		_, err := checkDevices([]specs.LinuxDeviceCgroup{bad})
		assert.Error(t, err, "%+v", bad)
	}
}

func TestUnsupportedResources(t *testing.T) {
	class := uint32(0x100001)
	_, err := unsupported(&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: &class}})
	assert.ErrorContains(t, err, "net_cls")
	w, err := unsupported(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1 << 21}}, Unified: map[string]string{"memory.high": "1"}})
	require.NoError(t, err)
	assert.Len(t, w, 2)
	w, err = unsupported(&specs.LinuxResources{})
	assert.NoError(t, err)
	assert.Empty(t, w)
}
