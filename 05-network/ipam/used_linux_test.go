package ipam

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"minibox/internal/testkit"
)

// TestUsedPrefixes reads the current network namespace (read only, no root
// needed) and compares with what the kernel tells through other doors:
// /proc/thread-self/net/route (the main table) and net.InterfaceAddrs. Other programs
// may add or remove links and routes meanwhile (another test's bridge), so
// the other doors are read before and after, until both reads agree.
func TestUsedPrefixes(t *testing.T) {
	var (
		used []netip.Prefix
		want map[netip.Prefix]string
	)
	// One thread for all the reads: /proc/thread-self/net and netlink's
	// sockets belong to the calling thread's namespace.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for try := 0; ; try++ {
		before := kernelPrefixes(t)
		var err error
		used, err = UsedPrefixes()
		require.NoError(t, err)
		if after := kernelPrefixes(t); maps.Equal(before, after) {
			want = after
			break
		}
		require.Less(t, try, 50, "the namespace's routes and addresses keep changing")
		time.Sleep(20 * time.Millisecond)
	}
	got := map[netip.Prefix]bool{}
	for _, p := range used {
		require.True(t, p.Addr().Is4(), p.String())
		require.Equal(t, p.Masked(), p, "masked")
		require.NotZero(t, p.Bits(), "no default route")
		require.False(t, got[p], "listed twice: %s", p)
		got[p] = true
	}
	require.True(t, got[mp("127.0.0.0/8")], "lo's 127.0.0.1/8 in %v", used)
	for p, what := range want {
		require.True(t, got[p], "%s %s missing from %v", what, p, used)
	}
}

// kernelPrefixes returns the prefixes of the IPv4 addresses (net.InterfaceAddrs)
// and of the main table's routes but the default one (/proc/thread-self/
// net/route; /proc/net is the namespace of the process's main thread),
// each with what it is.
func kernelPrefixes(t *testing.T) map[netip.Prefix]string {
	out := map[netip.Prefix]string{}
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() == nil {
			continue
		}
		ones, _ := n.Mask.Size()
		out[netip.PrefixFrom(netip.AddrFrom4([4]byte(n.IP.To4())), ones).Masked()] = "address " + n.String()
	}
	b, err := os.ReadFile("/proc/thread-self/net/route")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:] // a header first
	for _, l := range lines {
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 8, l)
		dst, mask := hex32(t, f[1]), hex32(t, f[7])
		ones, _ := net.IPMask(mask[:]).Size()
		if ones == 0 {
			continue // the default route
		}
		out[netip.PrefixFrom(netip.AddrFrom4(dst), ones)] = "route"
	}
	return out
}

// hex32 reads an address of /proc/net/route: hex of the 32-bit value in
// the host's byte order, which is the network order's bytes read natively.
func hex32(t *testing.T, s string) [4]byte {
	v, err := strconv.ParseUint(s, 16, 32)
	require.NoError(t, err, s)
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(v))
	return b
}

func TestPrefixOf(t *testing.T) {
	_, n, err := net.ParseCIDR("10.1.2.3/16")
	require.NoError(t, err)
	p, ok := prefixOf(n)
	require.True(t, ok)
	require.Equal(t, "10.1.0.0/16", p.String())
	p, ok = prefixOf(&net.IPNet{IP: net.ParseIP("10.1.2.3"), Mask: net.CIDRMask(24, 32)}) // 16-byte form
	require.True(t, ok)
	require.Equal(t, "10.1.2.0/24", p.String())
	_, n6, err := net.ParseCIDR("fd00::/64")
	require.NoError(t, err)
	_, ok = prefixOf(n6)
	require.False(t, ok)
	_, ok = prefixOf(nil)
	require.False(t, ok)
}

// TestUsedPrefixesNewNetns makes a network namespace of its own on a
// locked thread (freed when the thread leaves it), gives it routes in two tables and
// an address, and checks that UsedPrefixes sees them and ChooseSubnet
// steps over them. The address is noprefixroute (the kernel adds no
// 172.19.5.0/24 route for it), so only the address list names its prefix.
func TestUsedPrefixesNewNetns(t *testing.T) {
	testkit.Root(t)
	type result struct {
		used []netip.Prefix
		err  error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		// The thread goes back to the test's namespace at the end, so the
		// new one has no user left and the kernel frees it. Were the thread
		// left in it and locked, Go would end the thread, but not if it is
		// the main thread (Go parks that one instead, namespace and all).
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- result{err: err}
			runtime.UnlockOSThread()
			return
		}
		defer orig.Close()
		var r result
		defer func() {
			if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
				runtime.UnlockOSThread()
			} else if r.err == nil {
				r.err = fmt.Errorf("back to the test's netns: %w", err) // the thread stays locked: Go ends it
			}
			done <- r
		}()
		r.err = func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare: %w", err)
			}
			lo, err := netlink.LinkByName("lo")
			if err != nil {
				return err
			}
			if err := netlink.LinkSetUp(lo); err != nil {
				return err
			}
			if err := netlink.AddrAdd(lo, &netlink.Addr{IPNet: ipnet("172.19.5.1/24"), Flags: unix.IFA_F_NOPREFIXROUTE}); err != nil {
				return err
			}
			for _, rt := range []netlink.Route{
				{LinkIndex: lo.Attrs().Index, Dst: ipnet("172.17.0.0/16")},
				{LinkIndex: lo.Attrs().Index, Dst: ipnet("172.18.0.0/16"), Table: 100},
			} {
				if err := netlink.RouteAdd(&rt); err != nil {
					return fmt.Errorf("route %s: %w", rt.Dst, err)
				}
			}
			return nil
		}()
		if r.err == nil {
			r.used, r.err = UsedPrefixes()
		}
	}()
	r := <-done
	require.NoError(t, r.err)
	got := map[netip.Prefix]bool{}
	for _, p := range r.used {
		got[p] = true
		require.True(t, mp("127.0.0.0/8").Overlaps(p) || mp("172.16.0.0/12").Overlaps(p), "unexpected %s", p)
	}
	for _, p := range []string{"127.0.0.0/8", "172.17.0.0/16", "172.18.0.0/16", "172.19.5.0/24"} {
		require.True(t, got[mp(p)], "%s missing from %v", p, r.used)
	}
	sn, err := ChooseSubnet(r.used)
	require.NoError(t, err)
	require.Equal(t, "172.20.0.0/16", sn.String())
}

func ipnet(s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}
