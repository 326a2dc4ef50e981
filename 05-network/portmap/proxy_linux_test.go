package portmap

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"minibox/internal/testkit"
)

// inNetnsEnv marks the test binary re-executed in a network namespace of
// its own.
const inNetnsEnv = "PORTMAP_TEST_IN_NETNS"

// TestProxyAllAddresses publishes on every address (the zero HostIP: the
// proxy binds 0.0.0.0), which is safe only in a namespace of the test's
// own: the test binary runs itself in a fresh network namespace, whose only
// link is lo (the whole process is in it, as the monitor is in the host's:
// the proxy dials the container from whatever thread runs it). There
// 127.0.0.2 is one of "the host's other addresses", and a UDP answer must
// come from the address the client sent to, or the client's connected
// socket drops it.
func TestProxyAllAddresses(t *testing.T) {
	if os.Getenv(inNetnsEnv) != "1" {
		testkit.Root(t)
		cmd := exec.Command(testkit.Self(t), "-test.run=^TestProxyAllAddresses$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), inNetnsEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "--- PASS: TestProxyAllAddresses")
		return
	}
	link, err := netlink.LinkByName("lo")
	require.NoError(t, err)
	require.NoError(t, netlink.LinkSetUp(link))
	links, err := netlink.LinkList()
	require.NoError(t, err)
	require.Len(t, links, 1, "a namespace of our own has lo only")

	tcpBack, err := tcpEcho(t, 0, "t:")
	require.NoError(t, err)
	udpBack := udpEcho(t, "u:")
	_, bound := listen(t, []Binding{{ContainerPort: tcpBack, Proto: "tcp"}, {ContainerPort: udpBack, Proto: "udp"}})
	assert.False(t, bound[0].HostIP.IsValid(), "the zero HostIP stays zero")
	for _, to := range []netip.Addr{lo, netip.MustParseAddr("127.0.0.2")} {
		got, err := tcpRoundTripTo(to, bound[0].HostPort, []byte("x"))
		require.NoError(t, err, "tcp via %s", to)
		assert.Equal(t, "t:x", string(got))

		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, bound[1].HostPort)))
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("y"))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		require.NoError(t, err, fmt.Sprintf("udp via %s (a connected client: only an answer from %s reaches it)", to, to))
		assert.Equal(t, "u:y", string(buf[:n]))
	}
}
