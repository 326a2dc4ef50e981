package commands

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
	"minibox/05-network/network"
)

func TestNetFilter(t *testing.T) {
	n := &network.Network{Name: "appnet", ID: "abcdef0123", Driver: "bridge", Scope: "local", Labels: map[string]string{"team": "red"}}
	for _, c := range []struct {
		filters []string
		match   bool
	}{
		{nil, true},
		{[]string{"name=app"}, true},
		{[]string{"name=db"}, false},
		{[]string{"name=db", "name=app"}, true}, // one key twice: either
		{[]string{"name=app", "driver=macvlan"}, false},
		{[]string{"id=abc"}, true},
		{[]string{"id=bcd"}, false},
		{[]string{"label=team"}, true},
		{[]string{"label=team=red"}, true},
		{[]string{"label=team=blue"}, false},
		{[]string{"type=custom"}, true},
		{[]string{"type=builtin"}, false},
		{[]string{"scope=local"}, true},
	} {
		f, err := netFilter(c.filters)
		require.NoError(t, err, c.filters)
		assert.Equal(t, c.match, f(n), "%v", c.filters)
	}
	for _, bad := range [][]string{{"name"}, {"color=red"}, {"type=other"}} {
		_, err := netFilter(bad)
		assert.Error(t, err, "%v", bad)
	}
}

func TestLabelKeep(t *testing.T) {
	n := &network.Network{Labels: map[string]string{"keep": "yes"}}
	keep, err := labelKeep([]string{"label=keep"})
	require.NoError(t, err)
	assert.False(t, keep(n), "label=keep prunes the labelled ones")
	keep, err = labelKeep([]string{"label!=keep"})
	require.NoError(t, err)
	assert.True(t, keep(n))
	_, err = labelKeep([]string{"until=24h"})
	assert.Error(t, err)
}

func TestKeyValues(t *testing.T) {
	kv, err := keyValues("-o", []string{"parent=eth0", "macvlan_mode=bridge", "empty="})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"parent": "eth0", "macvlan_mode": "bridge", "empty": ""}, kv)
	for _, bad := range []string{"noequals", "=value"} {
		_, err := keyValues("-o", []string{bad})
		assert.Error(t, err, bad)
	}
}

// Apply's checks that need no network store: wrong input is refused
// before anything is made.
func TestApplyRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		x    createExt
		want string
	}{
		{"container mode with -p", createExt{network: ptr("container:web"), publish: []string{"80"}}, "conflicting options"},
		{"empty container", createExt{network: ptr("container:")}, "needs a container"},
		{"--ip on none", createExt{network: ptr("none"), ip: "10.0.0.2"}, "user defined networks only"},
		{"alias on host", createExt{network: ptr("host"), aliases: []string{"a"}}, "user defined networks"},
		{"bad dns", createExt{network: ptr("none"), dns: []string{"dns.example"}}, "is not an ip address"},
		{"bad add-host", createExt{network: ptr("none"), addHosts: []string{"nohost"}}, "--add-host"},
		{"bad -p", createExt{network: ptr("none"), publish: []string{"99999:80"}}, "invalid"},
		{"bad expose", createExt{network: ptr("none"), expose: []string{"http"}}, "invalid"},
	} {
		var req engine.CreateRequest
		err := c.x.Apply(&req)
		require.Error(t, err, c.name)
		assert.Contains(t, err.Error(), c.want, c.name)
	}
}

// --add-host values the CLI takes: host-gateway stays as written (it is
// resolved when the container's /etc/hosts is written, on its networks).
func TestApplyAddHost(t *testing.T) {
	for _, c := range []struct {
		in  string
		bad bool
	}{
		{in: "db:10.0.0.7"},
		{in: "gw:host-gateway"},
		{in: "host.docker.internal=host-gateway"},
		{in: "gw:host-gateway:80", bad: true},
		{in: "gw:hostgateway", bad: true},
		{in: ":host-gateway", bad: true},
	} {
		var req engine.CreateRequest
		x := createExt{network: ptr("none"), addHosts: []string{c.in}}
		err := x.Apply(&req)
		if c.bad {
			require.ErrorContains(t, err, "--add-host", c.in)
			continue
		}
		require.NoError(t, err, c.in)
		assert.Equal(t, []string{c.in}, req.HostConfig.ExtraHosts, c.in)
	}
}

func TestApplyPorts(t *testing.T) {
	x := createExt{network: ptr("none"), publish: []string{"127.0.0.1:8080:80", "8081-8083:81", "53/udp"}, expose: []string{"9000-9001"}}
	var req engine.CreateRequest
	require.NoError(t, x.Apply(&req))
	assert.Equal(t, []engine.PortBinding{{HostIP: "127.0.0.1", HostPort: "8080"}}, req.HostConfig.PortBindings["80/tcp"])
	assert.Equal(t, []engine.PortBinding{{HostPort: "8081-8083"}}, req.HostConfig.PortBindings["81/tcp"])
	assert.Equal(t, []engine.PortBinding{{}}, req.HostConfig.PortBindings["53/udp"])
	for _, k := range []string{"80/tcp", "81/tcp", "53/udp", "9000/tcp", "9001/tcp"} {
		assert.Contains(t, req.Config.ExposedPorts, k)
	}
	// host mode drops -p, as Docker does (with a warning there).
	x = createExt{network: ptr("host"), publish: []string{"80"}}
	req = engine.CreateRequest{}
	require.NoError(t, x.Apply(&req))
	assert.Empty(t, req.HostConfig.PortBindings)
}

func FuzzNetFilter(f *testing.F) {
	for _, s := range []string{"name=a", "label=k=v", "type=custom", "x", "=", "id="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := netFilter([]string{s})
		if err == nil {
			m(&network.Network{Labels: map[string]string{}})
		}
	})
}

func FuzzKeyValues(f *testing.F) {
	for _, s := range []string{"a=b", "=", "a", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kv, err := keyValues("-o", []string{s})
		if err == nil && len(kv) != 1 {
			t.Fatalf("%q: %v", s, kv)
		}
	})
}

func ptr(s string) *string { return &s }
