package ipam

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	mp = netip.MustParsePrefix
	ma = netip.MustParseAddr
)

func TestParsePool(t *testing.T) {
	tests := []struct {
		subnet, gateway, ipRange string
		want                     Pool
		err                      string
	}{
		{subnet: "172.18.0.0/16", want: Pool{Subnet: mp("172.18.0.0/16"), Gateway: ma("172.18.0.1")}},
		{subnet: "10.1.2.0/24", gateway: "10.1.2.254", want: Pool{Subnet: mp("10.1.2.0/24"), Gateway: ma("10.1.2.254")}},
		{subnet: "10.1.0.0/16", ipRange: "10.1.5.0/24", want: Pool{Subnet: mp("10.1.0.0/16"), Gateway: ma("10.1.0.1"), IPRange: mp("10.1.5.0/24")}},
		{subnet: "10.1.0.0/16", gateway: "10.1.5.1", ipRange: "10.1.0.0/16", want: Pool{Subnet: mp("10.1.0.0/16"), Gateway: ma("10.1.5.1"), IPRange: mp("10.1.0.0/16")}},
		{subnet: "192.168.7.0/30", want: Pool{Subnet: mp("192.168.7.0/30"), Gateway: ma("192.168.7.1")}},

		{subnet: "", err: "no subnet given"},
		{subnet: "", gateway: "10.0.0.1", err: "every ip-range or gateway must have a corresponding subnet"},
		{subnet: "", ipRange: "10.0.0.0/24", err: "every ip-range or gateway must have a corresponding subnet"},
		{subnet: "foo", err: "invalid subnet foo: invalid CIDR block notation"},
		{subnet: "10.0.0.0", err: "invalid subnet 10.0.0.0: invalid CIDR block notation"},
		{subnet: "10.0.0.0/33", err: "invalid subnet 10.0.0.0/33: invalid CIDR block notation"},
		{subnet: "fd00::/64", err: "invalid subnet fd00::/64: minibox's networks are IPv4 only"},
		{subnet: "10.1.2.3/16", err: "invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16"},
		{subnet: "10.0.0.0/31", err: "invalid subnet 10.0.0.0/31: too small, a network needs at least a /30"},
		{subnet: "10.0.0.1/32", err: "invalid subnet 10.0.0.1/32: too small"},
		{subnet: "10.0.0.0/24", gateway: "10.0.1.1", err: "invalid gateway 10.0.1.1: it should belong to the parent subnet 10.0.0.0/24"},
		{subnet: "10.0.0.0/24", gateway: "bar", err: "invalid gateway bar: invalid address"},
		{subnet: "10.0.0.0/24", gateway: "10.0.0.1/24", err: "invalid gateway 10.0.0.1/24: invalid address"},
		{subnet: "10.0.0.0/24", gateway: "fd00::1", err: "invalid gateway fd00::1: parent subnet is an IPv4 block"},
		{subnet: "10.0.0.0/24", gateway: "10.0.0.0", err: "invalid gateway 10.0.0.0: it is the network or broadcast address of 10.0.0.0/24"},
		{subnet: "10.0.0.0/24", gateway: "10.0.0.255", err: "invalid gateway 10.0.0.255: it is the network or broadcast address"},
		{subnet: "10.0.0.0/24", ipRange: "x", err: "invalid ip-range x: invalid CIDR block notation"},
		{subnet: "10.0.0.0/24", ipRange: "fd00::/120", err: "invalid ip-range fd00::/120: parent subnet is an IPv4 block"},
		{subnet: "10.0.0.0/24", ipRange: "10.0.0.0/16", err: "invalid ip-range 10.0.0.0/16: CIDR block is bigger than its parent subnet 10.0.0.0/24"},
		{subnet: "10.0.0.0/24", ipRange: "10.0.0.130/25", err: "invalid ip-range 10.0.0.130/25: it should be 10.0.0.128/25"},
		{subnet: "10.0.0.0/24", ipRange: "10.0.1.0/25", err: "invalid ip-range 10.0.1.0/25: parent subnet 10.0.0.0/24 doesn't contain ip-range"},
	}
	for _, tt := range tests {
		t.Run(tt.subnet+","+tt.gateway+","+tt.ipRange, func(t *testing.T) {
			p, err := ParsePool(tt.subnet, tt.gateway, tt.ipRange)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p)
		})
	}
}

func FuzzParsePool(f *testing.F) {
	for _, s := range [][3]string{
		{"172.18.0.0/16", "", ""}, {"10.1.0.0/16", "10.1.5.1", "10.1.5.0/24"}, {"10.0.0.0/30", "10.0.0.2", ""},
		{"10.0.0.0/31", "", ""}, {"fd00::/64", "", ""}, {"10.0.0.0/24", "10.0.0.255", "10.0.0.128/25"},
		{"", "1.2.3.4", ""}, {"1.2.3.4/8", "x", "y"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, subnet, gateway, ipRange string) {
		p, err := ParsePool(subnet, gateway, ipRange)
		if err != nil {
			require.Equal(t, Pool{}, p)
			require.NotEmpty(t, err.Error())
			return
		}
		require.True(t, p.Subnet.Addr().Is4(), subnet)
		require.Equal(t, p.Subnet.Masked(), p.Subnet)
		require.LessOrEqual(t, p.Subnet.Bits(), 30)
		require.True(t, p.Subnet.Contains(p.Gateway))
		require.NotEqual(t, p.Subnet.Addr(), p.Gateway)
		require.NotEqual(t, broadcast(p.Subnet), p.Gateway)
		if gateway == "" {
			require.Equal(t, p.Subnet.Addr().Next(), p.Gateway)
		}
		if ipRange == "" {
			require.False(t, p.IPRange.IsValid())
		} else {
			require.Equal(t, p.IPRange.Masked(), p.IPRange)
			require.True(t, p.Subnet.Contains(p.IPRange.Addr()))
			require.GreaterOrEqual(t, p.IPRange.Bits(), p.Subnet.Bits())
		}
		// What parses prints back as its canonical form and parses the same.
		var r string
		if p.IPRange.IsValid() {
			r = p.IPRange.String()
		}
		q, err := ParsePool(p.Subnet.String(), p.Gateway.String(), r)
		require.NoError(t, err)
		require.Equal(t, p, q)
	})
}

func TestChooseSubnet(t *testing.T) {
	all := append([]netip.Prefix(nil), defaultPools...)
	tests := []struct {
		name string
		used []netip.Prefix
		want string
		err  bool
	}{
		{name: "nothing used", want: "172.17.0.0/16"},
		{name: "default bridge", used: []netip.Prefix{mp("172.17.0.0/16")}, want: "172.18.0.0/16"},
		{name: "a host route inside a pool", used: []netip.Prefix{mp("172.17.0.0/16"), mp("172.18.3.0/24")}, want: "172.19.0.0/16"},
		{name: "a wide route over all 172", used: []netip.Prefix{mp("172.16.0.0/12")}, want: "192.168.0.0/20"},
		{name: "a host address in 192.168", used: []netip.Prefix{mp("172.16.0.0/12"), mp("192.168.1.0/24")}, want: "192.168.16.0/20"},
		{name: "loopback, 10/8 and an invalid prefix overlap nothing", used: []netip.Prefix{mp("127.0.0.0/8"), mp("10.0.0.0/8"), {}}, want: "172.17.0.0/16"},
		{name: "all taken but the last", used: all[:len(all)-1], want: "192.168.240.0/20"},
		{name: "all taken", used: all, err: true},
		{name: "all taken by two wide routes", used: []netip.Prefix{mp("172.0.0.0/8"), mp("192.168.0.0/16")}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ChooseSubnet(tt.used)
			if tt.err {
				require.EqualError(t, err, "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.String())
		})
	}
}

func TestDefaultPools(t *testing.T) {
	require.Len(t, defaultPools, 15+16)
	assert.Equal(t, "172.17.0.0/16", defaultPools[0].String())
	assert.Equal(t, "172.31.0.0/16", defaultPools[14].String())
	assert.Equal(t, "192.168.0.0/20", defaultPools[15].String())
	assert.Equal(t, "192.168.240.0/20", defaultPools[30].String())
	for i, p := range defaultPools {
		for _, q := range defaultPools[i+1:] {
			require.False(t, p.Overlaps(q), "%s %s", p, q)
		}
	}
}

func TestBroadcast(t *testing.T) {
	for p, b := range map[string]string{
		"10.0.0.0/24": "10.0.0.255", "172.18.0.0/16": "172.18.255.255", "192.168.16.0/20": "192.168.31.255",
		"10.0.0.4/30": "10.0.0.7", "0.0.0.0/0": "255.255.255.255", "10.1.2.3/32": "10.1.2.3",
	} {
		assert.Equal(t, b, broadcast(mp(p)).String(), p)
	}
}

func TestLast(t *testing.T) {
	for _, tc := range []struct{ subnet, gw, rng, want string }{
		{"10.0.0.0/24", "10.0.0.1", "", "10.0.0.254"},
		{"10.0.0.0/24", "10.0.0.254", "", "10.0.0.253"}, // the gateway is skipped
		{"10.0.0.0/24", "10.0.0.1", "10.0.0.16/28", "10.0.0.31"},
		{"10.0.0.0/24", "10.0.0.1", "10.0.0.240/28", "10.0.0.254"}, // the range's end is the broadcast
		{"10.0.0.4/30", "10.0.0.5", "", "10.0.0.6"},
	} {
		p, err := ParsePool(tc.subnet, tc.gw, tc.rng)
		require.NoError(t, err)
		assert.Equal(t, tc.want, Last(p).String(), "%+v", tc)
	}
}

// set makes a used-address set from strings.
func set(addrs ...string) map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	for _, a := range addrs {
		m[ma(a)] = true
	}
	return m
}

func TestNextFree(t *testing.T) {
	p24 := Pool{Subnet: mp("10.0.0.0/24"), Gateway: ma("10.0.0.1")}
	full24 := map[netip.Addr]bool{}
	for a := ma("10.0.0.2"); a != ma("10.0.0.255"); a = a.Next() {
		full24[a] = true
	}
	tests := []struct {
		name string
		pool Pool
		used map[netip.Addr]bool
		want string // "" = none
	}{
		{name: "empty: after the gateway", pool: p24, want: "10.0.0.2"},
		{name: "lowest free", pool: p24, used: set("10.0.0.2", "10.0.0.3", "10.0.0.5"), want: "10.0.0.4"},
		{name: "a hole reused", pool: p24, used: set("10.0.0.3"), want: "10.0.0.2"},
		{name: "gateway elsewhere: .1 is free", pool: Pool{Subnet: mp("10.0.0.0/24"), Gateway: ma("10.0.0.254")}, want: "10.0.0.1"},
		{name: "gateway in the middle skipped", pool: Pool{Subnet: mp("10.0.0.0/24"), Gateway: ma("10.0.0.3")}, used: set("10.0.0.1", "10.0.0.2"), want: "10.0.0.4"},
		{name: "last host address", pool: p24, used: func() map[netip.Addr]bool {
			m := set()
			for a := range full24 {
				m[a] = true
			}
			delete(m, ma("10.0.0.254"))
			return m
		}(), want: "10.0.0.254"},
		{name: "full: broadcast is never handed out", pool: p24, used: full24},
		{name: "/30 has one", pool: Pool{Subnet: mp("10.0.0.0/30"), Gateway: ma("10.0.0.1")}, want: "10.0.0.2"},
		{name: "/30 full", pool: Pool{Subnet: mp("10.0.0.0/30"), Gateway: ma("10.0.0.1")}, used: set("10.0.0.2")},
		{name: "ip-range inside", pool: Pool{Subnet: mp("10.1.0.0/16"), Gateway: ma("10.1.0.1"), IPRange: mp("10.1.5.0/24")}, want: "10.1.5.0"},
		{name: "ip-range inside, used", pool: Pool{Subnet: mp("10.1.0.0/16"), Gateway: ma("10.1.0.1"), IPRange: mp("10.1.5.0/24")}, used: set("10.1.5.0", "10.1.5.1"), want: "10.1.5.2"},
		{name: "ip-range at the start skips network and gateway", pool: Pool{Subnet: mp("10.1.0.0/16"), Gateway: ma("10.1.0.1"), IPRange: mp("10.1.0.0/30")}, want: "10.1.0.2"},
		{name: "ip-range full", pool: Pool{Subnet: mp("10.1.0.0/16"), Gateway: ma("10.1.0.1"), IPRange: mp("10.1.0.0/30")}, used: set("10.1.0.2", "10.1.0.3")},
		{name: "ip-range at the end: no broadcast", pool: Pool{Subnet: mp("10.1.0.0/16"), Gateway: ma("10.1.0.1"), IPRange: mp("10.1.255.254/31")}, used: set("10.1.255.254")},
		{name: "ip-range is the whole subnet", pool: Pool{Subnet: mp("10.0.0.0/24"), Gateway: ma("10.0.0.1"), IPRange: mp("10.0.0.0/24")}, used: set("10.0.0.2"), want: "10.0.0.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := nextFree(tt.pool, tt.used)
			if tt.want == "" {
				assert.False(t, ok, "got %s", got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, got.String())
		})
	}
}

func TestValidID(t *testing.T) {
	for _, id := range []string{"abc123", "0123456789abcdef", "my-net_1"} {
		assert.NoError(t, validID(id), id)
	}
	for _, id := range []string{"", ".", "..", "a/b", "/", ".hidden", "a\x00b"} {
		err := validID(id)
		require.Error(t, err, id)
		assert.True(t, strings.HasPrefix(err.Error(), "invalid network id"))
	}
}
