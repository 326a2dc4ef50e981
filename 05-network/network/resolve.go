package network

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"minibox/04-storage/engine"
	"minibox/05-network/ipam"
	"minibox/05-network/links"
	"minibox/05-network/resolver"
	"minibox/internal/atomicfile"
	"minibox/internal/filelock"
)

// A user network's resolver is this program re-executed as
// `PROGRAM __minibox-resolver DATAROOT EXECROOT NETWORK-ID`: a daemon of
// one network, started when the network's first container starts and
// stopped with its last, as podman starts aardvark-dns. It reads the
// endpoint records at every query, so a container that joins or leaves is
// answered for without telling it anything.
//
// Where it listens depends on the driver. On a bridge network it is the
// gateway address, port 53, in the host's namespace: the bridge is the
// host's own port on the containers' switch. On a macvlan network the
// host cannot reach its own children through the parent, so the resolver
// joins the network the way a container does: a namespace of its own
// (EXEC/netns/dns-NETWORK) with a macvlan child holding the pool's last
// address; only its listening sockets live there, its questions to the
// upstream servers leave from the host's namespace.

// ResolverArg is the hidden first argument of a resolver.
const ResolverArg = "__minibox-resolver"

// IsResolver says whether this process was started as a resolver; the
// program's main checks it first thing and then calls RunResolver.
func IsResolver() bool { return len(os.Args) == 5 && os.Args[1] == ResolverArg }

// RunResolver is the resolver's main; it never returns.
func RunResolver() {
	ready := os.NewFile(3, "ready")
	unix.CloseOnExec(3)
	fail := func(err error) {
		fmt.Fprintln(ready, "error: "+err.Error())
		os.Exit(1)
	}
	m, err := New(os.Args[2], os.Args[3], "")
	if err != nil {
		fail(err)
	}
	nets, err := m.list()
	if err != nil {
		fail(err)
	}
	n, err := find(nets, os.Args[4])
	if err != nil {
		fail(err)
	}
	addr, ok := m.resolverAddr(n)
	if !ok {
		fail(fmt.Errorf("network %s has no resolver address", n.Name))
	}
	listen := []string{netip.AddrPortFrom(addr, 53).String()}
	var srv *resolver.Server
	if n.Driver == "macvlan" {
		// Sockets belong to the namespace they were opened in, whichever
		// thread uses them later.
		err = links.Within(m.resolverNS(n), func() error {
			srv, err = resolver.Serve(listen, &records{m: m, netID: n.ID})
			return err
		})
	} else {
		srv, err = resolver.Serve(listen, &records{m: m, netID: n.ID})
	}
	if err != nil {
		fail(fmt.Errorf("resolver of network %s: %w", n.Name, err))
	}
	// The resolver records itself before it says it is ready: a CLI
	// killed after starting it cannot leave a resolver nobody can find.
	self, _ := engine.ProcessOf(os.Getpid())
	data, _ := json.Marshal(self)
	if err := atomicfile.WriteFile(m.resolverPid(n), data, 0o600); err != nil {
		fail(fmt.Errorf("resolver: %w", err))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	fmt.Fprintln(ready, "ok")
	ready.Close()
	tick := time.NewTicker(time.Second)
	for done := false; !done; {
		select {
		case <-sigs:
			done = true
		case <-tick.C:
			// Daemonless means nobody else watches us: once the network
			// has no container (its last one's remover was killed before
			// it stopped us) or is gone, we go.
			done = m.resolverIdle(n, self, srv.Close)
		}
	}
	srv.Close()
	os.Exit(0)
}

// resolverIdle says (under the network lock, so that no start races it)
// whether the resolver self of n has nothing left to serve; if so it
// closes its server and removes its own record.
func (m *Manager) resolverIdle(n *Network, self engine.Process, closeServer func() error) bool {
	// Not waiting: whoever holds the lock may be stopping us right now.
	l, ok, err := filelock.TryExclusive(filepath.Join(m.dataRoot, "networks", "lock"))
	if err != nil || !ok {
		return false
	}
	defer l.Unlock()
	_, err = os.Stat(m.netFile(n.ID))
	gone := errors.Is(err, os.ErrNotExist)
	if !gone {
		users, err := m.users(n.ID)
		if err != nil || len(users) > 0 {
			return false
		}
	}
	// The sockets close before the lock goes: a start that follows binds
	// the same address (a bridge's gateway:53) for its new resolver.
	closeServer()
	if p, ok := m.readResolver(n); ok && p == self {
		os.Remove(m.resolverPid(n))
		m.leaveNetwork(n)
	}
	return true
}

// resolverOwner is the IPAM owner of a macvlan resolver's address.
const resolverOwner = "resolver"

// resolves says whether n gets a resolver: user bridge networks, and
// macvlan networks in bridge mode (the default), where children talk to
// each other. In private and vepa modes they cannot reach the resolver's
// child either, and passthru allows one child only.
func (n *Network) resolves() bool {
	switch n.Driver {
	case "bridge":
		return !n.predefined()
	case "macvlan":
		mode := n.Options["macvlan_mode"]
		return mode == "" || mode == "bridge"
	}
	return false
}

// resolverAddr is where n's resolver listens: the gateway of a bridge
// network; the address IPAM holds for it on a macvlan network (none
// before its first start).
func (m *Manager) resolverAddr(n *Network) (netip.Addr, bool) {
	pool, err := n.pool()
	if err != nil {
		return netip.Addr{}, false
	}
	if n.Driver != "macvlan" {
		return pool.Gateway, true
	}
	owners, err := m.ipam.Owners(n.ID)
	if err != nil {
		return netip.Addr{}, false
	}
	for a, o := range owners {
		if o == resolverOwner {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (m *Manager) resolverNS(n *Network) string {
	return filepath.Join(m.execRoot, "netns", "dns-"+n.ID)
}

// joinNetwork gives a macvlan network's resolver its place on the wire:
// the pool's last free address (containers count up from the first), on
// a child of the parent in a namespace of the resolver's own. The caller
// holds the lock.
func (m *Manager) joinNetwork(n *Network) error {
	pool, err := n.pool()
	if err != nil {
		return err
	}
	m.leaveNetwork(n) // a killed resolver's
	// From the top of the range down (256 tries at most): the first free
	// address above the containers'.
	rng := pool.IPRange
	if !rng.IsValid() {
		rng = pool.Subnet
	}
	ip, err := netip.Addr{}, error(ipam.ErrFull)
	a := ipam.Last(pool)
	for i := 0; i < 256 && a.IsValid() && rng.Contains(a) && a != pool.Subnet.Addr(); i, a = i+1, a.Prev() {
		if a == pool.Gateway {
			continue
		}
		if ip, err = m.ipam.Allocate(n.ID, pool, resolverOwner, a); !errors.Is(err, ipam.ErrInUse) {
			break
		}
	}
	if errors.Is(err, ipam.ErrInUse) {
		err = fmt.Errorf("%w: %s", ipam.ErrFull, pool.Subnet)
	}
	if err != nil {
		return fmt.Errorf("the resolver of network %s: %w", n.Name, err)
	}
	ns := m.resolverNS(n)
	if err := links.NewNetNS(ns); err != nil {
		m.ipam.Release(n.ID, resolverOwner)
		return fmt.Errorf("the resolver of network %s: %w", n.Name, err)
	}
	ep := links.Endpoint{NetNS: ns, IfName: "eth0", HostIf: "mbxdns0", Addr: netip.PrefixFrom(ip, pool.Subnet.Bits()), MAC: links.MACFor(ip)}
	if err := links.AddMacvlan(m.parent(n), n.Options["macvlan_mode"], ep); err != nil {
		m.leaveNetwork(n)
		return fmt.Errorf("the resolver of network %s: %w", n.Name, err)
	}
	return nil
}

// leaveNetwork undoes joinNetwork (nothing on a bridge network). The
// child is deleted before the namespace is let go: a namespace dies in
// the kernel's own time, and until then a child with the same MAC would
// be refused.
func (m *Manager) leaveNetwork(n *Network) error {
	if n.Driver != "macvlan" {
		return nil
	}
	ns := m.resolverNS(n)
	var errs []error
	if _, err := os.Stat(ns); err == nil {
		// mbxdns0: a start killed before the child was renamed eth0.
		errs = append(errs, links.RemoveIf(ns, "eth0"), links.RemoveIf(ns, "mbxdns0"), links.RemoveNetNS(ns))
	}
	errs = append(errs, m.ipam.Release(n.ID, resolverOwner))
	return errors.Join(errs...)
}

func (m *Manager) resolverPid(n *Network) string {
	return filepath.Join(m.execRoot, "networks", n.ID, "resolver.pid")
}

// startResolver starts the network's resolver unless it runs; the caller
// holds the lock.
func (m *Manager) startResolver(n *Network) error {
	if p, ok := m.readResolver(n); ok && p.Alive() {
		return nil
	}
	if m.self == "" {
		return errors.New("networks: no program to run the resolver with")
	}
	if n.Driver == "macvlan" {
		if err := m.joinNetwork(n); errors.Is(err, ipam.ErrFull) {
			return nil // no address left for it: the containers ask the host's servers
		} else if err != nil {
			return err
		}
	}
	if err := m.spawnResolver(n); err != nil {
		return errors.Join(err, m.leaveNetwork(n))
	}
	return nil
}

// spawnResolver runs the resolver process and waits until it serves.
func (m *Manager) spawnResolver(n *Network) error {
	if err := os.MkdirAll(filepath.Dir(m.resolverPid(n)), 0o700); err != nil {
		return fmt.Errorf("resolver: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("resolver: %w", err)
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return fmt.Errorf("resolver: %w", err)
	}
	defer devnull.Close()
	cmd := exec.Command(m.self, ResolverArg, m.dataRoot, m.execRoot, n.ID)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{w}
	// A session of its own: the CLI's terminal and its signals are not
	// the resolver's, and the CLI does not wait for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the resolver of network %s: %w", n.Name, err)
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line != "ok" {
		cmd.Wait()
		if line == "" {
			line = "it exited before it was ready"
		}
		return fmt.Errorf("the resolver of network %s: %s", n.Name, strings.TrimPrefix(line, "error: "))
	}
	// It outlives us (then PID 1 or a subreaper reaps it); while we live,
	// we reap it, so that stopping it does not wait for a zombie.
	go cmd.Wait()
	return nil
}

func (m *Manager) readResolver(n *Network) (engine.Process, bool) {
	var p engine.Process
	data, err := os.ReadFile(m.resolverPid(n))
	if err != nil {
		return p, false
	}
	return p, json.Unmarshal(data, &p) == nil
}

// stopResolver stops the network's resolver (by its PID and start time,
// never by name) and waits for it to be gone.
func (m *Manager) stopResolver(n *Network) error {
	p, ok := m.readResolver(n)
	if !ok {
		return m.leaveNetwork(n)
	}
	if p.Signal(unix.SIGTERM) {
		p.WaitGone(2 * time.Second)
		if p.Alive() {
			p.Signal(unix.SIGKILL)
			p.WaitGone(2 * time.Second)
		}
	}
	if err := os.Remove(m.resolverPid(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("resolver: %w", err)
	}
	return m.leaveNetwork(n)
}

// records answers a resolver's questions from the endpoint records: a
// client sees the names of the containers that share a user network with
// it, each with its address on that shared network.
type records struct {
	m     *Manager
	netID string
}

func (r *records) client(ip netip.Addr) (*Record, []*Record, bool) {
	eps, err := r.m.endpoints()
	if err != nil {
		return nil, nil, false
	}
	for _, ep := range eps {
		if a, ok := ep.Networks[r.netID]; ok && a.IP == ip.String() {
			return ep, eps, true
		}
	}
	return nil, nil, false
}

func (r *records) Lookup(client netip.Addr, name string) ([]netip.Addr, bool) {
	me, eps, ok := r.client(client)
	if !ok {
		return nil, false
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	var out []netip.Addr
	for _, ep := range eps {
		for id, a := range ep.Networks {
			mine, shared := me.Networks[id]
			if !shared || mine.Network == DefaultName || a.IP == "" {
				continue
			}
			if matches(ep, a, name) {
				if ip, err := netip.ParseAddr(a.IP); err == nil && !containsAddr(out, ip) {
					out = append(out, ip)
				}
			}
		}
	}
	return out, true
}

func (r *records) Reverse(client netip.Addr, ip netip.Addr) (string, bool) {
	me, eps, ok := r.client(client)
	if !ok {
		return "", false
	}
	for _, ep := range eps {
		for id, a := range ep.Networks {
			if mine, shared := me.Networks[id]; shared && mine.Network != DefaultName && a.IP == ip.String() {
				return ep.Name + "." + a.Network, true
			}
		}
	}
	return "", false
}

func (r *records) Upstreams(client netip.Addr) []string {
	me, _, ok := r.client(client)
	if !ok {
		return nil
	}
	return me.Upstreams
}

// matches: a container answers to its name, its short ID and its aliases
// on the network (Docker's DNSNames).
func matches(ep *Record, a *Attachment, name string) bool {
	if strings.ToLower(ep.Name) == name || (len(ep.ContainerID) >= 12 && ep.ContainerID[:12] == name) {
		return true
	}
	for _, al := range a.Aliases {
		if strings.ToLower(al) == name {
			return true
		}
	}
	return false
}

func containsAddr(s []netip.Addr, a netip.Addr) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}
