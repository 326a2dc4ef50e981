package resolver

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const systemdHost = `# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).
nameserver 127.0.0.53
options edns0 trust-ad
search lab.example corp.example
`

const plainHost = `# from DHCP
domain old.example
search lab.example
nameserver 10.0.0.2
nameserver ::1
nameserver fd00::53
nameserver 10.0.0.3
options timeout:2
options attempts:3
`

func TestResolvConf(t *testing.T) {
	tests := []struct {
		name                 string
		host                 string
		dns, search, options []string
		nameserver           string
		want                 string
	}{
		{"default bridge: host's file, unusable servers dropped", plainHost, nil, nil, nil, "",
			"# from DHCP\ndomain old.example\nsearch lab.example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions timeout:2\noptions attempts:3\n"},
		{"default bridge: only a loopback server → Docker's defaults", systemdHost, nil, nil, nil, "",
			"# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\noptions edns0 trust-ad\nsearch lab.example corp.example\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"default bridge: empty host file", "", nil, nil, nil, "", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"default bridge: no final newline", "nameserver 10.1.1.1", nil, nil, nil, "", "nameserver 10.1.1.1\n"},
		{"--dns replaces the servers", plainHost, []string{"10.9.9.9"}, nil, nil, "",
			"search lab.example\nnameserver 10.9.9.9\noptions timeout:2 attempts:3\n"},
		{"--dns-search replaces search", plainHost, nil, []string{"a.example", "b.example"}, nil, "",
			"search a.example b.example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions timeout:2 attempts:3\n"},
		{"--dns-search . : no search", plainHost, nil, []string{"."}, nil, "",
			"nameserver 10.0.0.2\nnameserver 10.0.0.3\noptions timeout:2 attempts:3\n"},
		{"--dns-option replaces options (Docker)", systemdHost, nil, nil, []string{"rotate"}, "",
			"search lab.example corp.example\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions rotate\n"},
		{"user network: the gateway, host's search, ndots:0", systemdHost, nil, nil, nil, "172.18.0.1",
			"search lab.example corp.example\nnameserver 172.18.0.1\noptions edns0 trust-ad ndots:0\n"},
		{"user network: --dns goes upstream, not here", plainHost, []string{"10.9.9.9"}, nil, nil, "172.18.0.1",
			"search lab.example\nnameserver 172.18.0.1\noptions timeout:2 attempts:3 ndots:0\n"},
		{"user network: the user's ndots stays", "", nil, []string{"x.example"}, []string{"ndots:2"}, "172.18.0.1",
			"search x.example\nnameserver 172.18.0.1\noptions ndots:2\n"},
		{"user network: no second ndots:0", "", nil, nil, []string{"ndots:0", "rotate"}, "172.18.0.1",
			"nameserver 172.18.0.1\noptions ndots:0 rotate\n"},
		{"user network: empty host file", "", nil, nil, nil, "172.18.0.1",
			"nameserver 172.18.0.1\noptions ndots:0\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ResolvConf([]byte(tt.host), tt.dns, tt.search, tt.options, tt.nameserver)
			assert.Equal(t, tt.want, string(got))
		})
	}
}

func TestUpstreams(t *testing.T) {
	tests := []struct {
		name string
		host string
		dns  []string
		want []string
	}{
		{"host's servers, loopback ones kept (the resolver runs on the host)", systemdHost, nil, []string{"127.0.0.53:53"}},
		{"all of them, in order", plainHost, nil, []string{"10.0.0.2:53", "[::1]:53", "[fd00::53]:53", "10.0.0.3:53"}},
		{"--dns wins", plainHost, []string{"10.9.9.9", "bogus", "1.1.1.1"}, []string{"10.9.9.9:53", "1.1.1.1:53"}},
		{"none → Docker's defaults", "# nothing\n", nil, []string{"8.8.8.8:53", "8.8.4.4:53"}},
		{"bad lines skipped", "nameserver\nnameserver x.y\nnameserver fe80::1%eth0\nnameserver 10.0.0.9 # ours\n", nil, []string{"10.0.0.9:53"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Upstreams([]byte(tt.host), tt.dns))
		})
	}
}

func TestHosts(t *testing.T) {
	got := Hosts("0123456789ab",
		[]netip.Addr{netip.MustParseAddr("172.18.0.5"), netip.MustParseAddr("172.19.0.3")},
		[]string{"db.example:10.0.0.7", "v6=[fd00::7]", "bad entry:1.2.3.4", "gw:host-gateway", "host.docker.internal=host-gateway"},
		netip.MustParseAddr("172.18.0.1"))
	assert.Equal(t, `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
10.0.0.7	db.example
fd00::7	v6
172.18.0.1	gw
172.18.0.1	host.docker.internal
172.18.0.5	0123456789ab
172.19.0.3	0123456789ab
`, string(got))

	got = Hosts("web", nil, []string{"gw:host-gateway"}, netip.Addr{})
	assert.Equal(t, hostsHead, string(got), "network none: no address line, no host gateway")
}

func TestParseAddHost(t *testing.T) {
	tests := []struct {
		in, name, ip, err string
	}{
		{in: "db:10.0.0.7", name: "db", ip: "10.0.0.7"},
		{in: "db=10.0.0.7", name: "db", ip: "10.0.0.7"},
		{in: "db.example.com: 10.0.0.7 ", name: "db.example.com", ip: "10.0.0.7"},
		{in: "v6:::1", name: "v6", ip: "::1"},
		{in: "v6=::1", name: "v6", ip: "::1"},
		{in: "v6:[fd00::7]", name: "v6", ip: "fd00::7"},
		{in: "v4=[10.0.0.1]", name: "v4", ip: "10.0.0.1"},
		{in: "gw:host-gateway", name: "gw", err: "host-gateway"},
		{in: "gw=host-gateway", name: "gw", err: "host-gateway"},
		{in: "host.docker.internal: host-gateway ", name: "host.docker.internal", err: "host-gateway"},
		{in: "gw:host-gateway2", err: `invalid IP address in add-host: "host-gateway2"`},
		{in: "gw:[host-gateway]", err: "invalid IP address in add-host"},
		{in: ":host-gateway", err: "bad format for add-host"},
		{in: "db", err: `bad format for add-host: "db"`},
		{in: ":10.0.0.7", err: `bad format for add-host: ":10.0.0.7"`},
		{in: "a:b=10.0.0.7", err: `bad format for add-host: "a:b=10.0.0.7"`},
		{in: "my host:10.0.0.7", err: "bad format for add-host"},
		{in: "evil\n1.2.3.4 bank:10.0.0.7", err: "bad format for add-host"},
		{in: "db#x:10.0.0.7", err: "bad format for add-host"},
		{in: "db:10.0.0", err: `invalid IP address in add-host: "10.0.0"`},
		{in: "db:", err: `invalid IP address in add-host: ""`},
		{in: "db:[]", err: `invalid IP address in add-host: "[]"`},
		{in: "db:fe80::1%eth0", err: "invalid IP address in add-host"},
		{in: "db:010.0.0.7", err: "invalid IP address in add-host"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, ip, err := ParseAddHost(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				if tt.name != "" {
					assert.ErrorIs(t, err, ErrHostGateway)
					assert.Equal(t, tt.name, name)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.name, name)
			assert.Equal(t, tt.ip, ip.String())
		})
	}
}

func FuzzParseAddHost(f *testing.F) {
	for _, s := range []string{"db:10.0.0.7", "v6:::1", "v6=[fd00::7]", "a:b=1.2.3.4", "x:host-gateway", "h\n:1.1.1.1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		gw := netip.MustParseAddr("172.17.0.1")
		name, ip, err := ParseAddHost(s)
		if errors.Is(err, ErrHostGateway) {
			// host-gateway: one line with the gateway, a valid name.
			require.NotEmpty(t, name)
			require.False(t, strings.ContainsAny(name, ":# \t\r\n"), name)
			rest := strings.TrimPrefix(string(Hosts("h", nil, []string{s}, gw)), hostsHead)
			require.Equal(t, "172.17.0.1\t"+name+"\n", rest)
			return
		}
		if err != nil {
			require.Equal(t, hostsHead, string(Hosts("h", nil, []string{s}, gw)), "a refused entry is left out")
			return
		}
		require.NotEmpty(t, name)
		require.True(t, ip.IsValid())
		require.False(t, strings.ContainsAny(name, ":# \t\r\n"), name)
		// The entry is one hosts line that reads back as itself, and
		// adds exactly one line after the fixed head.
		b := Hosts("h", nil, []string{s}, gw)
		rest := strings.TrimPrefix(string(b), hostsHead)
		require.Equal(t, ip.String()+"\t"+name+"\n", rest)
		n2, ip2, err := ParseAddHost(name + "=" + ip.String())
		require.NoError(t, err)
		require.Equal(t, name, n2)
		require.Equal(t, ip, ip2)
	})
}

func FuzzResolvConf(f *testing.F) {
	for _, s := range []string{systemdHost, plainHost, "", "nameserver 0.0.0.0\nnameserver ::ffff:127.0.0.1\n", "search\ndomain a b\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		// Default bridge: only servers a container can reach, at least one.
		rc := parseResolvConf(ResolvConf([]byte(host), nil, nil, nil, ""))
		require.NotEmpty(t, rc.nameservers)
		for _, ns := range rc.nameservers {
			require.True(t, containerUsable(ns), "nameserver %q in %q", ns, host)
		}
		// The host's search and options survive the copy.
		hc := parseResolvConf([]byte(host))
		require.Equal(t, hc.search, rc.search)
		require.Equal(t, hc.options, rc.options)

		// User network: the gateway alone, the host's search, ndots set.
		out := ResolvConf([]byte(host), []string{"10.9.9.9"}, nil, nil, "172.18.0.1")
		rc = parseResolvConf(out)
		require.Equal(t, []string{"172.18.0.1"}, rc.nameservers)
		if len(hc.search) == 1 && hc.search[0] == "." {
			require.Empty(t, rc.search)
		} else {
			require.Equal(t, hc.search, rc.search)
		}
		require.True(t, hasNdots(rc.options), "%q", out)

		// Upstreams: "ip:port" each, never empty.
		ups := Upstreams([]byte(host), nil)
		require.NotEmpty(t, ups)
		for _, u := range ups {
			_, err := netip.ParseAddrPort(u)
			require.NoError(t, err, u)
		}
	})
}
