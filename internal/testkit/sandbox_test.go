package testkit

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

func TestNewSinceNft(t *testing.T) {
	before := Residue{Nft: []string{"table ip filter flags=0", "table ip filter chain FORWARD"}}
	after := Residue{Nft: []string{"table ip filter flags=0", "table ip minibox flags=0"}}
	assert.Equal(t, []string{"nft: table ip minibox flags=0", "nft removed: table ip filter chain FORWARD"},
		after.NewSince(before), "a host rule that went away is a change too")
}

func TestSandbox(t *testing.T) {
	Root(t)
	s := NewSandbox(t)
	assert.True(t, strings.HasPrefix(s.Path, "/run/netns/"+SandboxPrefix), s.Path)
	hostLinks, err := netlink.LinkList()
	require.NoError(t, err)

	s.Do(t, func() {
		links, err := netlink.LinkList()
		require.NoError(t, err)
		require.Len(t, links, 1, "a fresh netns has only lo")
		assert.Equal(t, "lo", links[0].Attrs().Name)
		assert.NotZero(t, links[0].Attrs().Flags&net.FlagUp, "lo is up")
	})
	after, err := netlink.LinkList()
	require.NoError(t, err)
	assert.Len(t, after, len(hostLinks), "Do gave the thread back to the host's netns")

	out, err := s.Command("cat", "/proc/net/dev").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, 3, strings.Count(string(out), "\n"), "two header lines and lo: %s", out)
}

// TestSandboxOutside sends UDP and TCP from the sandbox to a listener in the
// outside namespace, which sees the sandbox's address as the source.
func TestSandboxOutside(t *testing.T) {
	Root(t)
	s := NewSandbox(t)
	o := s.Outside(t)
	assert.Same(t, o, s.Outside(t), "one outside per sandbox")
	assert.Equal(t, "10.250.0.2", o.Addr.String())

	var udp net.PacketConn
	var tcp net.Listener
	o.Do(t, func() {
		var err error
		udp, err = net.ListenPacket("udp4", o.Addr.String()+":0")
		require.NoError(t, err)
		tcp, err = net.Listen("tcp4", o.Addr.String()+":0")
		require.NoError(t, err)
	})
	defer udp.Close()
	defer tcp.Close()

	s.Do(t, func() {
		c, err := net.Dial("udp4", udp.LocalAddr().String())
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("hello"))
		require.NoError(t, err)
	})
	buf := make([]byte, 16)
	require.NoError(t, udp.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, from, err := udp.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(buf[:n]))
	assert.Equal(t, o.Sandbox.String(), from.(*net.UDPAddr).IP.String())

	// The sandbox's default route leads out: an address past the outside
	// is routed via it (nothing answers there, the route lookup is enough).
	s.Do(t, func() {
		routes, err := netlink.RouteGet(net.ParseIP("192.0.2.1"))
		require.NoError(t, err)
		require.Len(t, routes, 1)
		assert.Equal(t, o.Addr.String(), routes[0].Gw.String())
	})

	// nsenter works too: a TCP client run by a command inside the sandbox.
	done := make(chan string, 1)
	go func() {
		c, err := tcp.Accept()
		if err != nil {
			done <- err.Error()
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		done <- c.RemoteAddr().(*net.TCPAddr).IP.String() + " " + line
	}()
	port := tcp.Addr().(*net.TCPAddr).Port
	// busybox's nc: the VM test's guest has busybox and nothing else.
	cmd := s.Command("busybox", "sh", "-c", fmt.Sprintf("echo hi | busybox nc %s %d", o.Addr, port))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	select {
	case got := <-done:
		assert.Equal(t, "10.250.0.1 hi\n", got)
	case <-time.After(5 * time.Second):
		t.Fatal("no TCP connection from the sandbox")
	}
}

func TestSandboxForwardDropAndRuleset(t *testing.T) {
	Root(t)
	s := NewSandbox(t)
	s.ForwardDrop(t)
	var first, second []string
	s.Do(t, func() {
		var err error
		first, err = nftRuleset()
		require.NoError(t, err)
		// A counter that counts, in a rule of our own: the fingerprint
		// must not change with it.
		c, err := nftables.New()
		require.NoError(t, err)
		tbl := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"}
		out := c.AddChain(&nftables.Chain{Name: "OUT", Table: tbl, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter})
		c.AddRule(&nftables.Rule{Table: tbl, Chain: out, Exprs: []expr.Any{&expr.Counter{}}, UserData: []byte("x")})
		require.NoError(t, c.Flush())
		second, err = nftRuleset()
		require.NoError(t, err)
		conn, err := net.Dial("udp4", "127.0.0.1:9")
		require.NoError(t, err)
		_, _ = conn.Write([]byte("count me"))
		conn.Close()
		third, err := nftRuleset()
		require.NoError(t, err)
		assert.Equal(t, second, third, "counters are not part of the fingerprint")
	})
	assert.Equal(t, []string{
		"table ip filter flags=0",
		"table ip filter chain FORWARD type=filter hook=2 priority=0 policy=0",
	}, first)
	assert.Contains(t, second, `table ip filter chain OUT rule 0: counter userdata="x"`)
	host, err := nftRuleset()
	require.NoError(t, err)
	assert.NotContains(t, host, "table ip filter chain OUT type=filter hook=3 priority=0 policy=1", "the host's ruleset is not the sandbox's")
}

// fakeTB records what a sandbox's cleanup reports.
type fakeTB struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestSandboxGoneAfterCleanup(t *testing.T) {
	Root(t)
	var paths []string
	t.Run("use", func(t *testing.T) {
		s := NewSandbox(t)
		o := s.Outside(t)
		s.ForwardDrop(t)
		paths = []string{s.Path, o.Path}
		for _, p := range paths {
			_, err := os.Stat(p)
			require.NoError(t, err)
		}
	})
	mounts, err := mountPoints()
	require.NoError(t, err)
	for _, p := range paths {
		_, err := os.Lstat(p)
		assert.ErrorIs(t, err, os.ErrNotExist, p)
		assert.NotContains(t, mounts, p)
	}

	// A process left inside the sandbox is reported by its cleanup.
	f := &fakeTB{TB: t}
	s := NewSandbox(f)
	cmd := s.Command("sleep", "30")
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	require.Eventually(t, func() bool {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
		m, _ := os.Readlink("/proc/self/ns/net")
		return l != m // nsenter has entered and exec'd sleep
	}, 5*time.Second, 10*time.Millisecond)
	f.runCleanups()
	require.Len(t, f.errs, 1, f.errs)
	assert.Contains(t, f.errs[0], "still in network namespace "+s.Path)
}

// TestSnapshotSeesFirewallChanges: a rule added to (or taken from) the
// namespace's ruleset is residue. Done in a sandbox, never on the host.
func TestSnapshotSeesFirewallChanges(t *testing.T) {
	Root(t)
	s := NewSandbox(t)
	s.Do(t, func() {
		before, err := Snapshot()
		require.NoError(t, err)
		s.ForwardDrop(t)
		mid, err := Snapshot()
		require.NoError(t, err)
		assert.Equal(t, []string{
			"nft: table ip filter chain FORWARD type=filter hook=2 priority=0 policy=0",
			"nft: table ip filter flags=0",
		}, mid.NewSince(before))
		c, err := nftables.New()
		require.NoError(t, err)
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"})
		require.NoError(t, c.Flush())
		after, err := Snapshot()
		require.NoError(t, err)
		assert.Empty(t, after.NewSince(before))
		assert.Len(t, before.NewSince(mid), 2, "what was taken away is listed too")
	})
}
