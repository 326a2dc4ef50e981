package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

func newTestManager(t *testing.T) *Manager {
	dir := t.TempDir()
	m, err := New(filepath.Join(dir, "data"), filepath.Join(dir, "run"), "")
	require.NoError(t, err)
	return m
}

// Create's checks, each refusing with nothing written; the defaults come
// first and the names are Docker's.
func TestCreateRefuses(t *testing.T) {
	m := newTestManager(t)
	_, err := m.Create(CreateRequest{Name: "appnet", Subnet: "10.90.0.0/24"})
	require.NoError(t, err)
	for _, c := range []struct {
		r    CreateRequest
		want string
	}{
		{CreateRequest{Name: "appnet"}, "network with name appnet already exists"},
		{CreateRequest{Name: "bad name"}, "invalid network name"},
		{CreateRequest{Name: "-x"}, "invalid network name"},
		{CreateRequest{Name: "o1", Subnet: "10.90.0.128/25"}, "Pool overlaps"},
		{CreateRequest{Name: "o2", Gateway: "10.1.1.1"}, "need --subnet"},
		{CreateRequest{Name: "o3", Driver: "overlay2"}, "not found"},
		{CreateRequest{Name: "o4", Driver: "host"}, "only one instance"},
		{CreateRequest{Name: "o5", Driver: "macvlan"}, "-o parent="},
		{CreateRequest{Name: "o6", Driver: "macvlan", Options: map[string]string{"parent": "eth0", "macvlan_mode": "weird"}}, "macvlan_mode"},
		{CreateRequest{Name: "o7", Driver: "macvlan", Options: map[string]string{"parent": "a b"}}, "not an interface name"},
		{CreateRequest{Name: "o8", Options: map[string]string{"com.docker.network.bridge.name": "waytoolongbridgename"}}, "1 to 15"},
		{CreateRequest{Name: "o9", Options: map[string]string{"mtu": "9000"}}, "not known"},
	} {
		before, _ := os.ReadDir(filepath.Join(m.dataRoot, "networks", "nets"))
		_, err := m.Create(c.r)
		require.Error(t, err, "%+v", c.r)
		assert.Contains(t, err.Error(), c.want, "%+v", c.r)
		after, _ := os.ReadDir(filepath.Join(m.dataRoot, "networks", "nets"))
		assert.Equal(t, len(before), len(after), "a refused create wrote a network")
	}
	nets, err := m.List()
	require.NoError(t, err)
	var names []string
	for _, n := range nets {
		names = append(names, n.Name)
	}
	assert.Equal(t, []string{"bridge", "host", "none", "appnet"}, names)
	require.Error(t, m.Remove("bridge"))
	n, err := m.Get(nets[3].ID[:5])
	require.NoError(t, err)
	assert.Equal(t, "appnet", n.Name)
	assert.Equal(t, "br-"+n.ID[:12], n.bridge())
	require.NoError(t, m.Remove("appnet"))
	_, err = m.Get("appnet")
	assert.ErrorContains(t, err, "network appnet not found")
}

func TestHostPorts(t *testing.T) {
	for _, c := range []struct {
		in     string
		lo, hi uint16
		bad    bool
	}{
		{"", 0, 0, false}, {"8080", 8080, 8080, false}, {"8000-8010", 8000, 8010, false},
		{"x", 0, 0, true}, {"9-8", 0, 0, true}, {"70000", 0, 0, true},
	} {
		lo, hi, err := hostPorts(c.in)
		if c.bad {
			assert.Error(t, err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		assert.Equal(t, [2]uint16{c.lo, c.hi}, [2]uint16{lo, hi}, c.in)
	}
}

func FuzzHostPorts(f *testing.F) {
	for _, s := range []string{"80", "1-2", "-", "65535-65535", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := hostPorts(s)
		if err == nil && hi < lo {
			t.Fatalf("%q: %d > %d", s, lo, hi)
		}
	})
}

func TestHostIfStable(t *testing.T) {
	a := hostIf("c1", "n1")
	assert.Equal(t, a, hostIf("c1", "n1"))
	assert.NotEqual(t, a, hostIf("c1", "n2"))
	assert.LessOrEqual(t, len(a), 15, "IFNAMSIZ")
}

// `network disconnect -f` drops what cannot be taken down cleanly: a
// network removed since the stopped container was connected to it, and a
// running container's network whose attachment record is gone. Without -f
// both are errors and the config keeps the network.
func TestDisconnectForce(t *testing.T) {
	m := newTestManager(t)
	app, err := m.Create(CreateRequest{Name: "appnet", Subnet: "10.90.0.0/24"})
	require.NoError(t, err)
	newC := func() *engine.Container {
		c := &engine.Container{ID: strings.Repeat("c", 64), Name: "web"}
		c.HostConfig.NetworkMode = "gone"
		c.NetworkSettings.Networks = map[string]*engine.EndpointSettings{
			"gone":   {NetworkID: strings.Repeat("d", 64)},
			"appnet": {NetworkID: app.ID},
		}
		return c
	}

	c := newC()
	err = m.Disconnect(c, false, "gone", false)
	require.ErrorContains(t, err, "network gone not found")
	assert.Len(t, c.NetworkSettings.Networks, 2)
	assert.Equal(t, "gone", c.HostConfig.NetworkMode)

	for _, ref := range []string{"gone", strings.Repeat("d", 12)} {
		c = newC()
		require.NoError(t, m.Disconnect(c, false, ref, true), ref)
		// The mode was the stale network: the next network takes its place.
		assert.Equal(t, "appnet", c.HostConfig.NetworkMode, ref)
		assert.NotContains(t, c.NetworkSettings.Networks, "gone", ref)
	}
	c = newC()
	require.ErrorContains(t, m.Disconnect(c, false, "nosuch", true), "network nosuch not found")
	assert.Len(t, c.NetworkSettings.Networks, 2)

	// Running, but no attachment record (its monitor is restarting it, or
	// the record was lost): -f takes the network off the config.
	c = newC()
	err = m.Disconnect(c, true, "appnet", false)
	require.ErrorContains(t, err, "is not attached now")
	assert.Contains(t, c.NetworkSettings.Networks, "appnet")
	require.NoError(t, m.Disconnect(c, true, "appnet", true))
	assert.NotContains(t, c.NetworkSettings.Networks, "appnet")
	assert.Equal(t, "gone", c.HostConfig.NetworkMode)

	// ...but not the network it runs on (its eth0), record or not.
	c = newC()
	c.HostConfig.NetworkMode = "appnet"
	require.ErrorContains(t, m.Disconnect(c, true, "appnet", true), "as its first network")
	assert.Contains(t, c.NetworkSettings.Networks, "appnet")

	// An ID prefix two stale entries share names neither: nothing goes.
	c = newC()
	c.NetworkSettings.Networks["gone2"] = &engine.EndpointSettings{NetworkID: strings.Repeat("d", 63) + "e"}
	require.ErrorContains(t, m.Disconnect(c, false, "dddd", true), "not found")
	assert.Len(t, c.NetworkSettings.Networks, 3)

	// Not connected at all stays an error, with -f too (Docker's).
	c = newC()
	delete(c.NetworkSettings.Networks, "appnet")
	require.ErrorContains(t, m.Disconnect(c, false, "appnet", true), "is not connected to network appnet")
}
