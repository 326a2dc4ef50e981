package network

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/04-storage/engine"
	"minibox/05-network/firewall"
	"minibox/05-network/ipam"
	"minibox/05-network/links"
	"minibox/internal/atomicfile"
)

// Manager is lesson 05's engine.Networks (and engine.Publisher).
type Manager struct {
	dataRoot, execRoot string
	self               string // this program, re-executed as a resolver
	ipam               *ipam.Store
	// Lookup finds a container (for --network container:NAME's files).
	Lookup func(ref string) (*engine.Container, error)
	// HostResolvConf is the host's resolv.conf (tests point it elsewhere).
	HostResolvConf string
}

// New opens the network records under the engine's roots.
func New(dataRoot, execRoot, self string) (*Manager, error) {
	for _, d := range []string{filepath.Join(dataRoot, "networks", "nets"), filepath.Join(execRoot, "endpoints"),
		filepath.Join(dataRoot, "networks", "ipam"), filepath.Join(execRoot, "netns"), filepath.Join(execRoot, "netfiles"),
		filepath.Join(execRoot, "networks")} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("networks: make %s: %w", d, err)
		}
	}
	return &Manager{dataRoot: dataRoot, execRoot: execRoot, self: self,
		ipam: ipam.Open(filepath.Join(dataRoot, "networks", "ipam")), HostResolvConf: "/etc/resolv.conf"}, nil
}

// Record is what the network layer keeps of a container while it is
// attached: the resolver answers from these files.
type Record struct {
	ContainerID string
	Name        string
	Hostname    string
	Upstreams   []string               // where its resolver forwards other names
	Networks    map[string]*Attachment // by network ID
}

// Attachment is one interface of a container on one network.
type Attachment struct {
	Network    string // its name
	EndpointID string
	IfName     string
	HostIf     string
	IP         string
	PrefixLen  int
	Gateway    string
	MAC        string
	Aliases    []string
}

// Attach builds the container's network for its start: for a bridge or
// macvlan network a namespace of its own (EXEC/netns/ID), an interface per
// network (eth0 on the network of --network, eth1... on the ones added by
// connect), an address from each network's pool, the default route via
// the first network's gateway, and the files. host and none get the files
// only; container:NAME joins netns and shares NAME's files.
func (m *Manager) Attach(c *engine.Container, netns string) ([]specs.Mount, error) {
	mode := c.HostConfig.NetworkMode
	switch {
	case mode == "host":
		return m.writeFiles(c, nil, true)
	case mode == "" || mode == "none":
		return m.writeFiles(c, nil, false)
	case strings.HasPrefix(mode, "container:"):
		c.NetworkSettings.SandboxKey = netns
		return m.sharedFiles(strings.TrimPrefix(mode, "container:"))
	}
	if err := m.attach(c); err != nil {
		if derr := m.Detach(c); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, err
	}
	rec, err := m.record(c.ID)
	if err != nil {
		m.Detach(c)
		return nil, err
	}
	mounts, err := m.writeFiles(c, rec, false)
	if err != nil {
		m.Detach(c)
		return nil, err
	}
	return mounts, nil
}

// wanted are the container's networks in interface order: --network's
// first, then the ones connect added.
func (m *Manager) wanted(c *engine.Container, nets []*Network) ([]*Network, error) {
	mode := c.HostConfig.NetworkMode
	if mode == "default" {
		mode = DefaultName
	}
	first, err := find(nets, mode)
	if err != nil {
		return nil, err
	}
	if first.Driver == "host" || first.Driver == "null" {
		return nil, fmt.Errorf("network %s: use --network %s, not a network of that driver", first.Name, first.Name)
	}
	out := []*Network{first}
	var rest []string
	for name := range c.NetworkSettings.Networks {
		rest = append(rest, name)
	}
	sortStrings(rest)
	for _, name := range rest {
		es := c.NetworkSettings.Networks[name]
		ref := name
		if es != nil && es.NetworkID != "" {
			ref = es.NetworkID
		}
		n, err := find(nets, ref)
		if err != nil {
			return nil, err
		}
		if n.ID != first.ID {
			out = append(out, n)
		}
	}
	return out, nil
}

func (m *Manager) attach(c *engine.Container) error {
	l, err := m.lock()
	if err != nil {
		return err
	}
	if err := m.ensureDefaults(); err != nil {
		l.Unlock()
		return err
	}
	nets, err := m.list()
	if err != nil {
		l.Unlock()
		return err
	}
	want, err := m.wanted(c, nets)
	if err != nil {
		l.Unlock()
		return err
	}
	// Written ahead, under the lock: from here on the bridge stays while
	// this record names it, and Detach knows what to undo.
	rec := &Record{ContainerID: c.ID, Name: c.Name, Hostname: c.Config.Hostname, Networks: map[string]*Attachment{}}
	rec.Upstreams = m.upstreams(c)
	for i, n := range want {
		rec.Networks[n.ID] = &Attachment{Network: n.Name, IfName: fmt.Sprintf("eth%d", i), HostIf: hostIf(c.ID, n.ID)}
	}
	if err := m.saveRecord(rec); err != nil {
		l.Unlock()
		return err
	}
	for _, n := range want {
		if err := m.upLocked(n); err != nil {
			l.Unlock()
			return err
		}
	}
	l.Unlock()

	ns := filepath.Join(m.execRoot, "netns", c.ID)
	links.RemoveNetNS(ns) // a crashed start's
	if err := links.NewNetNS(ns); err != nil {
		return err
	}
	c.NetworkSettings.SandboxKey = ns
	if c.NetworkSettings.Networks == nil {
		c.NetworkSettings.Networks = map[string]*engine.EndpointSettings{}
	}
	for i, n := range want {
		es := c.NetworkSettings.Networks[n.Name]
		if es == nil {
			es = &engine.EndpointSettings{}
			c.NetworkSettings.Networks[n.Name] = es
		}
		a := rec.Networks[n.ID]
		if err := m.plug(c, n, es, a, ns, i == 0); err != nil {
			return err
		}
		if err := m.saveRecord(rec); err != nil {
			return err
		}
	}
	return m.startMacvlanResolvers(want)
}

// startMacvlanResolvers starts the resolvers of the macvlan networks
// among nets once the container holds its addresses there. The network
// cannot go down meanwhile: the container's record names it.
func (m *Manager) startMacvlanResolvers(nets []*Network) error {
	l, err := m.lock()
	if err != nil {
		return err
	}
	defer l.Unlock()
	for _, n := range nets {
		if n.Driver == "macvlan" && n.resolves() {
			if err := m.startResolver(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// plug gives the container an address on n and its interface there.
func (m *Manager) plug(c *engine.Container, n *Network, es *engine.EndpointSettings, a *Attachment, ns string, primary bool) error {
	pool, err := n.pool()
	if err != nil {
		return err
	}
	var want netip.Addr
	if es.IPAMConfig != nil && es.IPAMConfig.IPv4Address != "" {
		if want, err = netip.ParseAddr(es.IPAMConfig.IPv4Address); err != nil {
			return fmt.Errorf("invalid IPv4 address %q: %w", es.IPAMConfig.IPv4Address, err)
		}
	}
	ip, err := m.ipam.Allocate(n.ID, pool, c.ID, want)
	if err != nil {
		if owners, oerr := m.ipam.Owners(n.ID); errors.Is(err, ipam.ErrInUse) && oerr == nil && owners[want] == resolverOwner {
			return fmt.Errorf("network %s: %w: the network's resolver holds %s (on a macvlan network it takes the pool's last free address when the network's first container starts)", n.Name, err, want)
		}
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	ep := links.Endpoint{NetNS: ns, IfName: a.IfName, Addr: netip.PrefixFrom(ip, pool.Subnet.Bits()), MAC: links.MACFor(ip), HostIf: a.HostIf}
	if primary && !n.Internal {
		ep.Gateway = pool.Gateway
	}
	switch n.Driver {
	case "bridge":
		err = links.AddVeth(n.bridge(), ep)
	case "macvlan":
		err = links.AddMacvlan(m.parent(n), n.Options["macvlan_mode"], ep)
	default:
		err = fmt.Errorf("network %s: driver %s cannot attach containers", n.Name, n.Driver)
	}
	if err != nil {
		return err
	}
	a.IP, a.PrefixLen, a.MAC, a.Gateway = ip.String(), pool.Subnet.Bits(), ep.MAC.String(), pool.Gateway.String()
	a.EndpointID = endpointID(c.ID, n.ID)
	a.Aliases = es.Aliases
	es.NetworkID, es.IPAddress, es.IPPrefixLen, es.MacAddress = n.ID, a.IP, a.PrefixLen, a.MAC
	es.Gateway = ""
	if n.Driver == "bridge" || n.Driver == "macvlan" {
		es.Gateway = pool.Gateway.String()
	}
	return nil
}

// Detach takes down what Attach made: interfaces, addresses, the
// namespace and files, and, with the network's last container, its bridge,
// firewall rules and resolver. It works from the record written ahead, so
// it also undoes an Attach killed halfway; twice is no error.
func (m *Manager) Detach(c *engine.Container) error {
	var errs []error
	rec, err := m.record(c.ID)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	ns := filepath.Join(m.execRoot, "netns", c.ID)
	if rec != nil {
		for id, a := range rec.Networks {
			if err := deleteLink(a.HostIf); err != nil {
				errs = append(errs, err)
			}
			// A macvlan child lives inside the namespace, which a
			// --network container: joiner may keep alive: take it out, or
			// its address stays on the wire after IPAM gave it back.
			if err := links.RemoveIf(ns, a.IfName); err != nil {
				errs = append(errs, err)
			}
			if err := m.ipam.Release(id, c.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := links.RemoveNetNS(ns); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(m.filesDir(c.ID)); err != nil {
		errs = append(errs, err)
	}
	if c.NetworkSettings.SandboxKey == ns {
		c.NetworkSettings.SandboxKey = ""
	}
	for _, es := range c.NetworkSettings.Networks {
		if es != nil {
			es.IPAddress, es.IPPrefixLen, es.Gateway, es.MacAddress = "", 0, "", ""
		}
	}
	c.NetworkSettings.Ports = nil
	if rec != nil {
		if err := m.dropRecord(rec); err != nil {
			errs = append(errs, err)
		}
	}
	// A writer killed halfway leaves its temporary file (atomicfile's
	// .NAME.tmp-*) beside the record.
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(m.recordFile(c.ID)), "."+c.ID+".json.tmp-*"))
	for _, f := range tmps {
		os.Remove(f)
	}
	return errors.Join(errs...)
}

// dropRecord removes the record and, for the networks nobody uses any
// more, their bridges and resolvers; then the rules follow.
func (m *Manager) dropRecord(rec *Record) error {
	l, err := m.lock()
	if err != nil {
		return err
	}
	defer l.Unlock()
	nets, err := m.list()
	if err != nil {
		return err
	}
	// The record goes last: killed before that, the next Detach finds it
	// and takes down what is still up.
	var errs []error
	for id := range rec.Networks {
		for _, n := range nets {
			if n.ID != id {
				continue
			}
			users, err := m.users(id)
			if err != nil {
				errs = append(errs, err)
			} else if len(users) == 0 || (len(users) == 1 && users[0] == rec.ContainerID) {
				errs = append(errs, m.downLocked(n))
			}
		}
	}
	if err := os.Remove(m.recordFile(rec.ContainerID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove the endpoint record: %w", err))
	}
	errs = append(errs, m.syncFirewall(nets))
	return errors.Join(errs...)
}

// upLocked makes a network ready for a container: its bridge (or VLAN
// parent), its rules and its resolver. The caller holds the lock.
func (m *Manager) upLocked(n *Network) error {
	pool, err := n.pool()
	if err != nil {
		return err
	}
	switch n.Driver {
	case "bridge":
		if err := links.EnsureBridge(n.bridge(), netip.PrefixFrom(pool.Gateway, pool.Subnet.Bits())); err != nil {
			return err
		}
	case "macvlan":
		if parent, vlan, ok := strings.Cut(n.Options["parent"], "."); ok {
			var id int
			fmt.Sscan(vlan, &id)
			// The intent is written first: killed right after making the
			// sub-interface, network rm still knows it is ours.
			if !links.Exists(n.Options["parent"]) && n.Options["minibox.vlan-created"] == "" {
				n.Options["minibox.vlan-created"] = n.Options["parent"]
				if err := m.save(n); err != nil {
					return err
				}
			}
			if _, _, err := links.EnsureVLAN(parent, id); err != nil {
				return err
			}
		}
	}
	nets, err := m.list()
	if err != nil {
		return err
	}
	if err := m.syncFirewall(nets); err != nil {
		return err
	}
	// A macvlan network's resolver comes after the container's plug
	// (startMacvlanResolvers), so a --ip at the pool's end still wins.
	if n.resolves() && n.Driver != "macvlan" {
		return m.startResolver(n)
	}
	return nil
}

// downLocked undoes upLocked for a network nobody uses.
func (m *Manager) downLocked(n *Network) error {
	var errs []error
	errs = append(errs, m.stopResolver(n))
	if n.Driver == "bridge" {
		errs = append(errs, deleteLink(n.bridge()))
	}
	return errors.Join(errs...)
}

// syncFirewall makes the firewall match the bridge networks in use.
func (m *Manager) syncFirewall(nets []*Network) error {
	var fw []firewall.Net
	for _, n := range nets {
		if n.Driver != "bridge" {
			continue
		}
		users, err := m.users(n.ID)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			continue
		}
		pool, err := n.pool()
		if err != nil {
			return err
		}
		fw = append(fw, firewall.Net{Name: n.Name, Bridge: n.bridge(), Subnet: pool.Subnet, Internal: n.Internal, Gateway: pool.Gateway})
	}
	if err := firewall.Sync(fw); err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	return nil
}

func (m *Manager) parent(n *Network) string { return n.Options["parent"] }

// hostIf names the host end of a container's veth on a network, the same
// every time, so that Detach finds it without any record.
func hostIf(cid, nid string) string {
	h := sha256.Sum256([]byte(cid + nid))
	return "veth" + hex.EncodeToString(h[:])[:7]
}

func endpointID(cid, nid string) string {
	h := sha256.Sum256([]byte("endpoint" + cid + nid))
	return hex.EncodeToString(h[:])
}

func (m *Manager) recordFile(cid string) string {
	return filepath.Join(m.execRoot, "endpoints", cid+".json")
}

func (m *Manager) record(cid string) (*Record, error) {
	data, err := os.ReadFile(m.recordFile(cid))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read the endpoint record of %s: %w", cid[:12], err)
	}
	return &r, nil
}

func (m *Manager) saveRecord(r *Record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(m.recordFile(r.ContainerID), data, 0o644); err != nil {
		return fmt.Errorf("save the endpoint record: %w", err)
	}
	return nil
}

// endpoints are all records (the resolver's and inspect's view).
func (m *Manager) endpoints() ([]*Record, error) {
	dir := filepath.Join(m.execRoot, "endpoints")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	var out []*Record
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue
		}
		r, err := m.record(strings.TrimSuffix(name, ".json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func deleteLink(name string) error { return links.DeleteLink(name) }

func linkExists(name string) bool { return links.Exists(name) }

func macvlanModeOK(mode string) (string, error) {
	switch mode {
	case "", "bridge", "private", "vepa", "passthru":
		return mode, nil
	}
	return "", fmt.Errorf("-o macvlan_mode=%s: not one of bridge, private, vepa, passthru", mode)
}

// SetProgram names the program the resolver runs as (the engine's Self).
func (m *Manager) SetProgram(self string) { m.self = self }
