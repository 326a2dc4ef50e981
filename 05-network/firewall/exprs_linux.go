package firewall

import (
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// A rule is a little program for the kernel's nftables machine: load a
// field of the packet (or of its metadata) into a register, compare, and
// give a verdict. These helpers write the few programs Sync needs.

// ifname matches the input (iifname) or output (oifname) interface's name.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte(name + "\x00")},
	}
}

// ipSaddr matches an IPv4 source in prefix p: `ip saddr p`.
func ipSaddr(p netip.Prefix) []expr.Any { return ipIn(12, p) }

// ipDaddr matches one IPv4 destination: `ip daddr a`.
func ipDaddr(a netip.Addr) []expr.Any { return ipIn(16, netip.PrefixFrom(a, 32)) }

// ipIn loads 4 bytes of the IPv4 header at offset (12 source, 16
// destination), masks them with p's length and compares with p's network.
func ipIn(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	mask := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	net := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net[:]},
	}
}

// dport matches a UDP or TCP destination port: `udp dport 53`.
func dport(proto byte, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

// ctEstablished is nft's `ct state established,related`: the packet belongs
// to (or is related to) a connection conntrack has seen both ways.
func ctEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// xtEstablished is the same test written as iptables writes it, `-m
// conntrack --ctstate RELATED,ESTABLISHED` (an xtables match run by
// nftables): in iptables-nft's table a native `ct state` would make
// iptables (and dockerd) refuse the whole chain as "incompatible".
func xtEstablished() []expr.Any {
	// XT_CONNTRACK_STATE_BIT(ctinfo) is 1 << (ctinfo+1): ESTABLISHED is
	// ctinfo 0, RELATED 1.
	const established, related = 1 << 1, 1 << 2
	return []expr.Any{&expr.Match{Name: "conntrack", Rev: 3, Info: &xt.ConntrackMtinfo3{
		ConntrackMtinfo2: xt.ConntrackMtinfo2{
			ConntrackMtinfoBase: xt.ConntrackMtinfoBase{MatchFlags: uint16(xt.ConntrackState)},
			StateMask:           established | related,
		},
	}}}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func concat(es ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, e := range es {
		out = append(out, e...)
	}
	return out
}
