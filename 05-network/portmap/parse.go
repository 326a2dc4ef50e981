package portmap

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Binding is one published port: a host address and port that lead to a
// port of the container.
type Binding struct {
	HostIP netip.Addr // the zero Addr: every IPv4 address of the host
	// HostPort 0 lets Listen pick one in EphemeralFirst..EphemeralLast.
	HostPort uint16
	// HostPortEnd, when above HostPort, makes HostPort..HostPortEnd a range
	// to pick any one free port from (`-p 8080-8090:80`); 0 otherwise.
	HostPortEnd   uint16
	ContainerPort uint16
	Proto         string // "tcp" or "udp"
}

// The range host ports are picked from when none is given (`-p 80`, `-P`),
// as Docker's port allocator picks them.
const (
	EphemeralFirst = 32768
	EphemeralLast  = 61000
)

// Parse reads one -p/--publish value as `docker run` does, into one Binding
// per container port:
//
//	containerPort[/proto]                  80, 53/udp: a host port is picked
//	hostPort:containerPort[/proto]         8080:80
//	ip:hostPort:containerPort[/proto]      127.0.0.1:8080:80
//	ip::containerPort[/proto]              127.0.0.1::80: a host port is picked
//	h1-h2:c1-c2, c1-c2, ip::c1-c2          ranges of equal length, port by port
//	h1-h2:c                                any one free host port of h1..h2
//	published=8080,target=80,protocol=udp  the long form
//
// Only IPv4 host addresses are taken: minibox's networks are IPv4.
func Parse(spec string) ([]Binding, error) {
	spec, err := longForm(spec)
	if err != nil {
		return nil, err
	}
	// LAB 05.3 BEGIN: split [ip:][hostPort:]containerPort[/proto], read the ranges and pair host and container ports
	// The container port is after the last ':', the host port before it,
	// and whatever is before that is the address.
	rawIP, hostPart, containerPart := "", "", spec
	parts := strings.Split(spec, ":")
	switch n := len(parts); n {
	case 1:
	case 2:
		hostPart, containerPart = parts[0], parts[1]
	default:
		rawIP, hostPart, containerPart = strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
	containerPart, proto := splitProto(containerPart)
	ip, err := parseHostIP(rawIP)
	if err != nil {
		return nil, err
	}
	if containerPart == "" {
		return nil, fmt.Errorf("no port specified: %s<empty>", spec)
	}
	cFirst, cLast, err := portRange(containerPart, false)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", containerPart)
	}
	var hFirst, hLast uint16
	if hostPart != "" {
		if hFirst, hLast, err = portRange(hostPart, true); err != nil {
			return nil, fmt.Errorf("invalid hostPort: %s", hostPart)
		}
	}
	// Two ranges pair port by port, so they must be as long as each other;
	// a host range for one container port is a choice of host ports.
	cLen, hLen := cLast-cFirst, hLast-hFirst
	if hostPart != "" && cLen != hLen && cLen != 0 {
		return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPart, hostPart)
	}
	if err := checkProto(proto); err != nil {
		return nil, err
	}
	bs := make([]Binding, 0, int(cLen)+1)
	for i := 0; i <= int(cLen); i++ {
		b := Binding{HostIP: ip, ContainerPort: cFirst + uint16(i), Proto: proto}
		switch {
		case hostPart == "":
		case cLen == 0 && hLen != 0:
			b.HostPort, b.HostPortEnd = hFirst, hLast
		default:
			b.HostPort = hFirst + uint16(i)
		}
		bs = append(bs, b)
	}
	return bs, nil
	// LAB 05.3 END
	// LAB 05.3 STUB: return nil, lab.Todo("05.3")
}

// ParseExpose reads one --expose value ("80", "80/udp", "8000-8010") into
// the keys of the ports it names ("80/tcp"), as Docker's CLI does.
func ParseExpose(spec string) ([]string, error) {
	if strings.Contains(spec, ":") {
		return nil, fmt.Errorf("invalid port format for --expose: %s", spec)
	}
	port, proto := splitProto(spec)
	first, last, err := portRange(port, false)
	if err != nil {
		return nil, fmt.Errorf("invalid range format for --expose: %s, error: %w", spec, err)
	}
	if err := checkProto(proto); err != nil {
		return nil, err
	}
	keys := make([]string, 0, int(last-first)+1)
	for p := int(first); p <= int(last); p++ {
		keys = append(keys, Key(uint16(p), proto))
	}
	return keys, nil
}

// Key is the name Docker gives a container port in ExposedPorts and
// PortBindings: "80/tcp". An empty proto is tcp.
func Key(port uint16, proto string) string {
	if proto == "" {
		proto = "tcp"
	}
	return strconv.Itoa(int(port)) + "/" + proto
}

// PublishAll is -P: every exposed port ("80/tcp" keys, or a bare "80")
// gets a host port of its own on all addresses, the lowest of
// EphemeralFirst..EphemeralLast that taken does not report (nil: none is
// taken) and that this call did not hand out already. The bindings come in
// port order. A port something outside minibox holds is found by Listen.
func PublishAll(exposed []string, taken func(proto string, port uint16) bool) ([]Binding, error) {
	type port struct {
		num   uint16
		proto string
	}
	var ports []port
	for _, k := range exposed {
		num, proto, err := parseKey(k)
		if err != nil {
			return nil, err
		}
		if p := (port{num, proto}); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	slices.SortFunc(ports, func(a, b port) int { return cmp.Or(cmp.Compare(a.num, b.num), cmp.Compare(a.proto, b.proto)) })
	given := map[string]map[uint16]bool{"tcp": {}, "udp": {}}
	next := map[string]int{"tcp": EphemeralFirst, "udp": EphemeralFirst}
	bs := make([]Binding, 0, len(ports))
	for _, p := range ports {
		host := 0
		for h := next[p.proto]; h <= EphemeralLast; h++ {
			if !given[p.proto][uint16(h)] && (taken == nil || !taken(p.proto, uint16(h))) {
				host = h
				break
			}
		}
		if host == 0 {
			return nil, fmt.Errorf("publish %s: %w", Key(p.num, p.proto), ErrAllPortsAllocated)
		}
		given[p.proto][uint16(host)] = true
		next[p.proto] = host + 1
		bs = append(bs, Binding{HostPort: uint16(host), ContainerPort: p.num, Proto: p.proto})
	}
	return bs, nil
}

// HostBinding is one host side of a published port, the shape of
// engine.PortBinding (Docker's HostIp/HostPort).
type HostBinding struct {
	HostIP   string
	HostPort string
}

// Ports is the NetworkSettings.Ports map of bound bindings: the port's key
// to its host sides, HostIP "0.0.0.0" for all addresses, as Docker records
// them once the ports are bound.
func Ports(bs []Binding) map[string][]HostBinding {
	m := make(map[string][]HostBinding, len(bs))
	for _, b := range bs {
		ip := "0.0.0.0"
		if b.HostIP.IsValid() {
			ip = b.HostIP.String()
		}
		port := strconv.Itoa(int(b.HostPort))
		if b.HostPortEnd > b.HostPort {
			port += "-" + strconv.Itoa(int(b.HostPortEnd))
		}
		k := Key(b.ContainerPort, b.Proto)
		m[k] = append(m[k], HostBinding{HostIP: ip, HostPort: port})
	}
	return m
}

// Format renders ports (NetworkSettings.Ports: a key with no host sides is
// exposed only) as the PORTS column of `docker ps` does: sorted by
// container port, runs of consecutive ports that keep their number on the
// host collapsed ("0.0.0.0:8080-8081->8080-8081/tcp", "80-81/tcp"), the
// other mappings after them one by one ("0.0.0.0:8082->82/tcp"). A host side
// with a port and no address means all addresses; one with no port is not
// published. Keys that are not "port/proto" are left out.
func Format(ports map[string][]HostBinding) string {
	type port struct {
		ip             string // "" when only exposed
		public, privat uint16
		proto          string
	}
	var list []port
	for k, hbs := range ports {
		num, proto, err := parseKey(k)
		if err != nil {
			continue
		}
		published := false
		for _, hb := range hbs {
			if hb.HostPort == "" {
				continue
			}
			first, _, _ := strings.Cut(hb.HostPort, "-")
			pub, err := strconv.ParseUint(first, 10, 16)
			if err != nil {
				continue
			}
			ip := hb.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			list = append(list, port{ip: ip, public: uint16(pub), privat: num, proto: proto})
			published = true
		}
		if !published {
			list = append(list, port{privat: num, proto: proto})
		}
	}
	// Docker's order: container port, then address, host port, protocol.
	slices.SortFunc(list, func(a, b port) int {
		return cmp.Or(cmp.Compare(a.privat, b.privat), cmp.Compare(a.ip, b.ip), cmp.Compare(a.public, b.public), cmp.Compare(a.proto, b.proto))
	})
	// A group is a run of consecutive container ports under one key
	// ("ip/proto", or "proto" when exposed only); Docker writes a group out
	// when a run breaks, the open ones in the order their keys first came,
	// and the mappings that change the port number last.
	type group struct{ first, last uint16 }
	groups := map[string]*group{}
	var keys, result, mappings []string
	form := func(key string, g *group) string {
		ip, proto, ok := strings.Cut(key, "/")
		if !ok {
			ip, proto = "", key
		}
		s := strconv.Itoa(int(g.first))
		if g.last != g.first {
			s += "-" + strconv.Itoa(int(g.last))
		}
		if ip != "" {
			s = ip + ":" + s + "->" + s
		}
		return s + "/" + proto
	}
	for _, p := range list {
		key := p.proto
		if p.ip != "" {
			if p.public != p.privat {
				mappings = append(mappings, fmt.Sprintf("%s:%d->%d/%s", p.ip, p.public, p.privat, p.proto))
				continue
			}
			key = p.ip + "/" + p.proto
		}
		g := groups[key]
		switch {
		case g == nil:
			keys = append(keys, key)
		case p.privat == g.last+1:
			g.last = p.privat
			continue
		default:
			result = append(result, form(key, g))
		}
		groups[key] = &group{p.privat, p.privat}
	}
	for _, k := range keys {
		result = append(result, form(k, groups[k]))
	}
	return strings.Join(append(result, mappings...), ", ")
}

// longForm turns the long syntax of -p ("published=8080,target=80,
// protocol=udp") into the short one, as Docker's CLI does before it parses;
// a value without '=' is returned as it is.
func longForm(spec string) (string, error) {
	if !strings.Contains(spec, "=") {
		return spec, nil
	}
	params := map[string]string{"protocol": "tcp"}
	for _, param := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(param, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", param)
		}
		params[k] = v
	}
	return params["published"] + ":" + params["target"] + "/" + params["protocol"], nil
}

// splitProto splits "80/udp" into "80" and "udp"; no protocol (or an empty
// one, "80/") is tcp. The protocol is lowercased, as Docker does.
func splitProto(s string) (port, proto string) {
	port, proto, _ = strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	return port, strings.ToLower(proto)
}

// checkProto accepts the protocols the proxy carries.
func checkProto(proto string) error {
	switch proto {
	case "tcp", "udp":
		return nil
	case "sctp":
		return errors.New("invalid proto: sctp (minibox publishes tcp and udp)")
	}
	return fmt.Errorf("invalid proto: %s", proto)
}

// parseHostIP reads the address part of -p: empty is all addresses; only
// IPv4 is taken.
func parseHostIP(raw string) (netip.Addr, error) {
	if raw == "" {
		return netip.Addr{}, nil
	}
	s := raw
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid IP address: %s", raw)
	}
	if !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("invalid IP address: %s: minibox publishes ports on IPv4 addresses only", raw)
	}
	return ip, nil
}

// portRange reads "80" or "8000-8010". Port 0 is "pick one" and only a
// single host port may be it (zeroOK); a range starts at 1 at least.
func portRange(s string, zeroOK bool) (first, last uint16, err error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	a, b, isRange := strings.Cut(s, "-")
	first, err = parsePort(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		if first == 0 && !zeroOK {
			return 0, 0, fmt.Errorf("invalid port: %s", s)
		}
		return first, first, nil
	}
	last, err = parsePort(b)
	if err != nil {
		return 0, 0, err
	}
	if first == 0 || last < first {
		return 0, 0, fmt.Errorf("invalid range specified for port: %s", s)
	}
	return first, last, nil
}

// parsePort reads a port number in decimal digits.
func parsePort(s string) (uint16, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("invalid port: %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("invalid port: %q: out of range", s)
	}
	return uint16(n), nil
}

// parseKey reads "80/tcp" (or "80", tcp), a single container port.
func parseKey(k string) (uint16, string, error) {
	port, proto := splitProto(k)
	num, err := parsePort(port)
	if err == nil && num == 0 {
		err = errors.New("port 0")
	}
	if err != nil {
		return 0, "", fmt.Errorf("invalid port %q: %w", k, err)
	}
	if err := checkProto(proto); err != nil {
		return 0, "", fmt.Errorf("invalid port %q: %w", k, err)
	}
	return num, proto, nil
}
