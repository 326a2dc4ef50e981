package portmap

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// render writes a Binding back in -p's syntax.
func render(b Binding) string {
	s := fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto)
	switch {
	case b.HostPortEnd != 0:
		s = fmt.Sprintf("%d-%d:%s", b.HostPort, b.HostPortEnd, s)
	case b.HostPort != 0:
		s = fmt.Sprintf("%d:%s", b.HostPort, s)
	default:
		s = ":" + s
	}
	if b.HostIP.IsValid() {
		return b.HostIP.String() + ":" + s
	}
	return s
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"80", "53/udp", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "8080-8081:80-81",
		"80-82", "8080-8090:80", "[::1]:80:80", "published=8080,target=80,protocol=udp", "a=b,=c", "1:2:3:4", "80/udp/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		bs, err := Parse(s)
		if err != nil {
			require.Nil(t, bs)
			require.NotEmpty(t, err.Error())
			return
		}
		require.NotEmpty(t, bs)
		for i, b := range bs {
			require.NotZero(t, b.ContainerPort)
			require.Contains(t, []string{"tcp", "udp"}, b.Proto)
			require.True(t, !b.HostIP.IsValid() || b.HostIP.Is4(), b.HostIP)
			if b.HostPortEnd != 0 {
				require.Len(t, bs, 1)
				require.Greater(t, b.HostPortEnd, b.HostPort)
				require.NotZero(t, b.HostPort)
			}
			if i > 0 {
				prev := bs[i-1]
				require.Equal(t, prev.ContainerPort+1, b.ContainerPort)
				require.Equal(t, prev.HostIP, b.HostIP)
				if prev.HostPort != 0 {
					require.Equal(t, prev.HostPort+1, b.HostPort)
				}
			}
			// What Parse read, written back, reads the same.
			again, err := Parse(render(b))
			require.NoError(t, err, render(b))
			require.Equal(t, []Binding{b}, again)
		}
	})
}

func FuzzParseExpose(f *testing.F) {
	for _, s := range []string{"80", "80/udp", "8000-8010", "8080:80", "", "10-5", "80/foo", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseExpose(s)
		if err != nil {
			require.Nil(t, keys)
			return
		}
		require.NotEmpty(t, keys)
		require.NotContains(t, s, ":")
		for _, k := range keys {
			port, proto, err := parseKey(k)
			require.NoError(t, err, k)
			require.Equal(t, k, Key(port, proto))
			require.True(t, strings.HasSuffix(k, "/tcp") || strings.HasSuffix(k, "/udp"), k)
		}
	})
}
