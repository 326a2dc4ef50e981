package firewall

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// Every test here runs Sync inside a testkit sandbox: the namespace's
// firewall is the sandbox's own, and the residue check proves the host's
// ruleset unchanged.

var (
	net1 = Net{Name: "one", Bridge: "mb1", Subnet: netip.MustParsePrefix("10.1.1.0/24"), Gateway: netip.MustParseAddr("10.1.1.1")}
	net2 = Net{Name: "two", Bridge: "mb2", Subnet: netip.MustParsePrefix("10.1.2.0/24"), Gateway: netip.MustParseAddr("10.1.2.1")}
	netI = Net{Name: "inner", Bridge: "mbi", Subnet: netip.MustParsePrefix("10.1.3.0/24"), Gateway: netip.MustParseAddr("10.1.3.1"), Internal: true}
)

func needTool(t *testing.T, name string) {
	testkit.Require(t, name+"(8)", func() error { _, err := exec.LookPath(name); return err })
}

// output runs a command in the sandbox and returns its output.
func output(t *testing.T, s *testkit.Sandbox, name string, args ...string) string {
	t.Helper()
	out, err := s.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %v: %s", name, args, out)
	return string(out)
}

func readSysctl(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestSyncRuleset(t *testing.T) {
	testkit.Root(t)
	needTool(t, "nft")
	hostForward := readSysctl(t, IPForwardPath)
	s := testkit.NewSandbox(t)

	s.Do(t, func() {
		assert.Equal(t, "0", readSysctl(t, IPForwardPath), "a new netns does not forward")
		require.NoError(t, Sync([]Net{netI}))
		assert.Equal(t, "0", readSysctl(t, IPForwardPath), "an internal network has no way out to forward to")
		require.NoError(t, Sync([]Net{net1, net2, netI}))
		assert.Equal(t, "1", readSysctl(t, IPForwardPath))
	})
	assert.Equal(t, hostForward, readSysctl(t, IPForwardPath), "ip_forward is per netns: the host's is untouched")

	rules := output(t, s, "nft", "list", "ruleset")
	for _, want := range []string{
		"table ip minibox {",
		"type nat hook postrouting priority srcnat; policy accept;",
		`ip saddr 10.1.1.0/24 oifname != "mb1" masquerade`,
		`ip saddr 10.1.2.0/24 oifname != "mb2" masquerade`,
		"type filter hook forward priority filter; policy accept;",
		`iifname "mb1" oifname "mb2" drop`,
		`iifname "mb2" oifname "mb1" drop`,
		`iifname "mbi" oifname "mb1" drop`,
		`iifname "mb1" oifname "mbi" drop`,
		`iifname "mbi" oifname != "mbi" drop`,
		`oifname "mbi" iifname != "mbi" drop`,
		`oifname "mb1" ct state established,related accept`,
		`oifname "mb1" iifname != "mb1" drop`,
		`iifname "mbi" ip daddr 10.1.3.1 udp dport 53 accept`,
		`iifname "mbi" ip daddr 10.1.3.1 tcp dport 53 accept`,
		`iifname "mbi" ct state established,related accept`,
		`iifname "mbi" drop`,
	} {
		assert.Contains(t, rules, want)
	}
	assert.NotContains(t, rules, "10.1.3.0/24", "no masquerade for an internal network")
	assert.NotContains(t, rules, "table ip filter", "no filter table of ours when none existed")

	s.Do(t, func() { require.NoError(t, Sync([]Net{net1, net2, netI})) })
	assert.Equal(t, rules, output(t, s, "nft", "list", "ruleset"), "Sync is idempotent")

	s.Do(t, func() { require.NoError(t, Sync([]Net{net2})) })
	fewer := output(t, s, "nft", "list", "ruleset")
	assert.NotContains(t, fewer, "mb1")
	assert.Contains(t, fewer, `ip saddr 10.1.2.0/24 oifname != "mb2" masquerade`)

	s.Do(t, func() {
		require.NoError(t, Remove())
		require.NoError(t, Remove(), "Remove twice is fine")
		assert.Equal(t, "1", readSysctl(t, IPForwardPath), "like Docker, ip_forward is never reset")
	})
	assert.Empty(t, output(t, s, "nft", "list", "ruleset"))
}

func TestSyncRefusesBadNets(t *testing.T) {
	for _, n := range []Net{
		{Name: "x", Bridge: "", Subnet: net1.Subnet},
		{Name: "x", Bridge: "a-very-long-bridge-name", Subnet: net1.Subnet},
		{Name: "x", Bridge: "mb1"},
		{Name: "x", Bridge: "mb1", Subnet: netip.MustParsePrefix("fd00::/64")},
		{Name: "x", Bridge: "mb1", Subnet: net1.Subnet, Internal: true},
	} {
		assert.Error(t, Sync([]Net{n}), "%+v", n)
	}
}

// TestSyncForwardDrop: on a host where dockerd left FORWARD at policy drop,
// Sync inserts tagged accepts at the top of that chain, in a form iptables
// can still read, keeps the rules of others, and takes only its own away.
func TestSyncForwardDrop(t *testing.T) {
	testkit.Root(t)
	needTool(t, "nft")
	needTool(t, "iptables-nft")
	s := testkit.NewSandbox(t)
	s.ForwardDrop(t)
	output(t, s, "iptables-nft", "-A", "FORWARD", "-i", "eth9", "-j", "ACCEPT") // someone else's rule

	s.Do(t, func() { require.NoError(t, Sync([]Net{net1, netI, net2})) })
	want := []string{
		"-P FORWARD DROP",
		`-A FORWARD -i mb1 -o mb1 -m comment --comment minibox -j ACCEPT`,
		`-A FORWARD -i mb1 -m comment --comment minibox -j ACCEPT`,
		`-A FORWARD -o mb1 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minibox -j ACCEPT`,
		`-A FORWARD -i mbi -o mbi -m comment --comment minibox -j ACCEPT`,
		`-A FORWARD -i mb2 -o mb2 -m comment --comment minibox -j ACCEPT`,
		`-A FORWARD -i mb2 -m comment --comment minibox -j ACCEPT`,
		`-A FORWARD -o mb2 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment minibox -j ACCEPT`,
		"-A FORWARD -i eth9 -j ACCEPT",
	}
	assert.Equal(t, want, strings.Split(strings.TrimSpace(output(t, s, "iptables-nft", "-S", "FORWARD")), "\n"))

	s.Do(t, func() { require.NoError(t, Sync([]Net{net1, netI, net2})) })
	assert.Equal(t, want, strings.Split(strings.TrimSpace(output(t, s, "iptables-nft", "-S", "FORWARD")), "\n"), "idempotent")

	s.Do(t, func() { require.NoError(t, Sync([]Net{net2})) })
	assert.Equal(t, []string{want[0], want[5], want[6], want[7], want[8]},
		strings.Split(strings.TrimSpace(output(t, s, "iptables-nft", "-S", "FORWARD")), "\n"), "stale tagged rules removed")

	s.Do(t, func() { require.NoError(t, Remove()) })
	assert.Equal(t, []string{"-P FORWARD DROP", "-A FORWARD -i eth9 -j ACCEPT"},
		strings.Split(strings.TrimSpace(output(t, s, "iptables-nft", "-S", "FORWARD")), "\n"))
	rules := output(t, s, "nft", "list", "ruleset")
	assert.NotContains(t, rules, "minibox")
	assert.Contains(t, rules, "policy drop;", "the chain and its policy are not ours: they stay")
}

func TestChecks(t *testing.T) {
	testkit.Root(t)
	s := testkit.NewSandbox(t)
	byName := func() map[string]Check {
		m := map[string]Check{}
		for _, c := range Checks() {
			m[c.Name] = c
		}
		return m
	}
	s.Do(t, func() {
		c := byName()
		require.Len(t, c, 3)
		assert.Equal(t, "warn", c["ip_forward"].Status, c["ip_forward"].Detail)
		assert.Equal(t, "ok", c["firewall backend"].Status, c["firewall backend"].Detail)
		assert.NotContains(t, c["firewall backend"].Detail, "policy drop")
		require.NoError(t, Sync([]Net{net1}))
		assert.Equal(t, "ok", byName()["ip_forward"].Status)
		require.NoError(t, Remove())
	})
	s.ForwardDrop(t)
	s.Do(t, func() {
		assert.Contains(t, byName()["firewall backend"].Detail, "policy drop")
		if _, err := os.Stat(BridgeNFPath); err == nil {
			// br_netfilter's switches are per netns (kernel ≥ 5.3): a new
			// one starts at 0 whatever the host says.
			require.NoError(t, os.WriteFile(BridgeNFPath, []byte("1"), 0o644))
			assert.Contains(t, byName()["br_netfilter"].Detail, "bridge-nf-call-iptables=1")
		}
	})
}

// ---- real traffic ----

// lab is a sandbox host with bridges and containers (namespaces with a
// veth whose host end is on the bridge), and an outside behind it.
type lab struct {
	t       *testing.T
	host    *testkit.Sandbox
	outside *testkit.Outside
}

func newLab(t *testing.T) *lab {
	s := testkit.NewSandbox(t)
	return &lab{t: t, host: s, outside: s.Outside(t)}
}

// bridge makes n's bridge in the sandbox with the gateway on it.
func (l *lab) bridge(n Net) {
	l.host.Do(l.t, func() {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}}
		require.NoError(l.t, netlink.LinkAdd(br))
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.Gateway.AsSlice(), Mask: net.CIDRMask(n.Subnet.Bits(), 32)}}
		require.NoError(l.t, netlink.AddrAdd(br, addr))
		require.NoError(l.t, netlink.LinkSetUp(br))
	})
}

// container makes a namespace with eth0 at ip on n's bridge.
func (l *lab) container(n Net, ip string) testkit.Netns {
	c := testkit.NewSandbox(l.t)
	addr := netip.MustParseAddr(ip)
	host := "v" + strings.ReplaceAll(ip, ".", "")[3:]
	cns, err := netns.GetFromPath(c.Path)
	require.NoError(l.t, err)
	defer cns.Close()
	l.host.Do(l.t, func() {
		br, err := netlink.LinkByName(n.Bridge)
		require.NoError(l.t, err)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host, MasterIndex: br.Attrs().Index}, PeerName: "eth0", PeerNamespace: netlink.NsFd(cns)}
		require.NoError(l.t, netlink.LinkAdd(veth))
		require.NoError(l.t, netlink.LinkSetUp(veth))
	})
	c.Do(l.t, func() {
		eth0, err := netlink.LinkByName("eth0")
		require.NoError(l.t, err)
		require.NoError(l.t, netlink.AddrAdd(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(n.Subnet.Bits(), 32)}}))
		require.NoError(l.t, netlink.LinkSetUp(eth0))
		require.NoError(l.t, netlink.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: n.Gateway.AsSlice()}))
	})
	return c.Netns
}

func (l *lab) sync(nets ...Net) {
	l.host.Do(l.t, func() { require.NoError(l.t, Sync(nets)) })
}

// listen starts a TCP listener in ns on ip; every accepted connection's
// peer address goes to the channel.
func listen(t *testing.T, ns testkit.Netns, ip string) (string, <-chan string) {
	var ln net.Listener
	ns.Do(t, func() {
		var err error
		ln, err = net.Listen("tcp4", ip+":0")
		require.NoError(t, err)
	})
	t.Cleanup(func() { ln.Close() })
	peers := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	return ln.Addr().String(), peers
}

// A dropped SYN gets no answer and is sent again only after a second:
// a connection that has not been made in 700ms was dropped.
const dropped = 700 * time.Millisecond

// dial connects from ns to addr within timeout.
func dial(t *testing.T, ns testkit.Netns, addr string, timeout time.Duration) error {
	var err error
	ns.Do(t, func() {
		var c net.Conn
		c, err = net.DialTimeout("tcp4", addr, timeout)
		if err == nil {
			c.Close()
		}
	})
	return err
}

// peer is the next peer address a listener recorded.
func peer(t *testing.T, peers <-chan string) string {
	t.Helper()
	select {
	case p := <-peers:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no connection arrived")
		return ""
	}
}

func reaches(t *testing.T, from testkit.Netns, to string) {
	t.Helper()
	assert.NoError(t, dial(t, from, to, 5*time.Second), "%s → %s", from.Path, to)
}

func blocked(t *testing.T, from testkit.Netns, to string) {
	t.Helper()
	err := dial(t, from, to, dropped)
	if assert.Error(t, err, "%s → %s must be dropped", from.Path, to) {
		assert.True(t, os.IsTimeout(err), "dropped, not refused: %v", err)
	}
}

func TestTrafficMasqueradeAndIsolation(t *testing.T) {
	testkit.Root(t)
	l := newLab(t)
	l.bridge(net1)
	l.bridge(net2)
	c1 := l.container(net1, "10.1.1.2")
	c2 := l.container(net2, "10.1.2.2")
	out, outPeers := listen(t, l.outside.Netns, l.outside.Addr.String())
	at2, peers2 := listen(t, c2, "10.1.2.2")

	blocked(t, c1, out) // a new netns does not forward at all

	l.sync(net1, net2)
	reaches(t, c1, out)
	assert.Equal(t, l.outside.Sandbox.String(), peer(t, outPeers), "the outside sees the sandbox's address, not the container's")
	reaches(t, c2, out)
	assert.Equal(t, l.outside.Sandbox.String(), peer(t, outPeers))
	blocked(t, c1, at2) // isolation between two minibox bridges

	// Nothing from outside gets into a network uninvited, even with a
	// route to it (Docker drops it too; -p goes through the proxy).
	l.outside.Do(t, func() {
		link, err := netlink.LinkByName("sandbox0")
		require.NoError(t, err)
		require.NoError(t, netlink.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index,
			Dst: &net.IPNet{IP: net.IPv4(10, 1, 2, 0), Mask: net.CIDRMask(24, 32)}, Gw: l.outside.Sandbox.AsSlice()}))
	})
	blocked(t, l.outside.Netns, at2)

	// The drops were ours: without the rules (ip_forward stays 1) the
	// traffic passes, unmasqueraded.
	l.sync()
	reaches(t, c1, at2)
	assert.Equal(t, "10.1.1.2", peer(t, peers2))
	reaches(t, l.outside.Netns, at2)
	assert.Equal(t, l.outside.Addr.String(), peer(t, peers2))
}

func TestTrafficInternal(t *testing.T) {
	testkit.Root(t)
	l := newLab(t)
	l.bridge(net1)
	l.bridge(netI)
	c1 := l.container(net1, "10.1.1.2")
	ci := l.container(netI, "10.1.3.2")
	ci2 := l.container(netI, "10.1.3.3")
	out, _ := listen(t, l.outside.Netns, l.outside.Addr.String())
	at1, _ := listen(t, c1, "10.1.1.2")
	atI2, _ := listen(t, ci2, "10.1.3.3")
	gwOther, _ := listen(t, l.host.Netns, "10.1.3.1")
	var dns net.Listener
	l.host.Do(t, func() {
		var err error
		dns, err = net.Listen("tcp4", "10.1.3.1:53")
		require.NoError(t, err)
	})
	defer dns.Close()
	go func() {
		for {
			c, err := dns.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	l.sync(net1, netI)
	blocked(t, ci, out) // no way out
	blocked(t, ci, at1)
	blocked(t, c1, atI2) // no way in
	blocked(t, ci, gwOther)
	reaches(t, ci, "10.1.3.1:53") // but the network's resolver
	reaches(t, ci, atI2)          // and the network itself
	reaches(t, c1, out)
}

// TestTrafficForwardDrop is the host where Docker ran: FORWARD policy drop
// in ip filter and br_netfilter on (so even traffic between two containers
// on one bridge meets FORWARD). Our own table cannot undo that drop: the
// tagged accepts make it work, and without them it stops.
func TestTrafficForwardDrop(t *testing.T) {
	testkit.Root(t)
	l := newLab(t)
	l.host.ForwardDrop(t)
	l.bridge(net1)
	c1 := l.container(net1, "10.1.1.2")
	c1b := l.container(net1, "10.1.1.3")
	l.bridge(netI)
	ci := l.container(netI, "10.1.3.2")
	ci2 := l.container(netI, "10.1.3.3")
	hostBridgeNF, hostErr := os.ReadFile(BridgeNFPath)
	brnf := false
	l.host.Do(t, func() {
		if _, err := os.Stat(BridgeNFPath); err == nil {
			require.NoError(t, os.WriteFile(BridgeNFPath, []byte("1"), 0o644))
			brnf = true
		}
	})
	if brnf {
		now, err := os.ReadFile(BridgeNFPath)
		require.NoError(t, err)
		require.NoError(t, hostErr)
		assert.Equal(t, string(hostBridgeNF), string(now), "br_netfilter's switch is per netns: the host's is untouched")
	}
	out, outPeers := listen(t, l.outside.Netns, l.outside.Addr.String())
	atB, _ := listen(t, c1b, "10.1.1.3")
	atI2, _ := listen(t, ci2, "10.1.3.3")

	l.host.Do(t, func() { require.NoError(t, os.WriteFile(IPForwardPath, []byte("1"), 0o644)) })
	blocked(t, c1, out) // the policy drop, before Sync
	if brnf {
		blocked(t, c1, atB)
		blocked(t, ci, atI2)
	}

	l.sync(net1, netI)
	reaches(t, c1, out)
	assert.Equal(t, l.outside.Sandbox.String(), peer(t, outPeers))
	blocked(t, ci, out)
	if brnf {
		reaches(t, c1, atB)
		reaches(t, ci, atI2) // an internal network has no `iifname BR accept`: its own rule
	}

	l.sync()
	blocked(t, c1, out)
	if brnf {
		blocked(t, c1, atB)
		blocked(t, ci, atI2)
	}
}
