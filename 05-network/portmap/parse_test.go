package portmap

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var lo = netip.MustParseAddr("127.0.0.1")

func tcp(h, c uint16) Binding { return Binding{HostPort: h, ContainerPort: c, Proto: "tcp"} }

func TestParse(t *testing.T) {
	ip := func(b Binding, a netip.Addr) Binding { b.HostIP = a; return b }
	udp := func(b Binding) Binding { b.Proto = "udp"; return b }
	tests := []struct {
		in   string
		want []Binding
		err  string
	}{
		{in: "80", want: []Binding{tcp(0, 80)}},
		{in: "80/tcp", want: []Binding{tcp(0, 80)}},
		{in: "80/", want: []Binding{tcp(0, 80)}},
		{in: "53/udp", want: []Binding{udp(tcp(0, 53))}},
		{in: "53/UDP", want: []Binding{udp(tcp(0, 53))}},
		{in: "8080:80", want: []Binding{tcp(8080, 80)}},
		{in: "0:80", want: []Binding{tcp(0, 80)}},
		{in: "08080:080", want: []Binding{tcp(8080, 80)}},
		{in: "127.0.0.1:8080:80", want: []Binding{ip(tcp(8080, 80), lo)}},
		{in: "127.0.0.1::80/udp", want: []Binding{udp(ip(tcp(0, 80), lo))}},
		{in: "0.0.0.0:8080:80", want: []Binding{ip(tcp(8080, 80), netip.IPv4Unspecified())}},
		{in: "8080-8081:80-81", want: []Binding{tcp(8080, 80), tcp(8081, 81)}},
		{in: "80-82", want: []Binding{tcp(0, 80), tcp(0, 81), tcp(0, 82)}},
		{in: "127.0.0.1::80-81/udp", want: []Binding{udp(ip(tcp(0, 80), lo)), udp(ip(tcp(0, 81), lo))}},
		{in: "8080-8090:80", want: []Binding{{HostPort: 8080, HostPortEnd: 8090, ContainerPort: 80, Proto: "tcp"}}},
		{in: "8080-8080:80-80", want: []Binding{tcp(8080, 80)}},
		{in: "65535:1", want: []Binding{tcp(65535, 1)}},
		{in: "published=8080,target=80", want: []Binding{tcp(8080, 80)}},
		{in: "target=53,published=5353,protocol=udp,mode=host", want: []Binding{udp(tcp(5353, 53))}},
		{in: "target=80", want: []Binding{tcp(0, 80)}},

		{in: "", err: "no port specified: <empty>"},
		{in: "8080:", err: "no port specified: 8080:<empty>"},
		{in: "/udp", err: "no port specified: /udp<empty>"},
		{in: "x", err: "invalid containerPort: x"},
		{in: "0", err: "invalid containerPort: 0"},
		{in: "65536", err: "invalid containerPort: 65536"},
		{in: "-80", err: "invalid containerPort: -80"},
		{in: "+80", err: "invalid containerPort: +80"},
		{in: " 80", err: "invalid containerPort:  80"},
		{in: "82-80", err: "invalid containerPort: 82-80"},
		{in: "0-80", err: "invalid containerPort: 0-80"},
		{in: "80-81-82", err: "invalid containerPort: 80-81-82"},
		{in: "x:80", err: "invalid hostPort: x"},
		{in: "127.0.0.1:80", err: "invalid hostPort: 127.0.0.1"},
		{in: "70000:80", err: "invalid hostPort: 70000"},
		{in: "9-8:80", err: "invalid hostPort: 9-8"},
		{in: "0-8:80", err: "invalid hostPort: 0-8"},
		{in: "8080:80-81", err: "invalid ranges specified for container and host Ports: 80-81 and 8080"},
		{in: "8080-8082:80-81", err: "invalid ranges specified for container and host Ports: 80-81 and 8080-8082"},
		{in: "80/sctp", err: "invalid proto: sctp (minibox publishes tcp and udp)"},
		{in: "80/icmp", err: "invalid proto: icmp"},
		{in: "80/udp/x", err: "invalid proto: udp/x"},
		{in: "1.2.3:80:80", err: "invalid IP address: 1.2.3"},
		{in: "localhost:80:80", err: "invalid IP address: localhost"},
		{in: "[::1]:80:80", err: "invalid IP address: [::1]: minibox publishes ports on IPv4 addresses only"},
		{in: "::1:80:80", err: "invalid IP address: ::1: minibox publishes ports on IPv4 addresses only"},
		{in: "::ffff:1.2.3.4:80:80", err: "IPv4 addresses only"},
		{in: "1:2:3:4", err: "invalid IP address: 1:2"},
		{in: "published=8080,target", err: "invalid publish opts format (should be name=value but got 'target')"},
		{in: "published=8080", err: "no port specified: 8080:/tcp<empty>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseWholeRange(t *testing.T) {
	bs, err := Parse("1-65535/udp")
	require.NoError(t, err)
	require.Len(t, bs, 65535)
	assert.Equal(t, Binding{ContainerPort: 65535, Proto: "udp"}, bs[65534])
}

func TestParseExpose(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "80", want: []string{"80/tcp"}},
		{in: "80/udp", want: []string{"80/udp"}},
		{in: "80/TCP", want: []string{"80/tcp"}},
		{in: "8000-8002", want: []string{"8000/tcp", "8001/tcp", "8002/tcp"}},
		{in: "53-54/udp", want: []string{"53/udp", "54/udp"}},
		{in: "8080:80", err: "invalid port format for --expose: 8080:80"},
		{in: "", err: "invalid range format for --expose: , error: empty string specified for ports"},
		{in: "x", err: `invalid range format for --expose: x, error: invalid port: "x"`},
		{in: "0", err: "invalid range format for --expose: 0, error: invalid port: 0"},
		{in: "10-5", err: "invalid range format for --expose: 10-5, error: invalid range specified for port: 10-5"},
		{in: "80/foo", err: "invalid proto: foo"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseExpose(tt.in)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestKey(t *testing.T) {
	assert.Equal(t, "80/tcp", Key(80, "tcp"))
	assert.Equal(t, "53/udp", Key(53, "udp"))
	assert.Equal(t, "8080/tcp", Key(8080, ""))
}

func TestPublishAll(t *testing.T) {
	t.Run("nothing taken", func(t *testing.T) {
		bs, err := PublishAll([]string{"443/tcp", "80/tcp", "53/udp", "53/tcp", "80", "8080/tcp"}, nil)
		require.NoError(t, err)
		assert.Equal(t, []Binding{
			{HostPort: 32768, ContainerPort: 53, Proto: "tcp"},
			{HostPort: 32768, ContainerPort: 53, Proto: "udp"},
			{HostPort: 32769, ContainerPort: 80, Proto: "tcp"},
			{HostPort: 32770, ContainerPort: 443, Proto: "tcp"},
			{HostPort: 32771, ContainerPort: 8080, Proto: "tcp"},
		}, bs)
	})
	t.Run("taken ports are skipped", func(t *testing.T) {
		taken := func(proto string, port uint16) bool {
			return proto == "tcp" && (port == 32768 || port == 32770) || proto == "udp" && port == 32768
		}
		bs, err := PublishAll([]string{"80/tcp", "81/tcp", "53/udp"}, taken)
		require.NoError(t, err)
		assert.Equal(t, []Binding{
			{HostPort: 32769, ContainerPort: 53, Proto: "udp"},
			{HostPort: 32769, ContainerPort: 80, Proto: "tcp"},
			{HostPort: 32771, ContainerPort: 81, Proto: "tcp"},
		}, bs)
		for _, b := range bs {
			assert.False(t, taken(b.Proto, b.HostPort))
		}
	})
	t.Run("none left", func(t *testing.T) {
		_, err := PublishAll([]string{"80/tcp"}, func(string, uint16) bool { return true })
		require.ErrorIs(t, err, ErrAllPortsAllocated)
		assert.EqualError(t, err, "publish 80/tcp: all ports are allocated")
	})
	t.Run("the last one", func(t *testing.T) {
		bs, err := PublishAll([]string{"80/tcp"}, func(_ string, p uint16) bool { return p < EphemeralLast })
		require.NoError(t, err)
		assert.Equal(t, []Binding{{HostPort: EphemeralLast, ContainerPort: 80, Proto: "tcp"}}, bs)
	})
	t.Run("bad key", func(t *testing.T) {
		_, err := PublishAll([]string{"80/tcp", "x/tcp"}, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `invalid port "x/tcp"`)
	})
	t.Run("empty", func(t *testing.T) {
		bs, err := PublishAll(nil, nil)
		require.NoError(t, err)
		assert.Empty(t, bs)
	})
}

func TestPorts(t *testing.T) {
	got := Ports([]Binding{
		tcp(8080, 80),
		{HostIP: lo, HostPort: 8081, ContainerPort: 80, Proto: "tcp"},
		{HostPort: 5353, ContainerPort: 53, Proto: "udp"},
	})
	assert.Equal(t, map[string][]HostBinding{
		"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}, {HostIP: "127.0.0.1", HostPort: "8081"}},
		"53/udp": {{HostIP: "0.0.0.0", HostPort: "5353"}},
	}, got)
}

func TestFormat(t *testing.T) {
	all := func(port string) []HostBinding { return []HostBinding{{HostIP: "0.0.0.0", HostPort: port}} }
	tests := []struct {
		name  string
		ports map[string][]HostBinding
		want  string
	}{
		{name: "none", want: ""},
		{name: "exposed", ports: map[string][]HostBinding{"80/tcp": nil}, want: "80/tcp"},
		{name: "one", ports: map[string][]HostBinding{"80/tcp": all("8080")}, want: "0.0.0.0:8080->80/tcp"},
		{name: "no address is all", ports: map[string][]HostBinding{"80/tcp": {{HostPort: "8080"}}}, want: "0.0.0.0:8080->80/tcp"},
		{name: "no port is not published", ports: map[string][]HostBinding{"80/tcp": {{HostIP: "0.0.0.0"}}}, want: "80/tcp"},
		{
			name:  "published and exposed",
			ports: map[string][]HostBinding{"80/tcp": all("8080"), "53/udp": nil},
			want:  "53/udp, 0.0.0.0:8080->80/tcp",
		},
		{
			// Docker collapses a run only where the host port is the
			// container's; other mappings are listed one by one.
			name:  "ranges",
			ports: map[string][]HostBinding{"8080/tcp": all("8080"), "8081/tcp": all("8081"), "8082/tcp": all("8082"), "81/tcp": all("9081"), "82/tcp": all("9082")},
			want:  "0.0.0.0:8080-8082->8080-8082/tcp, 0.0.0.0:9081->81/tcp, 0.0.0.0:9082->82/tcp",
		},
		{
			name:  "exposed range",
			ports: map[string][]HostBinding{"80/tcp": nil, "81/tcp": nil, "82/tcp": nil, "84/tcp": nil, "81/udp": nil},
			want:  "80-82/tcp, 84/tcp, 81/udp",
		},
		{
			name: "two addresses and protocols",
			ports: map[string][]HostBinding{
				"53/tcp": {{HostIP: "127.0.0.1", HostPort: "53"}},
				"53/udp": {{HostIP: "127.0.0.1", HostPort: "53"}, {HostIP: "0.0.0.0", HostPort: "53"}},
				"54/udp": all("54"),
			},
			want: "0.0.0.0:53-54->53-54/udp, 127.0.0.1:53->53/tcp, 127.0.0.1:53->53/udp",
		},
		{name: "a range of host ports", ports: map[string][]HostBinding{"80/tcp": all("8080-8090")}, want: "0.0.0.0:8080->80/tcp"},
		{name: "a bad key is left out", ports: map[string][]HostBinding{"x": nil, "80/tcp": nil}, want: "80/tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Format(tt.ports))
		})
	}
}
