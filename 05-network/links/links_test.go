package links

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"minibox/internal/testkit"
)

// A bridge, a namespace and a veth pair in a sandbox: the peer is eth0
// inside with its address, MAC and default route, the host end is on the
// bridge; both go with the namespace.
func TestVethIntoNamespace(t *testing.T) {
	testkit.Root(t)
	sb := testkit.NewSandbox(t)
	ns := filepath.Join(t.TempDir(), "ns")
	sb.Do(t, func() {
		require.NoError(t, EnsureBridge("mbtest0", netip.MustParsePrefix("10.201.0.1/24")))
		defer DeleteLink("mbtest0")
		require.NoError(t, NewNetNS(ns))
		defer func() { require.NoError(t, RemoveNetNS(ns)); assert.NoFileExists(t, ns) }()
		ip := netip.MustParseAddr("10.201.0.7")
		ep := Endpoint{NetNS: ns, IfName: "eth0", Addr: netip.PrefixFrom(ip, 24), Gateway: netip.MustParseAddr("10.201.0.1"), MAC: MACFor(ip), HostIf: "vethtest1"}
		require.NoError(t, AddVeth("mbtest0", ep))
		host, err := netlink.LinkByName("vethtest1")
		require.NoError(t, err)
		br, err := netlink.LinkByName("mbtest0")
		require.NoError(t, err)
		assert.Equal(t, br.Attrs().Index, host.Attrs().MasterIndex, "the host end is on the bridge")
		require.NoError(t, InNetNS(ns, func(h *netlink.Handle) error {
			l, err := h.LinkByName("eth0")
			require.NoError(t, err)
			assert.Equal(t, "02:42:0a:c9:00:07", l.Attrs().HardwareAddr.String())
			addrs, err := h.AddrList(l, netlink.FAMILY_V4)
			require.NoError(t, err)
			require.Len(t, addrs, 1)
			assert.Equal(t, "10.201.0.7/24", addrs[0].IPNet.String())
			routes, err := h.RouteList(l, netlink.FAMILY_V4)
			require.NoError(t, err)
			var gw string
			for _, r := range routes {
				if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
					gw = r.Gw.String()
				}
			}
			assert.Equal(t, "10.201.0.1", gw)
			lo, err := h.LinkByName("lo")
			require.NoError(t, err)
			assert.NotZero(t, lo.Attrs().Flags&1, "lo is up")
			return nil
		}))
		// Deleting one end of a veth deletes its peer in the same netlink
		// call, so both ends are gone when DeleteLink returns. Leaving it to
		// the namespace's end would not do: the kernel frees a namespace in
		// a work queue (cleanup_net), after RCU grace periods, which took
		// over a minute once under QEMU/TCG. The engine's Detach deletes
		// the host end first for the same reason.
		require.NoError(t, DeleteLink("vethtest1"))
		_, err = netlink.LinkByName("vethtest1")
		require.ErrorAs(t, err, new(netlink.LinkNotFoundError), "the host end is gone")
		require.NoError(t, InNetNS(ns, func(h *netlink.Handle) error {
			_, err := h.LinkByName("eth0")
			assert.ErrorAs(t, err, new(netlink.LinkNotFoundError), "the peer went with the host end")
			return nil
		}))
		require.NoError(t, DeleteLink("vethtest1"), "a missing link is no error")
		require.NoError(t, RemoveNetNS(ns))
		assert.NoFileExists(t, ns)
	})
}

func TestRemoveNetNSMissing(t *testing.T) {
	assert.NoError(t, RemoveNetNS(filepath.Join(t.TempDir(), "none")))
}

func TestMACFor(t *testing.T) {
	assert.Equal(t, "02:42:ac:11:00:02", MACFor(netip.MustParseAddr("172.17.0.2")).String())
}
