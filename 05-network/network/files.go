package network

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"minibox/04-storage/engine"
	"minibox/05-network/resolver"
)

// The three files every container gets, as Docker gives them: they are
// bind-mounted over the image's, so the image is never changed and the
// engine can rewrite them while the container runs (connect, disconnect).
var etcFiles = []string{"hosts", "hostname", "resolv.conf"}

func (m *Manager) filesDir(cid string) string { return filepath.Join(m.execRoot, "netfiles", cid) }

// writeFiles writes hosts, hostname and resolv.conf for the container and
// returns their bind mounts. On a user network resolv.conf names the
// network's resolver (its gateway); elsewhere it is the host's, without
// the servers on the host's loopback, which a container cannot reach.
func (m *Manager) writeFiles(c *engine.Container, rec *Record, host bool) ([]specs.Mount, error) {
	dir := m.filesDir(c.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("make %s: %w", dir, err)
	}
	hostConf, err := os.ReadFile(m.HostResolvConf)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read the host's resolv.conf: %w", err)
	}
	hostname := c.Config.Hostname
	var hosts, resolv []byte
	if host {
		hostname, _ = os.Hostname()
		hosts, err = os.ReadFile("/etc/hosts")
		if err != nil {
			return nil, fmt.Errorf("read the host's /etc/hosts: %w", err)
		}
		resolv = resolver.ResolvConf(hostConf, c.HostConfig.Dns, c.HostConfig.DnsSearch, c.HostConfig.DnsOptions, "")
		if len(c.HostConfig.Dns) == 0 && len(c.HostConfig.DnsSearch) == 0 && len(c.HostConfig.DnsOptions) == 0 {
			resolv = hostConf // the host's own view: its loopback servers are reachable
		}
	} else {
		var ips []netip.Addr
		nameserver := ""
		if rec != nil {
			for _, a := range rec.ordered() {
				if ip, err := netip.ParseAddr(a.IP); err == nil {
					ips = append(ips, ip)
				}
			}
			nameserver = m.nameserver(rec)
		}
		hosts = resolver.Hosts(hostname, ips, c.HostConfig.ExtraHosts, m.hostGateway(rec))
		resolv = resolver.ResolvConf(hostConf, c.HostConfig.Dns, c.HostConfig.DnsSearch, c.HostConfig.DnsOptions, nameserver)
	}
	contents := map[string][]byte{"hosts": hosts, "hostname": []byte(hostname + "\n"), "resolv.conf": resolv}
	var mounts []specs.Mount
	for _, name := range etcFiles {
		// Written in place, never renamed over: a bind mount holds the
		// inode, and a new file under the same name would not be seen
		// inside the container.
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, contents[name], 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		mounts = append(mounts, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: p, Options: []string{"rbind", "rprivate"}})
	}
	return mounts, nil
}

// sharedFiles are the files of the container whose namespace is shared.
func (m *Manager) sharedFiles(ref string) ([]specs.Mount, error) {
	if m.Lookup == nil {
		return nil, nil
	}
	other, err := m.Lookup(ref)
	if err != nil {
		return nil, err
	}
	var mounts []specs.Mount
	for _, name := range etcFiles {
		p := filepath.Join(m.filesDir(other.ID), name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		mounts = append(mounts, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: p, Options: []string{"rbind", "rprivate"}})
	}
	return mounts, nil
}

// hostGateway is what --add-host NAME:host-gateway stands for: the host
// as the container reaches it. That is the host's address on the
// container's first bridge network (its gateway, the bridge's own address);
// without one (macvlan only: the parent's host cannot be reached from its
// macvlan children), the default bridge's gateway, which is what Docker
// writes when dockerd has no --host-gateway-ip.
func (m *Manager) hostGateway(rec *Record) netip.Addr {
	nets, err := m.list()
	if err != nil {
		return netip.Addr{}
	}
	driver := map[string]string{}
	for _, n := range nets {
		driver[n.Name] = n.Driver
	}
	if rec != nil {
		for _, a := range rec.ordered() {
			if driver[a.Network] != "bridge" {
				continue
			}
			if ip, err := netip.ParseAddr(a.Gateway); err == nil {
				return ip
			}
		}
	}
	for _, n := range nets {
		if n.Name == DefaultName {
			if pool, err := n.pool(); err == nil {
				return pool.Gateway
			}
		}
	}
	return netip.Addr{}
}

// nameserver is the resolver a container asks: that of its first network
// with one ("" when it has none: the host's servers then).
func (m *Manager) nameserver(rec *Record) string {
	nets, err := m.list()
	if err != nil {
		return ""
	}
	for _, a := range rec.ordered() {
		for _, n := range nets {
			if n.Name == a.Network && n.resolves() {
				if ip, ok := m.resolverAddr(n); ok {
					return ip.String()
				}
			}
		}
	}
	return ""
}

// rewriteFiles rewrites a running container's /etc/hosts and
// /etc/resolv.conf after connect or disconnect, in place (see writeFiles).
func (m *Manager) rewriteFiles(c *engine.Container, rec *Record) error {
	var ips []netip.Addr
	for _, a := range rec.ordered() {
		if ip, err := netip.ParseAddr(a.IP); err == nil {
			ips = append(ips, ip)
		}
	}
	dir := m.filesDir(c.ID)
	if _, err := os.Stat(filepath.Join(dir, "hosts")); err != nil {
		return nil // host, none or container: mode: nothing of ours
	}
	hostConf, err := os.ReadFile(m.HostResolvConf)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read the host's resolv.conf: %w", err)
	}
	resolv := resolver.ResolvConf(hostConf, c.HostConfig.Dns, c.HostConfig.DnsSearch, c.HostConfig.DnsOptions, m.nameserver(rec))
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), resolv, 0o644); err != nil {
		return fmt.Errorf("rewrite resolv.conf: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "hosts"), resolver.Hosts(c.Config.Hostname, ips, c.HostConfig.ExtraHosts, m.hostGateway(rec)), 0o644)
}

// upstreams are the servers the resolver forwards a container's other
// names to: --dns, else the host's (its loopback ones too: the resolver
// runs in the host's namespace).
func (m *Manager) upstreams(c *engine.Container) []string {
	hostConf, _ := os.ReadFile(m.HostResolvConf)
	return resolver.Upstreams(hostConf, c.HostConfig.Dns)
}

// ordered are the attachments in interface order (eth0 first).
func (r *Record) ordered() []*Attachment {
	out := make([]*Attachment, 0, len(r.Networks))
	for _, a := range r.Networks {
		out = append(out, a)
	}
	sortAttachments(out)
	return out
}
