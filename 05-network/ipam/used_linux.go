package ipam

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// UsedPrefixes returns the IPv4 prefixes the current network namespace
// already reaches: the destination of every route in every routing table
// (a default route, 0.0.0.0/0, left out: it overlaps everything and says
// nothing) and the prefix of every address on every link. A new network's
// subnet must overlap none of them, or its bridge route would shadow (or be
// shadowed by) one the host relies on.
func UsedPrefixes() ([]netip.Prefix, error) {
	// Table RT_TABLE_UNSPEC with the table filter set asks for all tables,
	// not only main: policy-routing tables count too.
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	add := func(n *net.IPNet) {
		p, ok := prefixOf(n)
		if ok && p.Bits() > 0 && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, r := range routes {
		add(r.Dst)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		add(a.IPNet)
	}
	return out, nil
}

// prefixOf converts an IPv4 net.IPNet to a masked netip.Prefix.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if !a.Is4() || bits != 32 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones).Masked(), true
}
