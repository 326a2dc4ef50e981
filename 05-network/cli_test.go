package main

import (
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/05-network/ipam"
	"minibox/internal/testkit"
)

// fakeUpstream is a DNS server in ns at ip:53 that knows one name.
func fakeUpstream(t *testing.T, ns testkit.Netns, ip netip.Addr, name, addr string) func() {
	var pc net.PacketConn
	ns.Do(t, func() {
		var err error
		pc, err = net.ListenPacket("udp", netip.AddrPortFrom(ip, 53).String())
		require.NoError(t, err)
	})
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && strings.EqualFold(q.Question[0].Name, name) && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(name + " 60 IN A " + addr)
			m.Answer = append(m.Answer, rr)
		} else if len(q.Question) == 1 && !strings.EqualFold(q.Question[0].Name, name) {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	return func() { srv.Shutdown() }
}

// The network commands as Docker's: ls, inspect, filters, errors.
func TestNetworkCommands(t *testing.T) {
	b := newNbox(t)
	ls := b.ok("network", "ls")
	assert.True(t, strings.HasPrefix(ls, "NETWORK ID"), ls)
	for _, n := range []string{"bridge", "host", "none"} {
		assert.Contains(t, ls, " "+n+" ")
	}
	name := random("n")
	id := b.ok("network", "create", "--subnet", "10.66.0.0/24", "--gateway", "10.66.0.254", "--ip-range", "10.66.0.128/25", "-l", "team=red", name)
	require.Len(t, id, 64)
	var nets []map[string]any
	require.NoError(t, json.Unmarshal([]byte(b.ok("network", "inspect", name)), &nets))
	require.Len(t, nets, 1)
	assert.Equal(t, name, nets[0]["Name"])
	assert.Equal(t, "bridge", nets[0]["Driver"])
	cfg := nets[0]["IPAM"].(map[string]any)["Config"].([]any)[0].(map[string]any)
	assert.Equal(t, "10.66.0.0/24", cfg["Subnet"])
	assert.Equal(t, "10.66.0.254", cfg["Gateway"])
	assert.Equal(t, id[:12], b.ok("network", "ls", "-q", "-f", "label=team=red"))
	assert.Equal(t, id[:12], b.ok("network", "ls", "-q", "-f", "name="+name, "-f", "driver=bridge"))
	assert.Empty(t, b.ok("network", "ls", "-q", "-f", "name="+name, "-f", "driver=macvlan"))
	// An address from the range.
	c := b.ok("run", "-d", "--network", name, "busybox", "sleep", "600")
	ip := netip.MustParseAddr(b.ip(c, name))
	assert.True(t, netip.MustParsePrefix("10.66.0.128/25").Contains(ip), ip)
	assert.Contains(t, b.ok("network", "inspect", "-f", "{{json .Containers}}", name), ip.String()+"/24")

	for _, bad := range [][]string{
		{"network", "create", name},                                                // the name is taken
		{"network", "create", "--subnet", "10.66.0.0/16", random("o")},             // overlaps
		{"network", "create", "--subnet", "10.67.0.0/33", random("o")},             // not a subnet
		{"network", "create", "--gateway", "10.1.1.1", random("o")},                // no subnet
		{"network", "create", "-d", "macvlan", random("o")},                        // no parent
		{"network", "create", "-d", "overlay2", random("o")},                       // no such driver
		{"network", "rm", "bridge"},                                                // predefined
		{"network", "rm", name},                                                    // in use
		{"run", "--rm", "--network", "nosuchnet", "busybox", "true"},               // missing network
		{"run", "--rm", "--ip", "10.66.0.200", "busybox", "true"},                  // --ip on the default bridge
		{"run", "--rm", "-p", "99999:80", "busybox", "true"},                       // bad -p
		{"run", "--rm", "--network", name, "--ip", ip.String(), "busybox", "true"}, // address taken
	} {
		before := b.ok("ps", "-aq")
		r := b.run(bad...)
		assert.NotEqual(t, 0, r.Code, "%v succeeded", bad)
		assert.NotEmpty(t, r.Stderr, "%v", bad)
		if bad[0] == "network" {
			assert.Equal(t, before, b.ok("ps", "-aq"))
		}
	}
	b.ok("rm", "-f", c)
	b.ok("network", "rm", name)
	// prune removes unused custom networks only.
	p := random("p")
	b.ok("network", "create", p)
	out := b.ok("network", "prune", "-f")
	assert.Contains(t, out, "Deleted Networks:\n"+p)
	assert.NotContains(t, b.ok("network", "ls"), p)
	assert.Contains(t, b.ok("network", "ls"), "bridge")
}

// kill -9 of the CLI at a random moment of `run -d` on a user network
// with a published port, 20 times: after rm -f and network rm nothing is
// left (the box's cleanup checks links, rules, namespaces, resolvers,
// addresses).
func TestKillMidSetup(t *testing.T) {
	b := newNbox(t)
	rounds := 20
	if testing.Short() {
		rounds = 4
	}
	nw := random("k")
	nwID := b.ok("network", "create", nw)
	landed, inNetwork := 0, 0
	for i := 0; i < rounds; i++ {
		old := map[int]bool{}
		for _, pid := range b.monitors() {
			old[pid] = true
		}
		name := random("k")
		cmd := b.sb.Command(testkit.Self(t), b.args("run", "-d", "--name", name, "--network", nw, "-p", "80", "busybox", "sleep", "600")...)
		cmd.Env = append(cmd.Environ(), testkit.ProgramEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start())
		if i%2 == 0 {
			// The CLI: while it makes the namespace, veth, address, rules.
			time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // nsenter and the CLI
			if ee, ok := cmd.Wait().(*exec.ExitError); ok && ee.ExitCode() == -1 {
				landed++
			}
		} else {
			// The monitor: while it binds the published port and starts
			// the container.
			var mon []int
			for deadline := time.Now().Add(5 * time.Second); len(mon) == 0 && time.Now().Before(deadline); {
				for _, pid := range b.monitors() {
					if !old[pid] {
						mon = append(mon, pid)
					}
				}
			}
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
			for _, pid := range mon {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					landed++
				}
			}
			cmd.Wait()
		}
		// Killed with the network half made (or made): the record or
		// the namespace is there for rm -f to undo.
		recs, _ := os.ReadDir(filepath.Join(b.exec, "endpoints"))
		nss, _ := os.ReadDir(filepath.Join(b.exec, "netns"))
		if len(recs)+len(nss) > 0 {
			inNetwork++
		}
		if r := b.run("rm", "-f", name); r.Code != 0 && !strings.Contains(r.Stderr, "No such container") {
			t.Errorf("round %d: rm -f: %s", i, r.Stderr)
		}
	}
	owners, err := ipam.Open(filepath.Join(b.data, "networks", "ipam")).Owners(nwID)
	require.NoError(t, err)
	assert.Empty(t, owners, "addresses left allocated")
	b.ok("network", "rm", nw)
	b.noneOfOurs()
	t.Logf("%d of %d kills landed inside run, %d with the network (partly) made", landed, rounds, inNetwork)
	assert.NotZero(t, inNetwork, "no kill landed once the network was being made: the test proves nothing")
}

// doctor looks at what lesson 05 needs and changes nothing.
func TestDoctor(t *testing.T) {
	b := newNbox(t)
	before := b.ruleset()
	r := b.run("doctor")
	for _, want := range []string{"ip_forward", "firewall backend", "br_netfilter"} {
		assert.Contains(t, r.Stdout, want)
	}
	assert.Equal(t, before, b.ruleset())
}
