package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"minibox/04-storage/containerfs"
	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
	"minibox/05-network/ipam"
	"minibox/05-network/network"
	"minibox/internal/testkit"
)

func TestMain(m *testing.M) { testkit.MainProgram(m, main) }

// nbox is one test's minibox: its own roots, and its own sandbox network
// namespace that plays the host, so that bridges, veths, firewall rules and
// resolvers are made there and never on the real host.
type nbox struct {
	t          *testing.T
	sb         *testkit.Sandbox
	data, exec string
}

func newNbox(t *testing.T) *nbox {
	t.Helper()
	testkit.Root(t)
	sb := testkit.NewSandbox(t)
	execRoot, err := os.MkdirTemp("", "mbx")
	require.NoError(t, err)
	b := &nbox{t: t, sb: sb, data: t.TempDir(), exec: execRoot}
	b.importImage()
	t.Cleanup(func() {
		if out := b.run("ps", "-aq", "--no-trunc"); out.Code == 0 {
			for _, id := range strings.Fields(out.Stdout) {
				b.run("rm", "-f", id)
			}
		}
		if out := b.run("network", "ls", "-q", "-f", "type=custom"); out.Code == 0 {
			for _, id := range strings.Fields(out.Stdout) {
				b.run("network", "rm", id)
			}
		}
		b.noneOfOurs()
		os.RemoveAll(execRoot)
	})
	return b
}

// importImage imports busybox (with EXPOSE 80 for -P) into the data root.
func (b *nbox) importImage() {
	b.t.Helper()
	var layer bytes.Buffer
	_, err := storage.WriteTar(&layer, testkit.BusyboxRootfs(b.t))
	require.NoError(b.t, err)
	st, err := containerfs.New(b.data)
	require.NoError(b.t, err)
	_, err = st.Images.Import(bytes.NewReader(layer.Bytes()), "busybox",
		[]string{`CMD ["sh"]`, "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "EXPOSE 80"}, "")
	require.NoError(b.t, err)
}

func (b *nbox) args(args ...string) []string {
	return append([]string{"--data-root", b.data, "--exec-root", b.exec}, args...)
}

// run runs minibox inside the sandbox, as a user would on the host.
func (b *nbox) run(args ...string) testkit.Result {
	b.t.Helper()
	cmd := b.sb.Command(testkit.Self(b.t), b.args(args...)...)
	cmd.Env = append(os.Environ(), testkit.ProgramEnv+"=1")
	return testkit.RunCommand(b.t, cmd)
}

func (b *nbox) ok(args ...string) string {
	b.t.Helper()
	r := b.run(args...)
	require.Equal(b.t, 0, r.Code, "minibox %v: stdout %q stderr %q", args, r.Stdout, r.Stderr)
	return strings.TrimSuffix(r.Stdout, "\n")
}

// web starts a busybox httpd serving "hello from NAME" on port 80.
func (b *nbox) web(name string, flags ...string) string {
	b.t.Helper()
	args := append([]string{"run", "-d", "--name", name}, flags...)
	args = append(args, "busybox", "sh", "-c", "mkdir -p /www && echo hello from "+name+" > /www/index.html && exec httpd -f -p 80 -h /www")
	return b.ok(args...)
}

// ip is the container's address on a network.
func (b *nbox) ip(ctr, net string) string {
	b.t.Helper()
	ip := b.ok("inspect", "-f", "{{(index .NetworkSettings.Networks \""+net+"\").IPAddress}}", ctr)
	require.NotEmpty(b.t, ip, "no address of %s on %s", ctr, net)
	return ip
}

// fetch runs wget in a throwaway container on the network.
func (b *nbox) fetch(net, url string) testkit.Result {
	b.t.Helper()
	// timeout runs wget as its child's victim: not as PID 1, which a
	// signal without a handler does not end.
	return b.run("run", "--rm", "--network", net, "busybox", "sh", "-c", "timeout 4 wget -q -O - "+url+"; exit $?")
}

// hostGet fetches / from addr in the sandbox's own namespace (the "host"),
// retrying for a while: the container's httpd may not listen yet.
func (b *nbox) hostGet(addr string) (string, error) {
	var out string
	var err error
	for deadline := time.Now().Add(15 * time.Second); ; {
		out, err = b.hostGetOnce(addr)
		if (err == nil && strings.Contains(out, "200 OK")) || time.Now().After(deadline) {
			return out, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *nbox) hostGetOnce(addr string) (string, error) {
	var out string
	var err error
	b.sb.Do(b.t, func() {
		var c net.Conn
		c, err = net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
		var buf bytes.Buffer
		_, err = buf.ReadFrom(c)
		out = buf.String()
	})
	return out, err
}

// links are the sandbox's interfaces.
func (b *nbox) links() []string {
	b.t.Helper()
	var names []string
	b.sb.Do(b.t, func() {
		ls, err := netlink.LinkList()
		require.NoError(b.t, err)
		for _, l := range ls {
			names = append(names, l.Attrs().Name)
		}
	})
	return names
}

// veth makes a veth pair in the sandbox, both ends up (a wire for macvlan
// to hang from, or an interface only this "host" has).
func (b *nbox) veth(name string) {
	b.t.Helper()
	b.sb.Do(b.t, func() {
		la := netlink.NewLinkAttrs()
		la.Name = name
		require.NoError(b.t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: name + "p"}))
		for _, n := range []string{name, name + "p"} {
			l, err := netlink.LinkByName(n)
			require.NoError(b.t, err)
			require.NoError(b.t, netlink.LinkSetUp(l))
		}
	})
	b.t.Cleanup(func() { b.delLink(name) })
}

func (b *nbox) delLink(name string) {
	b.sb.Do(b.t, func() {
		if l, err := netlink.LinkByName(name); err == nil {
			netlink.LinkDel(l)
		}
	})
}

// vlanWorks says whether the kernel makes 802.1Q sub-interfaces.
func (b *nbox) vlanWorks(parent string) bool {
	ok := false
	b.sb.Do(b.t, func() {
		p, err := netlink.LinkByName(parent)
		require.NoError(b.t, err)
		la := netlink.NewLinkAttrs()
		la.Name, la.ParentIndex = "probe.7", p.Attrs().Index
		if netlink.LinkAdd(&netlink.Vlan{LinkAttrs: la, VlanId: 7}) == nil {
			ok = true
			if l, err := netlink.LinkByName("probe.7"); err == nil {
				netlink.LinkDel(l)
			}
		}
	})
	return ok
}

// ruleset is the sandbox's nftables ruleset, a line per rule.
func (b *nbox) ruleset() string {
	b.t.Helper()
	var lines []string
	b.sb.Do(b.t, func() {
		var err error
		lines, err = testkit.NftRuleset()
		require.NoError(b.t, err)
	})
	return strings.Join(lines, "\n")
}

// noneOfOurs checks that nothing of minibox's is left in the sandbox:
// no bridge or veth, no table of ours, no namespace file, no resolver, no
// address record, no endpoint.
func (b *nbox) noneOfOurs() {
	b.t.Helper()
	for _, l := range b.links() {
		require.False(b.t, strings.HasPrefix(l, "veth") || strings.HasPrefix(l, "br-") || l == network.DefaultBridge, "link %s left", l)
	}
	require.NotContains(b.t, b.ruleset(), "minibox", "firewall rules left")
	ents, _ := os.ReadDir(filepath.Join(b.exec, "netns"))
	require.Empty(b.t, ents, "network namespaces left")
	eps, _ := os.ReadDir(filepath.Join(b.exec, "endpoints"))
	require.Empty(b.t, eps, "endpoint records left")
	require.Empty(b.t, b.resolvers(), "resolvers left")
	ipamDir := filepath.Join(b.data, "networks", "ipam")
	ipamFiles, _ := filepath.Glob(filepath.Join(ipamDir, "*.json"))
	for _, f := range ipamFiles {
		owners, err := ipam.Open(ipamDir).Owners(strings.TrimSuffix(filepath.Base(f), ".json"))
		require.NoError(b.t, err)
		require.Empty(b.t, owners, "addresses still allocated in %s", f)
	}
}

// monitors are the PIDs of this box's container monitors.
func (b *nbox) monitors() []int {
	var out []int
	for _, pid := range testkit.AllPIDs() {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(cmdline), engine.MonitorArg+"\x00"+b.data+"\x00") {
			out = append(out, pid)
		}
	}
	return out
}

// resolvers are the PIDs of this box's resolvers.
func (b *nbox) resolvers() []int {
	var out []int
	for _, pid := range testkit.AllPIDs() {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(cmdline), network.ResolverArg+"\x00"+b.data+"\x00") {
			out = append(out, pid)
		}
	}
	return out
}

func random(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
