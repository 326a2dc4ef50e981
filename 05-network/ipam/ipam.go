// Package ipam hands out the IPv4 addresses of minibox's networks: it reads
// a network's pool from `network create --subnet --gateway --ip-range`,
// picks a subnet that collides with nothing when none is given, and records
// which container holds which address.
//
// Docker keeps this in its daemon's memory. minibox has no daemon: any two
// commands may run at once (20 parallel `run -d` on one network), so the
// record is a file per network under a flock, replaced whole (internal/
// atomicfile) so that a command killed halfway leaves the old record or the
// new one. Every decision is made while the lock is held: read the file,
// choose the lowest free address, write the file, unlock.
//
// Addresses a container never gets: the subnet's network address (all host
// bits 0) and broadcast address (all 1), which the kernel treats specially
// on a bridge's link, and the gateway, which the bridge itself holds.
package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Pool is one network's address space.
type Pool struct {
	Subnet  netip.Prefix // masked, IPv4, at most /30
	Gateway netip.Addr   // inside Subnet: the bridge's address
	IPRange netip.Prefix // zero: the whole subnet; else where automatic addresses come from
}

// ErrInUse is the error of an address that someone already holds, in
// Docker's words.
var ErrInUse = errors.New("Address already in use") //nolint:staticcheck // Docker's capital letter

// ErrFull is wrapped by the error of a network with no address left.
var ErrFull = errors.New("no available IPv4 addresses on this network's address pools")

// ParsePool reads the --subnet, --gateway and --ip-range of `network create`
// and checks them as Docker's daemon does. An empty gateway becomes the
// subnet's first host address, Docker's default.
func ParsePool(subnet, gateway, ipRange string) (Pool, error) {
	if subnet == "" {
		if gateway != "" || ipRange != "" {
			return Pool{}, errors.New("every ip-range or gateway must have a corresponding subnet")
		}
		return Pool{}, errors.New("no subnet given")
	}
	sn, err := netip.ParsePrefix(subnet)
	if err != nil {
		return Pool{}, fmt.Errorf("invalid subnet %s: invalid CIDR block notation", subnet)
	}
	if !sn.Addr().Is4() {
		return Pool{}, fmt.Errorf("invalid subnet %s: minibox's networks are IPv4 only", subnet)
	}
	if sn != sn.Masked() {
		return Pool{}, fmt.Errorf("invalid subnet %s: it should be %s", subnet, sn.Masked())
	}
	if sn.Bits() > 30 {
		// A /31 or /32 has no room for a network address, a gateway, one
		// container and a broadcast address.
		return Pool{}, fmt.Errorf("invalid subnet %s: too small, a network needs at least a /30", subnet)
	}
	p := Pool{Subnet: sn}

	if ipRange != "" {
		r, err := netip.ParsePrefix(ipRange)
		switch {
		case err != nil:
			return Pool{}, fmt.Errorf("invalid ip-range %s: invalid CIDR block notation", ipRange)
		case !r.Addr().Is4():
			return Pool{}, fmt.Errorf("invalid ip-range %s: parent subnet is an IPv4 block", ipRange)
		case r.Bits() < sn.Bits():
			return Pool{}, fmt.Errorf("invalid ip-range %s: CIDR block is bigger than its parent subnet %s", ipRange, sn)
		case r != r.Masked():
			return Pool{}, fmt.Errorf("invalid ip-range %s: it should be %s", ipRange, r.Masked())
		case !sn.Contains(r.Addr()):
			return Pool{}, fmt.Errorf("invalid ip-range %s: parent subnet %s doesn't contain ip-range", ipRange, sn)
		}
		p.IPRange = r
	}

	if gateway == "" {
		p.Gateway = sn.Addr().Next()
		return p, nil
	}
	gw, err := netip.ParseAddr(gateway)
	switch {
	case err != nil || gw.Zone() != "":
		return Pool{}, fmt.Errorf("invalid gateway %s: invalid address", gateway)
	case !gw.Is4():
		return Pool{}, fmt.Errorf("invalid gateway %s: parent subnet is an IPv4 block", gateway)
	case !sn.Contains(gw):
		return Pool{}, fmt.Errorf("invalid gateway %s: it should belong to the parent subnet %s", gateway, sn)
	case gw == sn.Addr() || gw == broadcast(sn):
		return Pool{}, fmt.Errorf("invalid gateway %s: it is the network or broadcast address of %s", gateway, sn)
	}
	p.Gateway = gw
	return p, nil
}

// defaultPools are Docker's default address pools, in the order Docker
// tries them: 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20 …
// 192.168.240.0/20.
var defaultPools = func() []netip.Prefix {
	var ps []netip.Prefix
	for b := 17; b <= 31; b++ {
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c <= 240; c += 16 {
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	return ps
}()

// ChooseSubnet returns the first of Docker's default pools that overlaps
// none of used (the routes and addresses of the host, UsedPrefixes, and the
// subnets of the other networks). A pool that overlaps a route would make
// the kernel send the network's traffic the wrong way, or the host's.
func ChooseSubnet(used []netip.Prefix) (netip.Prefix, error) {
next:
	for _, p := range defaultPools {
		for _, u := range used {
			if u.IsValid() && p.Overlaps(u) {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, errors.New("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

// broadcast is the last address of p (all host bits 1).
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := ^uint32(0) >> p.Bits() // a shift by 32 gives 0 in Go: a /32 is its own broadcast
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Last is the highest address of p's range (its subnet when it has none)
// that a container may hold: where a network's own helper (a macvlan
// network's resolver) sits, away from the containers counting up.
func Last(p Pool) netip.Addr {
	r := p.IPRange
	if !r.IsValid() {
		r = p.Subnet
	}
	r = r.Masked()
	for a := broadcast(r); p.Subnet.Contains(a) && r.Contains(a); a = a.Prev() {
		if !reserved(p, a) {
			return a
		}
	}
	return netip.Addr{}
}

// reserved reports whether a is an address no container may hold: the
// network and broadcast addresses of p's subnet and its gateway.
func reserved(p Pool, a netip.Addr) bool {
	return a == p.Subnet.Addr() || a == broadcast(p.Subnet) || a == p.Gateway
}

// nextFree returns the lowest address of p's IPRange (the whole subnet when
// IPRange is zero) that is neither used nor reserved (network, broadcast,
// gateway); ok is false when there is none.
func nextFree(p Pool, used map[netip.Addr]bool) (netip.Addr, bool) {
	// LAB 05.2 BEGIN: the lowest free address of the range, never the network, broadcast or gateway address
	r := p.IPRange
	if !r.IsValid() {
		r = p.Subnet
	}
	r = r.Masked()
	last := broadcast(r)
	for a := r.Addr(); ; a = a.Next() {
		if p.Subnet.Contains(a) && !reserved(p, a) && !used[a] {
			return a, true
		}
		if a == last {
			return netip.Addr{}, false
		}
	}
	// LAB 05.2 END
	// LAB 05.2 STUB: lab.WarnOnce("05.2") // the lowest unused address from the subnet's .2 up: no --ip-range, gateway, broadcast or full subnet
	// LAB 05.2 STUB: a := p.Subnet.Masked().Addr().Next().Next()
	// LAB 05.2 STUB: for used[a] {
	// LAB 05.2 STUB: a = a.Next()
	// LAB 05.2 STUB: }
	// LAB 05.2 STUB: return a, true
}

// validID refuses a network id that is not a plain file name.
func validID(netID string) error {
	if netID == "" || netID == "." || netID == ".." || strings.ContainsAny(netID, "/\x00") || strings.HasPrefix(netID, ".") {
		return fmt.Errorf("invalid network id %q", netID)
	}
	return nil
}
