package resolver

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// defaultNameservers are what Docker puts in a container's resolv.conf when
// the host's has none that a container can reach (Google's public DNS).
var defaultNameservers = []string{"8.8.8.8", "8.8.4.4"}

// ResolvConf is a container's /etc/resolv.conf, made from the host's (host)
// and the run's --dns, --dns-search and --dns-option, as Docker makes it.
//
// On the default bridge (nameserver "") the container uses the host's
// servers directly, so those it cannot reach are dropped: loopback ones
// (127.0.0.53 of systemd-resolved is the host's own loopback, not the
// container's) and IPv6 ones (minibox's networks are IPv4 only); none left →
// 8.8.8.8 and 8.8.4.4. Without any --dns* flag the host's file is copied with
// only those lines changed; with one, the file is written anew: --dns replaces
// the servers, --dns-search the search list ("." alone: none), --dns-option
// the options (Docker's override), each taken from the host when not given.
//
// On a user-defined network (nameserver = its gateway) the only server is
// the network's resolver, which forwards for the rest (see Upstreams). The
// options gain ndots:0, so a bare name ("web") is asked as it is first, as
// a container's name, before the search domains are tried; unless the user
// set ndots themselves, as Docker lets them.
func ResolvConf(host []byte, dns, search, options []string, nameserver string) []byte {
	hc := parseResolvConf(host)
	if nameserver == "" && len(dns) == 0 && len(search) == 0 && len(options) == 0 {
		return filterHost(host)
	}
	servers := dns
	if nameserver != "" {
		servers = []string{nameserver}
	} else if len(servers) == 0 {
		servers = reachable(hc.nameservers)
	}
	if len(search) == 0 {
		search = hc.search
	}
	if len(options) == 0 {
		options = hc.options
	}
	if nameserver != "" && !hasNdots(options) {
		options = append(options[:len(options):len(options)], "ndots:0")
	}
	var b bytes.Buffer
	if len(search) > 0 && !(len(search) == 1 && search[0] == ".") {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(options) > 0 {
		b.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return b.Bytes()
}

// Upstreams is what a network's resolver forwards a container's foreign
// names to, "ip:53" each: the --dns servers if any, else the host's
// nameservers. The resolver runs in the host's netns, so the host's
// loopback servers (systemd-resolved's 127.0.0.53) work from it and are
// kept, unlike in ResolvConf. No server at all → Docker's defaults.
// Entries that are not IP addresses are left out.
func Upstreams(host []byte, dns []string) []string {
	servers := dns
	if len(servers) == 0 {
		servers = parseResolvConf(host).nameservers
	}
	var ups []string
	for _, s := range servers {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || a.Zone() != "" {
			continue
		}
		ups = append(ups, netip.AddrPortFrom(a.Unmap(), 53).String())
	}
	if len(ups) == 0 {
		for _, s := range defaultNameservers {
			ups = append(ups, s+":53")
		}
	}
	return ups
}

// hostsHead is the start of every container's /etc/hosts, Docker's lines.
const hostsHead = "127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"ff00::0\tip6-mcastprefix\n" +
	"ff02::1\tip6-allnodes\n" +
	"ff02::2\tip6-allrouters\n"

// Hosts is a container's /etc/hosts in Docker's layout: the loopback and
// IPv6 lines, then the --add-host entries ("name:ip" or "name=ip") as
// "ip\tname", then "ip\thostname" for each of the container's addresses.
// "name:host-gateway" gets hostGateway, the host's address as the container
// reaches it (left out when that is not valid: the container has no bridge
// to the host). An entry ParseAddHost refuses is left out (the CLI refuses
// it first).
func Hosts(hostname string, ips []netip.Addr, extra []string, hostGateway netip.Addr) []byte {
	var b bytes.Buffer
	b.WriteString(hostsHead)
	for _, e := range extra {
		name, ip, err := ParseAddHost(e)
		if errors.Is(err, ErrHostGateway) && hostGateway.IsValid() {
			ip, err = hostGateway, nil
		}
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	for _, ip := range ips {
		if ip.IsValid() && hostname != "" {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	return b.Bytes()
}

// ErrHostGateway is what ParseAddHost returns (with the name) for Docker's
// special address "host-gateway": the caller puts the gateway's IP there.
var ErrHostGateway = errors.New(`add-host: "host-gateway" stands for the host's gateway address`)

// ParseAddHost reads one --add-host value: "name:ip" or "name=ip" (split at
// the first "=" if any, else the first ":", so "h:::1" is IPv6), the IP
// possibly in brackets ("[::1]"), as Docker's CLI reads it, with Docker's
// messages. The name may not hold a colon, blanks or "#", which would break
// the hosts file's lines.
func ParseAddHost(s string) (name string, ip netip.Addr, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		k, v, ok = strings.Cut(s, ":")
	}
	if !ok || k == "" || strings.ContainsAny(k, ":#") || strings.ContainsFunc(k, isSpaceOrControl) {
		return "", netip.Addr{}, fmt.Errorf("bad format for add-host: %q", s)
	}
	v = strings.TrimSpace(v)
	if v == "host-gateway" {
		return k, netip.Addr{}, ErrHostGateway
	}
	raw := v
	if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
		v = v[1 : len(v)-1]
	}
	ip, perr := netip.ParseAddr(v)
	if perr != nil || ip.Zone() != "" {
		return "", netip.Addr{}, fmt.Errorf("invalid IP address in add-host: %q", raw)
	}
	return k, ip, nil
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f || r == 0x85 || r == 0xa0 || r == 0x2028 || r == 0x2029 || r == 0xfeff
}

// resolvConf is what a resolv.conf says, as glibc reads it: every
// nameserver line in order, the last search or domain line, all options.
type resolvConf struct {
	nameservers, search, options []string
}

func parseResolvConf(b []byte) resolvConf {
	var rc resolvConf
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(stripComment(line))
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				rc.nameservers = append(rc.nameservers, f[1])
			}
		case "search", "domain":
			rc.search = f[1:]
			if f[0] == "domain" && len(f) > 2 {
				rc.search = f[1:2]
			}
			if len(rc.search) == 0 {
				rc.search = nil // a bare "search" clears the list
			}
		case "options":
			rc.options = append(rc.options, f[1:]...)
		}
	}
	return rc
}

// stripComment cuts a line at "#" or ";", which start comments.
func stripComment(line string) string {
	if i := strings.IndexAny(line, "#;"); i >= 0 {
		return line[:i]
	}
	return line
}

// reachable keeps the servers a container on the default bridge can use:
// IPv4, not loopback, not unspecified (0.0.0.0 means "this host" too).
func reachable(servers []string) []string {
	var out []string
	for _, s := range servers {
		if containerUsable(s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = defaultNameservers
	}
	return out
}

func containerUsable(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Unmap().Is4() && !a.IsLoopback() && !a.Unmap().IsLoopback() && !a.IsUnspecified() && !a.Unmap().IsUnspecified()
}

// filterHost is the host's file with its unusable nameserver lines removed
// (Docker's FilterResolvDNS), defaults appended when none is left.
func filterHost(host []byte) []byte {
	var b bytes.Buffer
	kept := 0
	for line := range strings.Lines(string(host)) {
		f := strings.Fields(stripComment(line))
		if len(f) > 0 && f[0] == "nameserver" {
			if len(f) < 2 || !containerUsable(f[1]) {
				continue
			}
			kept++
		}
		b.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteByte('\n')
		}
	}
	if kept == 0 {
		for _, s := range defaultNameservers {
			b.WriteString("nameserver " + s + "\n")
		}
	}
	return b.Bytes()
}

// hasNdots tells whether the options set ndots already: Docker keeps the
// user's ndots above 0 and adds no ndots:0 then (nor a second ndots:0).
func hasNdots(options []string) bool {
	for _, o := range options {
		if v, ok := strings.CutPrefix(o, "ndots:"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return true
			}
		}
	}
	return false
}
