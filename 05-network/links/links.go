// Package links makes the kernel objects a container's network is built
// from: a network namespace kept alive by a file, a Linux bridge, a veth
// pair with one end on the bridge and the other inside the namespace, and
// macvlan children of a host interface. It is lesson 05's `ip netns add`,
// `ip link add ... type veth|bridge|macvlan` and `ip addr/route add`,
// written with netlink, the socket protocol the ip command itself speaks.
package links

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Endpoint is one interface inside a container's namespace.
type Endpoint struct {
	NetNS   string       // the namespace's file (NewNetNS)
	IfName  string       // its name inside: eth0, eth1, ...
	Addr    netip.Prefix // its address and the network's prefix length
	Gateway netip.Addr   // the default route's next hop; zero: no default route
	MAC     net.HardwareAddr
	HostIf  string // veth: the host end's name; macvlan: a temporary name
}

// NewNetNS makes a network namespace that outlives every process in it:
// the kernel frees a namespace when nothing refers to it, and a bind mount
// of its nsfs file (/proc/TID/ns/net) onto a plain file is such a
// reference (what `ip netns add` does under /run/netns). Its lo is up.
func NewNetNS(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("make the network namespace file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// unshare(2) moves only the calling thread into the new namespace.
		// The thread stays locked and ends with this goroutine, so the Go
		// runtime destroys it instead of running other goroutines on a
		// thread in the wrong namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare the network namespace: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount the network namespace on %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	err = InNetNS(path, func(h *netlink.Handle) error {
		lo, err := h.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("find lo: %w", err)
		}
		return h.LinkSetUp(lo)
	})
	if err != nil {
		RemoveNetNS(path)
		return err
	}
	return nil
}

// RemoveNetNS unmounts and removes a namespace file; a missing one is no
// error. Interfaces inside die with the namespace once no process is left
// in it (a veth's host end with them).
func RemoveNetNS(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount the network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the network namespace file: %w", err)
	}
	return nil
}

// InNetNS runs f with a netlink handle bound to the namespace at path: a
// netlink socket opened inside a namespace keeps talking to it, so no
// thread has to switch namespaces for the whole of f.
func InNetNS(path string, f func(h *netlink.Handle) error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open the network namespace %s: %w", path, err)
	}
	defer ns.Close()
	// NETLINK_ROUTE only: the default asks for XFRM and netfilter sockets
	// too, which a kernel without those modules refuses.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", path, err)
	}
	defer h.Close()
	return f(h)
}

// Within runs f on a thread that has entered the network namespace at
// path. What f opens there (a listening socket) belongs to that namespace
// for good, whichever thread uses it later. The thread is never unlocked,
// so the Go runtime throws it away instead of reusing it elsewhere.
func Within(path string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromPath(path)
		if err != nil {
			errc <- fmt.Errorf("open the network namespace %s: %w", path, err)
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter the network namespace %s: %w", path, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// EnsureBridge makes the bridge (if it is missing) with the gateway's
// address and brings it up. The bridge is a switch in the kernel; with an
// address it is also the host's own port on that switch, which is what
// makes the host the containers' router.
func EnsureBridge(name string, gw netip.Prefix) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("find bridge %s: %w", name, err)
		}
		la := netlink.NewLinkAttrs()
		la.Name = name
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("find bridge %s: %w", name, err)
		}
	}
	if _, ok := l.(*netlink.Bridge); !ok {
		return fmt.Errorf("%s exists and is not a bridge (it is a %s): choose another name with -o com.docker.network.bridge.name=", name, l.Type())
	}
	addr := &netlink.Addr{IPNet: ipNet(gw)}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("address %s on bridge %s: %w", gw, name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring bridge %s up: %w", name, err)
	}
	return nil
}

// Exists says whether the host has an interface of that name.
func Exists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// DeleteLink removes a host interface; a missing one is no error.
// Deleting either end of a veth pair deletes both.
func DeleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// AddVeth makes a veth pair: ep.HostIf on the bridge in the host's
// namespace, its peer born inside ep.NetNS and renamed ep.IfName there,
// with the address and the default route. A veth pair is a cable: what
// goes in one end comes out of the other, whatever namespace each is in.
func AddVeth(bridge string, ep Endpoint) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", bridge, err)
	}
	ns, err := netns.GetFromPath(ep.NetNS)
	if err != nil {
		return fmt.Errorf("open the network namespace %s: %w", ep.NetNS, err)
	}
	defer ns.Close()
	peer := "p" + ep.HostIf[1:] // the peer's name until it is renamed inside
	// LAB 05.1 BEGIN: the veth pair: ep.HostIf on the bridge (its master), its peer named peer born in ns
	la := netlink.NewLinkAttrs()
	la.Name = ep.HostIf
	la.MasterIndex = br.Attrs().Index
	la.MTU = br.Attrs().MTU
	veth := &netlink.Veth{LinkAttrs: la, PeerName: peer, PeerNamespace: netlink.NsFd(int(ns))}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", ep.HostIf, err)
	}
	// LAB 05.1 END
	// LAB 05.1 STUB: _, _ = br, ns
	// LAB 05.1 STUB: if err := lab.Todo("05.1"); err != nil {
	// LAB 05.1 STUB: return err
	// LAB 05.1 STUB: }
	if err := configure(ep, peer); err != nil {
		DeleteLink(ep.HostIf)
		return err
	}
	host, err := netlink.LinkByName(ep.HostIf)
	if err == nil {
		err = netlink.LinkSetUp(host)
	}
	if err != nil {
		DeleteLink(ep.HostIf)
		return fmt.Errorf("bring %s up: %w", ep.HostIf, err)
	}
	return nil
}

// AddMacvlan makes a macvlan child of parent inside ep.NetNS: an interface
// with a MAC address of its own on the parent's wire, so the container is
// a host of that network. In bridge mode children talk to each other
// inside the kernel, but never to the parent itself.
func AddMacvlan(parent, mode string, ep Endpoint) error {
	p, err := netlink.LinkByName(parent)
	if err != nil {
		return fmt.Errorf("find the macvlan parent %s: %w", parent, err)
	}
	m, err := macvlanMode(mode)
	if err != nil {
		return err
	}
	ns, err := netns.GetFromPath(ep.NetNS)
	if err != nil {
		return fmt.Errorf("open the network namespace %s: %w", ep.NetNS, err)
	}
	defer ns.Close()
	la := netlink.NewLinkAttrs()
	la.Name = ep.HostIf
	la.ParentIndex = p.Attrs().Index
	la.Namespace = netlink.NsFd(int(ns))
	if err := netlink.LinkAdd(&netlink.Macvlan{LinkAttrs: la, Mode: m}); err != nil {
		return fmt.Errorf("create macvlan on %s: %w", parent, err)
	}
	if err := configure(ep, ep.HostIf); err != nil {
		RemoveIf(ep.NetNS, ep.HostIf)
		RemoveIf(ep.NetNS, ep.IfName)
		return err
	}
	return nil
}

func macvlanMode(mode string) (netlink.MacvlanMode, error) {
	switch mode {
	case "", "bridge":
		return netlink.MACVLAN_MODE_BRIDGE, nil
	case "private":
		return netlink.MACVLAN_MODE_PRIVATE, nil
	case "vepa":
		return netlink.MACVLAN_MODE_VEPA, nil
	case "passthru":
		return netlink.MACVLAN_MODE_PASSTHRU, nil
	}
	return 0, fmt.Errorf("macvlan_mode %q is not one of bridge, private, vepa, passthru", mode)
}

// EnsureVLAN makes parent.ID, an 802.1Q sub-interface that tags what it
// sends with the VLAN ID, unless it exists. created says whether we made it.
func EnsureVLAN(parent string, id int) (name string, created bool, err error) {
	name = fmt.Sprintf("%s.%d", parent, id)
	if _, err := netlink.LinkByName(name); err == nil {
		return name, false, nil
	}
	p, err := netlink.LinkByName(parent)
	if err != nil {
		return "", false, fmt.Errorf("find the parent %s: %w", parent, err)
	}
	la := netlink.NewLinkAttrs()
	la.Name = name
	la.ParentIndex = p.Attrs().Index
	if err := netlink.LinkAdd(&netlink.Vlan{LinkAttrs: la, VlanId: id}); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			return "", false, fmt.Errorf("create VLAN %s: this kernel has no 802.1Q support: load it (modprobe 8021q) or use parent=%s without .VLAN", name, parent)
		}
		return "", false, fmt.Errorf("create VLAN %s: %w", name, err)
	}
	l, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		DeleteLink(name)
		return "", false, fmt.Errorf("bring %s up: %w", name, err)
	}
	return name, true, nil
}

// RemoveIf deletes an interface inside a namespace; a missing namespace
// or interface is no error.
func RemoveIf(nsPath, ifName string) error {
	if _, err := os.Stat(nsPath); err != nil {
		return nil
	}
	return InNetNS(nsPath, func(h *netlink.Handle) error {
		l, err := h.LinkByName(ifName)
		if err != nil {
			return nil // gone already
		}
		if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("delete %s: %w", ifName, err)
		}
		return nil
	})
}

// configure names, addresses and brings up the interface now called cur
// inside ep.NetNS, and adds the default route.
func configure(ep Endpoint, cur string) error {
	return InNetNS(ep.NetNS, func(h *netlink.Handle) error {
		l, err := h.LinkByName(cur)
		if err != nil {
			return fmt.Errorf("find %s in the container: %w", cur, err)
		}
		if cur != ep.IfName {
			if err := h.LinkSetName(l, ep.IfName); err != nil {
				return fmt.Errorf("rename %s to %s: %w", cur, ep.IfName, err)
			}
		}
		if ep.MAC != nil {
			if err := h.LinkSetHardwareAddr(l, ep.MAC); err != nil {
				return fmt.Errorf("set %s's MAC address: %w", ep.IfName, err)
			}
		}
		if err := h.AddrAdd(l, &netlink.Addr{IPNet: ipNet(ep.Addr)}); err != nil {
			return fmt.Errorf("address %s on %s: %w", ep.Addr, ep.IfName, err)
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("bring %s up: %w", ep.IfName, err)
		}
		if ep.Gateway.IsValid() {
			r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: ep.Gateway.AsSlice()}
			if err := h.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("default route via %s: %w", ep.Gateway, err)
			}
		}
		return nil
	})
}

// MACFor is Docker's way of giving an interface its MAC address: 02:42
// (locally administered, not multicast) followed by the IPv4 address, so
// an ARP table can be read without a lookup.
func MACFor(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}
}
