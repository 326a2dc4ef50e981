package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// --add-host NAME:host-gateway names the host as the container reaches it:
// the gateway of its first bridge network, the default bridge's on the
// default network. A server of the test's in the sandbox (the "host"),
// listening on all its addresses, is reached by that name, and it sees the
// connection arrive on the gateway's address.
func TestAddHostGateway(t *testing.T) {
	b := newNbox(t)
	var l net.Listener
	b.sb.Do(t, func() {
		var err error
		l, err = net.Listen("tcp4", "0.0.0.0:0")
		require.NoError(t, err)
	})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		host, _, _ := net.SplitHostPort(local.String())
		fmt.Fprintf(w, "hello from the host at %s\n", host)
	})}
	go srv.Serve(l)
	defer srv.Close()
	port := l.Addr().(*net.TCPAddr).Port

	nw := random("hgw")
	b.ok("network", "create", "--subnet", "10.141.0.0/24", nw)
	other := random("hgw2")
	b.ok("network", "create", "--subnet", "10.142.0.0/24", other)
	script := fmt.Sprintf("cat /etc/hosts; echo route $(ip -4 route show default); timeout 4 wget -q -O - http://host.docker.internal:%d/; exit $?", port)
	for _, c := range []struct {
		name    string
		network string
		gateway string // "": the default route's gateway, read in the container
	}{
		{"user network", nw, "10.141.0.1"},
		{"default bridge", "bridge", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := b.ok("run", "--rm", "--network", c.network, "--add-host", "host.docker.internal:host-gateway", "busybox", "sh", "-c", script)
			gw := c.gateway
			if gw == "" {
				// The default bridge's gateway, as the container's own
				// routing table names it (172.17.0.1 on a stock host).
				_, rest, ok := strings.Cut(got, "route default via ")
				require.True(t, ok, got)
				gw, _, _ = strings.Cut(rest, " ")
			}
			assert.Contains(t, got, gw+"\thost.docker.internal\n")
			assert.NotContains(t, got, "host-gateway")
			// ok drops the output's last newline: the reply is the last line.
			assert.True(t, strings.HasSuffix(got, "\nhello from the host at "+gw), got)
		})
	}

	// connect keeps host-gateway on the first network: a running
	// container's rewritten /etc/hosts still names its eth0's gateway.
	ctr := random("ctr")
	b.ok("run", "-d", "--name", ctr, "--network", nw, "--add-host", "gw:host-gateway", "busybox", "sleep", "600")
	b.ok("network", "connect", other, ctr)
	hosts := b.ok("exec", ctr, "cat", "/etc/hosts")
	assert.Contains(t, hosts, "10.141.0.1\tgw\n")
	assert.Contains(t, hosts, "10.142.0.", "the rewritten file has the new address")
	b.ok("rm", "-f", ctr)
}
