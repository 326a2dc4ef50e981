package network

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"minibox/04-storage/engine"
	"minibox/05-network/links"
	"minibox/05-network/portmap"
)

// Connect adds the container to a network, as `network connect` does: a
// stopped container only records it (its next start attaches it); a
// running one gets its next ethN now, without a restart (the namespace
// outlives any change of its interfaces). ip and aliases are --ip and
// --alias.
func (m *Manager) Connect(c *engine.Container, running bool, ref, ip string, aliases []string) error {
	n, err := m.Get(ref)
	if err != nil {
		return err
	}
	mode := c.HostConfig.NetworkMode
	if mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:") {
		return fmt.Errorf("container cannot be disconnected from host network or connected to host network: its network mode is %s", mode)
	}
	if n.Driver == "host" || n.Driver == "null" {
		return fmt.Errorf("container cannot be disconnected from host network or connected to host network")
	}
	if (ip != "" || len(aliases) > 0) && n.Name == DefaultName {
		return fmt.Errorf("user specified IP address and aliases are supported on user defined networks only")
	}
	if ip != "" {
		pool, err := n.pool()
		if err != nil {
			return err
		}
		if a, err := netip.ParseAddr(ip); err != nil || !pool.Subnet.Contains(a) {
			return fmt.Errorf("invalid IPv4 address %s: not in network %s's subnet %s", ip, n.Name, pool.Subnet)
		}
	}
	if es, ok := c.NetworkSettings.Networks[n.Name]; ok && (es.IPAddress != "" || !running) || modeIs(c, n) {
		return fmt.Errorf("endpoint with name %s already exists in network %s", c.Name, n.Name)
	}
	es := &engine.EndpointSettings{NetworkID: n.ID, Aliases: aliases}
	if ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("invalid IPv4 address: %s", ip)
		}
		es.IPAMConfig = &engine.EndpointIPAMConfig{IPv4Address: ip}
	}
	if !running {
		if c.NetworkSettings.Networks == nil {
			c.NetworkSettings.Networks = map[string]*engine.EndpointSettings{}
		}
		c.NetworkSettings.Networks[n.Name] = es
		return nil
	}
	l, err := m.lock()
	if err != nil {
		return err
	}
	rec, err := m.record(c.ID)
	if err != nil {
		l.Unlock()
		return fmt.Errorf("container %s has no network namespace of its own: %w", c.Name, err)
	}
	used := map[string]bool{}
	for _, a := range rec.Networks {
		used[a.IfName] = true
	}
	ifn := ""
	for i := 0; ifn == ""; i++ {
		if name := "eth" + strconv.Itoa(i); !used[name] {
			ifn = name
		}
	}
	a := &Attachment{Network: n.Name, IfName: ifn, HostIf: hostIf(c.ID, n.ID)}
	rec.Networks[n.ID] = a
	if err := m.saveRecord(rec); err != nil {
		l.Unlock()
		return err
	}
	err = m.upLocked(n)
	l.Unlock()
	if err == nil {
		err = m.plug(c, n, es, a, c.NetworkSettings.SandboxKey, false)
	}
	if err == nil {
		err = m.saveRecord(rec)
	}
	if err == nil {
		err = m.startMacvlanResolvers([]*Network{n})
	}
	if err != nil {
		m.unplug(c, rec, n)
		return err
	}
	c.NetworkSettings.Networks[n.Name] = es
	return m.rewriteFiles(c, rec)
}

func modeIs(c *engine.Container, n *Network) bool {
	mode := c.HostConfig.NetworkMode
	if mode == "default" {
		mode = DefaultName
	}
	return mode == n.Name || mode == n.ID
}

// Disconnect takes the container off a network; a running one loses the
// interface now. force is Docker's --force: an endpoint that cannot be
// taken down cleanly is dropped anyway. That is a network removed since a
// stopped container was connected to it (its name stays in the container's
// config and its next start would fail on it), a running container whose
// attachment record is gone, or an interface that will not go: the config
// loses the network without an error. eth0 of a running container is still
// refused (force does not move the default route).
func (m *Manager) Disconnect(c *engine.Container, running bool, ref string, force bool) error {
	n, err := m.Get(ref)
	if err != nil {
		if name, ok := staleEntry(c, ref); force && ok && errors.Is(err, ErrNotFound) {
			forget(c, name, c.HostConfig.NetworkMode == name)
			return nil
		}
		return err
	}
	mode := c.HostConfig.NetworkMode
	if n.Driver == "host" || n.Driver == "null" || mode == "host" || mode == "none" || strings.HasPrefix(mode, "container:") {
		return fmt.Errorf("container cannot be disconnected from host network or connected to host network")
	}
	if _, ok := c.NetworkSettings.Networks[n.Name]; !ok && !modeIs(c, n) {
		return fmt.Errorf("container %s is not connected to network %s", c.Name, n.Name)
	}
	if running {
		rec, err := m.record(c.ID)
		switch {
		case err != nil && !force:
			return fmt.Errorf("container %s is not attached now (is it restarting?): %w", c.Name, err)
		case err != nil && modeIs(c, n):
			return fmt.Errorf("container %s is running on %s as its first network: stop it to disconnect it", c.Name, n.Name)
		case err == nil:
			// eth0 carries the default route, the resolver the container
			// asks and its published ports: minibox does not move those to
			// another network while it runs.
			if a, ok := rec.Networks[n.ID]; ok && a.IfName == "eth0" {
				return fmt.Errorf("container %s is running on %s as its first network (eth0: its default route, resolver and published ports): stop it to disconnect it", c.Name, n.Name)
			}
			if err := m.unplug(c, rec, n); err != nil && !force {
				return err
			}
			if err := m.rewriteFiles(c, rec); err != nil && !force {
				return err
			}
		}
	}
	forget(c, n.Name, modeIs(c, n))
	return nil
}

// staleEntry finds the config's name for a network that no longer exists:
// ref is the name the container was connected under, or the network's ID
// (or its prefix) recorded in the endpoint.
func staleEntry(c *engine.Container, ref string) (string, bool) {
	if ref == "" {
		return "", false
	}
	if _, ok := c.NetworkSettings.Networks[ref]; ok {
		return ref, true
	}
	var byID []string
	for name, es := range c.NetworkSettings.Networks {
		if es != nil && es.NetworkID != "" && strings.HasPrefix(es.NetworkID, ref) {
			byID = append(byID, name)
		}
	}
	if len(byID) == 1 {
		return byID[0], true
	}
	if mode := c.HostConfig.NetworkMode; mode == ref && mode != "host" && mode != "none" && mode != "default" && !strings.HasPrefix(mode, "container:") {
		return mode, true
	}
	return "", false
}

// forget removes the network name from the container's config. When it is
// the network mode (isMode), Docker keeps a mode: the container starts with
// no network of that name any more, so the mode becomes its next network,
// or none.
func forget(c *engine.Container, name string, isMode bool) {
	delete(c.NetworkSettings.Networks, name)
	if !isMode {
		return
	}
	c.HostConfig.NetworkMode = "none"
	if len(c.NetworkSettings.Networks) > 0 {
		names := make([]string, 0, len(c.NetworkSettings.Networks))
		for name := range c.NetworkSettings.Networks {
			names = append(names, name)
		}
		slices.Sort(names)
		c.HostConfig.NetworkMode = names[0]
		delete(c.NetworkSettings.Networks, names[0])
		c.NetworkSettings.Networks[names[0]] = &engine.EndpointSettings{}
	}
}

// unplug removes one network's interface of a running container.
func (m *Manager) unplug(c *engine.Container, rec *Record, n *Network) error {
	a, ok := rec.Networks[n.ID]
	if !ok {
		return nil
	}
	var err error
	if n.Driver == "bridge" {
		err = links.DeleteLink(a.HostIf)
	} else {
		err = errors.Join(links.RemoveIf(c.NetworkSettings.SandboxKey, a.IfName), links.RemoveIf(c.NetworkSettings.SandboxKey, a.HostIf))
	}
	if err != nil {
		// The record keeps the attachment and IPAM its address: the
		// interface may still hold it, and Detach tries again at the end.
		return fmt.Errorf("take %s off network %s: %w", c.Name, n.Name, err)
	}
	errs := []error{m.ipam.Release(n.ID, c.ID)}
	delete(rec.Networks, n.ID)
	l, err := m.lock()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	errs = append(errs, m.saveRecord(rec))
	if users, err := m.users(n.ID); err == nil && len(users) == 0 {
		errs = append(errs, m.downLocked(n))
	}
	if nets, err := m.list(); err == nil {
		errs = append(errs, m.syncFirewall(nets))
	}
	l.Unlock()
	return errors.Join(errs...)
}

// Publish opens the container's published ports: -p's bindings and, with
// -P, every exposed port on a free port of 32768-61000. The proxy runs in
// the container's monitor (in the host's namespace) and forwards to the
// container's address on its first network; see the chapter for why a
// proxy and not DNAT rules.
func (m *Manager) Publish(c *engine.Container) (io.Closer, error) {
	target, ok := m.primaryIP(c)
	ports := map[string][]engine.PortBinding{}
	for k := range c.Config.ExposedPorts {
		ports[k] = nil
	}
	if !ok || (len(c.HostConfig.PortBindings) == 0 && !c.HostConfig.PublishAllPorts) {
		if len(ports) > 0 && ok {
			c.NetworkSettings.Ports = ports
		}
		return nopCloser{}, nil
	}
	var bs []portmap.Binding
	keys := make([]string, 0, len(c.HostConfig.PortBindings))
	for k := range c.HostConfig.PortBindings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		port, proto, err := splitKey(k)
		if err != nil {
			return nil, err
		}
		for _, pb := range c.HostConfig.PortBindings[k] {
			b := portmap.Binding{ContainerPort: port, Proto: proto}
			if pb.HostIP != "" {
				ip, err := netip.ParseAddr(pb.HostIP)
				if err != nil {
					return nil, fmt.Errorf("invalid host IP %q for port %s", pb.HostIP, k)
				}
				if !ip.IsUnspecified() {
					b.HostIP = ip
				}
			}
			if b.HostPort, b.HostPortEnd, err = hostPorts(pb.HostPort); err != nil {
				return nil, err
			}
			if b.HostPortEnd == b.HostPort {
				b.HostPortEnd = 0
			}
			bs = append(bs, b)
		}
	}
	if c.HostConfig.PublishAllPorts {
		var exposed []string
		for k := range c.Config.ExposedPorts {
			if _, bound := c.HostConfig.PortBindings[k]; !bound {
				exposed = append(exposed, k)
			}
		}
		slices.Sort(exposed)
		all, err := portmap.PublishAll(exposed, func(string, uint16) bool { return false })
		if err != nil {
			return nil, err
		}
		for _, b := range all {
			// Listen picks a free one: a port another container's -P holds
			// is skipped, not an error.
			b.HostPort, b.HostPortEnd = 0, 0
			bs = append(bs, b)
		}
	}
	// Every port is bound before anything runs: one taken port fails the
	// start and the others are let go.
	p, got, err := portmap.Listen(bs, target)
	if err != nil {
		return nil, err
	}
	go p.Serve()
	for _, g := range got {
		k := portmap.Key(g.ContainerPort, g.Proto)
		hostIP := "0.0.0.0"
		if g.HostIP.IsValid() {
			hostIP = g.HostIP.String()
		}
		ports[k] = append(ports[k], engine.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(int(g.HostPort))})
	}
	c.NetworkSettings.Ports = ports
	return p, nil
}

func (m *Manager) primaryIP(c *engine.Container) (netip.Addr, bool) {
	rec, err := m.record(c.ID)
	if err != nil {
		return netip.Addr{}, false
	}
	as := rec.ordered()
	if len(as) == 0 {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(as[0].IP)
	return ip, err == nil
}

func splitKey(k string) (uint16, string, error) {
	p, proto, ok := strings.Cut(k, "/")
	if !ok {
		proto = "tcp"
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, "", fmt.Errorf("invalid port %q", k)
	}
	return uint16(n), proto, nil
}

func hostPorts(s string) (lo, hi uint16, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	x, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid host port %q", s)
	}
	if !isRange {
		return uint16(x), uint16(x), nil
	}
	y, err := strconv.ParseUint(b, 10, 16)
	if err != nil || y < x {
		return 0, 0, fmt.Errorf("invalid host port range %q", s)
	}
	return uint16(x), uint16(y), nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
