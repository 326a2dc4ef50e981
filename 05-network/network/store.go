// Package network is lesson 05's Networks for the engine: the network
// records `network create` makes (Docker's inspect shape), and Attach and
// Detach, which build a container's namespace, veth or macvlan interfaces,
// addresses, routes, /etc files, firewall rules and the network's resolver
// at every start, and take them all down again when it stops.
//
// Everything lives in files, so that any minibox process can do its part:
//
//	DATA/networks/nets/ID.json        a network
//	DATA/networks/ipam/               the address allocator's records
//	DATA/networks/lock                held to change networks, bridges, rules, resolvers
//	EXEC/endpoints/CID.json           a running container's attachments (the resolver
//	                                  reads them; under EXEC, so a reboot forgets them)
//	EXEC/netns/CID                    a container's network namespace
//	EXEC/networks/ID/resolver.pid     the network's resolver
//	EXEC/netfiles/CID/                its hosts, hostname, resolv.conf
package network

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"minibox/05-network/ipam"
	"minibox/internal/atomicfile"
	"minibox/internal/filelock"
)

// Network is one network as `network inspect` prints it.
type Network struct {
	Name       string
	ID         string `json:"Id"`
	Created    time.Time
	Scope      string
	Driver     string // bridge, macvlan, host, null
	EnableIPv6 bool
	IPAM       IPAM
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigOnly bool
	Containers map[string]EndpointResource
	Options    map[string]string
	Labels     map[string]string
}

// IPAM is a network's address management, as Docker prints it.
type IPAM struct {
	Driver  string
	Options map[string]string
	Config  []IPAMConfig
}

// IPAMConfig is one address pool.
type IPAMConfig struct {
	Subnet  string `json:",omitempty"`
	IPRange string `json:",omitempty"`
	Gateway string `json:",omitempty"`
}

// EndpointResource is one container in `network inspect`'s Containers.
type EndpointResource struct {
	Name        string
	EndpointID  string
	MacAddress  string
	IPv4Address string
	IPv6Address string
}

// The predefined networks, as in Docker: they always exist and cannot be
// removed.
const (
	DefaultName   = "bridge"
	DefaultBridge = "minibox0"
	bridgeNameOpt = "com.docker.network.bridge.name"
)

// CreateRequest is what `network create` asks for.
type CreateRequest struct {
	Name     string
	Driver   string // "" = bridge
	Subnet   string
	Gateway  string
	IPRange  string
	Internal bool
	Options  map[string]string
	Labels   map[string]string
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Create makes a network record. Bridge networks get a subnet of Docker's
// default pools that overlaps no route, address and other network of this
// host unless --subnet says which; their bridge is made when the first
// container joins and removed with the last (as podman's netavark does),
// so an unused network costs nothing in the kernel.
func (m *Manager) Create(r CreateRequest) (*Network, error) {
	if !validName.MatchString(r.Name) {
		return nil, fmt.Errorf("invalid network name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", r.Name)
	}
	if r.Driver == "" {
		r.Driver = "bridge"
	}
	switch r.Driver {
	case "bridge", "macvlan":
	case "host", "null", "none":
		return nil, fmt.Errorf("only one instance of %q network is allowed", r.Driver)
	default:
		return nil, fmt.Errorf("plugin %q not found: minibox knows the drivers bridge and macvlan", r.Driver)
	}
	if r.Subnet == "" && (r.Gateway != "" || r.IPRange != "") {
		return nil, errors.New("--gateway and --ip-range need --subnet")
	}
	l, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	// The predefined networks first: the default bridge takes the first
	// free pool (172.17.0.0/16 on most hosts), as in Docker.
	if err := m.ensureDefaults(); err != nil {
		return nil, err
	}
	nets, err := m.list()
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if n.Name == r.Name {
			return nil, fmt.Errorf("network with name %s already exists", r.Name)
		}
	}
	opts := map[string]string{}
	for k, v := range r.Options {
		opts[k] = v
	}
	n := &Network{Name: r.Name, ID: newID(), Created: time.Now().UTC(), Scope: "local", Driver: r.Driver,
		Internal: r.Internal, Options: opts, Labels: r.Labels, IPAM: IPAM{Driver: "default", Options: map[string]string{}}}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	switch r.Driver {
	case "bridge":
		if name, ok := opts[bridgeNameOpt]; ok {
			if len(name) == 0 || len(name) > 15 {
				return nil, fmt.Errorf("bridge name %q must be 1 to 15 characters (the kernel's IFNAMSIZ)", name)
			}
			for _, o := range nets {
				if o.bridge() == name {
					return nil, fmt.Errorf("bridge name %s is used by network %s", name, o.Name)
				}
			}
			// minibox makes its bridges and removes them: one that is
			// there already is somebody else's (the host's br0, docker0).
			if linkExists(name) {
				return nil, fmt.Errorf("bridge name %s: an interface of that name exists on this host; minibox makes and removes its own bridges, choose another name", name)
			}
		}
		for k := range opts {
			if k != bridgeNameOpt {
				return nil, fmt.Errorf("option %s is not known to the bridge driver (known: %s)", k, bridgeNameOpt)
			}
		}
	case "macvlan":
		parent := opts["parent"]
		if parent == "" {
			return nil, errors.New("the macvlan driver needs -o parent=INTERFACE (minibox does not make a dummy parent)")
		}
		if !validIfName(parent) {
			return nil, fmt.Errorf("-o parent=%s: not an interface name (IF or IF.VLAN)", parent)
		}
		if _, err := macvlanModeOK(opts["macvlan_mode"]); err != nil {
			return nil, err
		}
		for k := range opts {
			if k != "parent" && k != "macvlan_mode" {
				return nil, fmt.Errorf("option %s is not known to the macvlan driver (known: parent, macvlan_mode)", k)
			}
		}
	}
	pool, err := m.choosePool(r, nets)
	if err != nil {
		return nil, err
	}
	cfg := IPAMConfig{Subnet: pool.Subnet.String(), Gateway: pool.Gateway.String()}
	if pool.IPRange.IsValid() {
		cfg.IPRange = pool.IPRange.String()
	}
	n.IPAM.Config = []IPAMConfig{cfg}
	if err := m.save(n); err != nil {
		return nil, err
	}
	return n, nil
}

// choosePool checks a given --subnet against the other bridge networks
// (macvlan subnets are a physical network's: they may overlap) or picks
// one that overlaps nothing.
func (m *Manager) choosePool(r CreateRequest, nets []*Network) (ipam.Pool, error) {
	var used, bridges []netip.Prefix
	for _, n := range nets {
		if p, ok := n.subnet(); ok {
			used = append(used, p) // a pick avoids every network's
			if n.Driver == "bridge" {
				bridges = append(bridges, p)
			}
		}
	}
	if r.Subnet != "" {
		pool, err := ipam.ParsePool(r.Subnet, r.Gateway, r.IPRange)
		if err != nil {
			return pool, err
		}
		if r.Driver == "bridge" {
			for _, u := range bridges {
				if u.Overlaps(pool.Subnet) {
					return pool, fmt.Errorf("Pool overlaps with other one on this address space: %s overlaps %s", pool.Subnet, u)
				}
			}
		}
		return pool, nil
	}
	routes, err := ipam.UsedPrefixes()
	if err != nil {
		return ipam.Pool{}, err
	}
	subnet, err := ipam.ChooseSubnet(append(used, routes...))
	if err != nil {
		return ipam.Pool{}, err
	}
	return ipam.ParsePool(subnet.String(), "", "")
}

// Get finds a network by name, full ID or unique ID prefix, as Docker does.
func (m *Manager) Get(ref string) (*Network, error) {
	nets, err := m.List()
	if err != nil {
		return nil, err
	}
	return find(nets, ref)
}

// ErrNotFound is wrapped by the error of a network that does not exist.
var ErrNotFound = errors.New("not found")

func find(nets []*Network, ref string) (*Network, error) {
	for _, n := range nets {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
	}
	var found []*Network
	for _, n := range nets {
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("network %s %w", ref, ErrNotFound)
	}
	return nil, fmt.Errorf("network %s is ambiguous (%d matches found based on ID prefix)", ref, len(found))
}

// List returns every network, the predefined ones first (made on first
// use), then by name.
func (m *Manager) List() ([]*Network, error) {
	nets, err := m.list()
	if err != nil {
		return nil, err
	}
	if len(nets) < 3 || !m.hasDefaults(nets) {
		l, err := m.lock()
		if err != nil {
			return nil, err
		}
		err = m.ensureDefaults()
		l.Unlock()
		if err != nil {
			return nil, err
		}
		if nets, err = m.list(); err != nil {
			return nil, err
		}
	}
	eps, err := m.endpoints()
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		n.Containers = map[string]EndpointResource{}
		for _, ep := range eps {
			if a, ok := ep.Networks[n.ID]; ok && a.IP != "" {
				n.Containers[ep.ContainerID] = EndpointResource{Name: ep.Name, EndpointID: a.EndpointID,
					MacAddress: a.MAC, IPv4Address: fmt.Sprintf("%s/%d", a.IP, a.PrefixLen), IPv6Address: ""}
			}
		}
	}
	return nets, nil
}

func (m *Manager) hasDefaults(nets []*Network) bool {
	have := 0
	for _, n := range nets {
		if n.predefined() {
			have++
		}
	}
	return have == 3
}

// ensureDefaults makes the records of bridge, host and none; the caller
// holds the lock.
func (m *Manager) ensureDefaults() error {
	nets, err := m.list()
	if err != nil {
		return err
	}
	has := map[string]bool{}
	for _, n := range nets {
		if n.predefined() {
			has[n.Name] = true
		}
	}
	for _, d := range []struct{ name, driver string }{{"bridge", "bridge"}, {"host", "host"}, {"none", "null"}} {
		if has[d.name] {
			continue
		}
		n := &Network{Name: d.name, ID: newID(), Created: time.Now().UTC(), Scope: "local", Driver: d.driver,
			Options: map[string]string{}, Labels: map[string]string{}, IPAM: IPAM{Driver: "default", Options: map[string]string{}}}
		if d.name == "bridge" {
			n.Options[bridgeNameOpt] = DefaultBridge
			pool, err := m.choosePool(CreateRequest{Driver: "bridge"}, nets)
			if err != nil {
				return err
			}
			n.IPAM.Config = []IPAMConfig{{Subnet: pool.Subnet.String(), Gateway: pool.Gateway.String()}}
		}
		if err := m.save(n); err != nil {
			return err
		}
		nets = append(nets, n)
	}
	return nil
}

// Remove removes networks; one with running containers is refused with
// Docker's words, and so are the predefined ones.
func (m *Manager) Remove(ref string) error {
	l, err := m.lock()
	if err != nil {
		return err
	}
	defer l.Unlock()
	nets, err := m.list()
	if err != nil {
		return err
	}
	n, err := find(nets, ref)
	if err != nil {
		return err
	}
	if n.predefined() {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	in, err := m.users(n.ID)
	if err != nil {
		return err
	}
	if len(in) > 0 {
		return fmt.Errorf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID)
	}
	return m.removeLocked(n)
}

func (m *Manager) removeLocked(n *Network) error {
	if err := m.downLocked(n); err != nil {
		return err
	}
	if n.Options["minibox.vlan-created"] != "" {
		if err := deleteLink(n.Options["minibox.vlan-created"]); err != nil {
			return err
		}
	}
	if err := m.ipam.ReleaseAll(n.ID); err != nil {
		return err
	}
	if err := os.Remove(m.netFile(n.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	os.RemoveAll(filepath.Join(m.execRoot, "networks", n.ID))
	nets, err := m.list()
	if err != nil {
		return err
	}
	return m.syncFirewall(nets)
}

// Prune removes every user network no running container uses and returns
// their names.
func (m *Manager) Prune(keep func(*Network) bool) ([]string, error) {
	l, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	nets, err := m.list()
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, n := range nets {
		if n.predefined() || (keep != nil && keep(n)) {
			continue
		}
		in, err := m.users(n.ID)
		if err != nil {
			return gone, err
		}
		if len(in) > 0 {
			continue
		}
		if err := m.removeLocked(n); err != nil {
			return gone, err
		}
		gone = append(gone, n.Name)
	}
	sort.Strings(gone)
	return gone, nil
}

// users are the containers with an endpoint on the network.
func (m *Manager) users(netID string) ([]string, error) {
	eps, err := m.endpoints()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, ep := range eps {
		if _, ok := ep.Networks[netID]; ok {
			ids = append(ids, ep.ContainerID)
		}
	}
	return ids, nil
}

func (n *Network) predefined() bool {
	return (n.Name == "bridge" && n.Options[bridgeNameOpt] == DefaultBridge) ||
		(n.Name == "host" && n.Driver == "host") || (n.Name == "none" && n.Driver == "null")
}

// bridge is the Linux bridge of a bridge network: Docker's br-ID[:12]
// unless an option names it.
func (n *Network) bridge() string {
	if n.Driver != "bridge" {
		return ""
	}
	if b := n.Options[bridgeNameOpt]; b != "" {
		return b
	}
	return "br-" + n.ID[:12]
}

func (n *Network) subnet() (netip.Prefix, bool) {
	if len(n.IPAM.Config) == 0 {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(n.IPAM.Config[0].Subnet)
	return p, err == nil
}

func (n *Network) pool() (ipam.Pool, error) {
	if len(n.IPAM.Config) == 0 {
		return ipam.Pool{}, fmt.Errorf("network %s has no address pool", n.Name)
	}
	c := n.IPAM.Config[0]
	return ipam.ParsePool(c.Subnet, c.Gateway, c.IPRange)
}

func (m *Manager) netFile(id string) string {
	return filepath.Join(m.dataRoot, "networks", "nets", id+".json")
}

func (m *Manager) save(n *Network) error {
	c := *n
	c.Containers = nil
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(m.netFile(n.ID), data, 0o644); err != nil {
		return fmt.Errorf("save network %s: %w", n.Name, err)
	}
	return nil
}

func (m *Manager) list() ([]*Network, error) {
	dir := filepath.Join(m.dataRoot, "networks", "nets")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var nets []*Network
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read network: %w", err)
		}
		var n Network
		if err := json.Unmarshal(data, &n); err != nil {
			return nil, fmt.Errorf("read network %s: %w", e.Name(), err)
		}
		nets = append(nets, &n)
	}
	order := map[string]int{"bridge": 0, "host": 1, "none": 2}
	slices.SortFunc(nets, func(a, b *Network) int {
		oa, okA := order[a.Name]
		ob, okB := order[b.Name]
		switch {
		case okA && a.predefined() && okB && b.predefined():
			return oa - ob
		case okA && a.predefined():
			return -1
		case okB && b.predefined():
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return nets, nil
}

func (m *Manager) lock() (*filelock.Lock, error) {
	return filelock.Exclusive(filepath.Join(m.dataRoot, "networks", "lock"))
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var ifName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,15}(\.[0-9]{1,4})?$`)

func validIfName(s string) bool { return ifName.MatchString(s) && len(s) <= 15 }
