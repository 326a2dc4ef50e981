package commands

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"minibox/04-storage/engine"
	"minibox/05-network/network"
	"minibox/05-network/portmap"
	"minibox/05-network/resolver"
)

// createExt is what lesson 05 adds to run and create.
type createExt struct {
	cli        *CLI
	network    *string
	publish    []string
	publishAll bool
	expose     []string
	ip         string
	aliases    []string
	dns        []string
	dnsSearch  []string
	dnsOptions []string
	addHosts   []string
}

func (x *createExt) AddFlags(fs *pflag.FlagSet, nw *string) {
	x.network = nw
	fs.StringVar(nw, "network", network.DefaultName, "connect the container to a network: bridge, host, none, container:NAME or a network's name")
	fs.Lookup("network").NoOptDefVal = ""
	fs.StringArrayVarP(&x.publish, "publish", "p", nil, "publish a container's port to the host: [IP:][HOSTPORT:]PORT[/udp] (ranges too, repeatable)")
	fs.BoolVarP(&x.publishAll, "publish-all", "P", false, "publish every exposed port to a free port of 32768-61000")
	fs.StringArrayVar(&x.expose, "expose", nil, "expose a port or a range of ports (repeatable)")
	fs.StringVar(&x.ip, "ip", "", "the IPv4 address on the network (user-defined networks only)")
	fs.StringArrayVar(&x.aliases, "network-alias", nil, "a name the container also answers to on its network (repeatable)")
	fs.StringArrayVar(&x.dns, "dns", nil, "set a DNS server (repeatable)")
	fs.StringArrayVar(&x.dnsSearch, "dns-search", nil, "set a DNS search domain (repeatable)")
	fs.StringArrayVar(&x.dnsOptions, "dns-option", nil, "set a resolv.conf option (repeatable)")
	fs.StringArrayVar(&x.addHosts, "add-host", nil, "add a line to /etc/hosts: HOST:IP, or HOST:host-gateway for the host's address on the container's bridge (repeatable)")
}

// Apply checks the flags and writes them into the request; nothing is made
// when one is wrong.
func (x *createExt) Apply(req *engine.CreateRequest) error {
	h := &req.HostConfig
	mode := *x.network
	if mode == "" {
		mode = network.DefaultName
	}
	h.NetworkMode = mode
	user := false // a user-defined network
	switch {
	case mode == "host", mode == "none", mode == "default":
	case strings.HasPrefix(mode, "container:"):
		if strings.TrimPrefix(mode, "container:") == "" {
			return fmt.Errorf("--network container: needs a container's name or ID")
		}
		if len(x.publish) > 0 || x.publishAll {
			return fmt.Errorf("conflicting options: port publishing and the container type network mode")
		}
		if len(x.dns) > 0 || len(x.addHosts) > 0 {
			return fmt.Errorf("conflicting options: dns and the network mode")
		}
	default:
		_, m, err := x.cli.manager()
		if err != nil {
			return err
		}
		n, err := m.Get(mode)
		if err != nil {
			return err
		}
		if n.Driver == "host" || n.Driver == "null" {
			h.NetworkMode = n.Name
		} else {
			user = n.Name != network.DefaultName
			h.NetworkMode = n.Name
		}
	}
	if (x.ip != "" || len(x.aliases) > 0) && !user {
		if x.ip != "" {
			return fmt.Errorf("user specified IP address is supported on user defined networks only")
		}
		return fmt.Errorf("network-scoped alias is supported only for containers in user defined networks")
	}
	if x.ip != "" {
		a, err := netip.ParseAddr(x.ip)
		if err != nil || !a.Is4() {
			return fmt.Errorf("invalid IPv4 address: %s", x.ip)
		}
	}
	if user {
		es := &engine.EndpointSettings{Aliases: x.aliases}
		if x.ip != "" {
			es.IPAMConfig = &engine.EndpointIPAMConfig{IPv4Address: x.ip}
		}
		req.Networks = map[string]*engine.EndpointSettings{h.NetworkMode: es}
	}
	for _, d := range x.dns {
		if _, err := netip.ParseAddr(d); err != nil {
			return fmt.Errorf("invalid argument %q for \"--dns\" flag: %s is not an ip address", d, d)
		}
	}
	for _, a := range x.addHosts {
		// host-gateway is resolved when the container's /etc/hosts is
		// written, on the networks it is attached to then.
		if _, _, err := resolver.ParseAddHost(a); err != nil && !errors.Is(err, resolver.ErrHostGateway) {
			return fmt.Errorf("invalid argument %q for \"--add-host\" flag: %w", a, err)
		}
	}
	h.Dns, h.DnsSearch, h.DnsOptions, h.ExtraHosts = x.dns, x.dnsSearch, x.dnsOptions, x.addHosts
	for _, e := range x.expose {
		keys, err := portmap.ParseExpose(e)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if req.Config.ExposedPorts == nil {
				req.Config.ExposedPorts = map[string]struct{}{}
			}
			req.Config.ExposedPorts[k] = struct{}{}
		}
	}
	if mode == "host" && (len(x.publish) > 0 || x.publishAll) {
		// Docker warns and drops them: the container's ports are the host's.
		x.publish, x.publishAll = nil, false
	}
	for _, p := range x.publish {
		bs, err := portmap.Parse(p)
		if err != nil {
			return err
		}
		if h.PortBindings == nil {
			h.PortBindings = map[string][]engine.PortBinding{}
		}
		for _, b := range bs {
			k := portmap.Key(b.ContainerPort, b.Proto)
			pb := engine.PortBinding{}
			if b.HostIP.IsValid() {
				pb.HostIP = b.HostIP.String()
			}
			if b.HostPort != 0 {
				pb.HostPort = strconv.Itoa(int(b.HostPort))
				if b.HostPortEnd > b.HostPort {
					pb.HostPort += "-" + strconv.Itoa(int(b.HostPortEnd))
				}
			}
			h.PortBindings[k] = append(h.PortBindings[k], pb)
			if req.Config.ExposedPorts == nil {
				req.Config.ExposedPorts = map[string]struct{}{}
			}
			req.Config.ExposedPorts[k] = struct{}{}
		}
	}
	h.PublishAllPorts = x.publishAll
	return nil
}
