package resolver

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Clients are loopback addresses: a query's source is chosen by binding
// the client's socket to one of them (Linux routes all of 127/8 to lo).
var (
	clientWeb   = netip.MustParseAddr("127.0.0.1") // on net1 with web and db
	clientOther = netip.MustParseAddr("127.0.0.3") // on net2: sees only "cache"
	stranger    = netip.MustParseAddr("127.0.0.2") // no container of ours
)

// fakeRecords is a Records of two networks, by client address.
type fakeRecords struct {
	mu        sync.Mutex
	names     map[netip.Addr]map[string][]netip.Addr
	reverse   map[netip.Addr]string
	upstreams []string
	lookups   []string // names as Lookup got them
}

func newFake() *fakeRecords {
	web := []netip.Addr{netip.MustParseAddr("172.18.0.5")}
	db := []netip.Addr{netip.MustParseAddr("172.18.0.6")}
	return &fakeRecords{
		names: map[netip.Addr]map[string][]netip.Addr{
			clientWeb:   {"web": web, "0123456789ab": web, "db": db, "database": db},
			clientOther: {"cache": {netip.MustParseAddr("172.19.0.2")}},
		},
		reverse: map[netip.Addr]string{netip.MustParseAddr("172.18.0.5"): "web.net1"},
	}
}

func (f *fakeRecords) Lookup(client netip.Addr, name string) ([]netip.Addr, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, name)
	names, ok := f.names[client]
	if !ok {
		return nil, false
	}
	return names[name], true
}

func (f *fakeRecords) Reverse(client netip.Addr, ip netip.Addr) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.names[client]; !ok {
		return "", false
	}
	n, ok := f.reverse[ip]
	return n, ok
}

func (f *fakeRecords) Upstreams(netip.Addr) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.upstreams...)
}

func (f *fakeRecords) setUpstreams(ups ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upstreams = ups
}

func (f *fakeRecords) lastLookup() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups[len(f.lookups)-1]
}

func serve(t testing.TB, rec Records) string {
	t.Helper()
	s, err := Serve([]string{"127.0.0.1:0"}, rec)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s.Addrs()[0]
}

// ask sends one query from client over netw ("udp" or "tcp").
func ask(t testing.TB, server string, client netip.Addr, netw string, q *dns.Msg) *dns.Msg {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if netw == "udp" {
		d.LocalAddr = &net.UDPAddr{IP: client.AsSlice()}
	} else {
		d.LocalAddr = &net.TCPAddr{IP: client.AsSlice()}
	}
	c := &dns.Client{Net: netw, Dialer: d, Timeout: 10 * time.Second}
	r, _, err := c.Exchange(q, server)
	require.NoError(t, err, "query %s over %s from %s", q.Question[0].Name, netw, client)
	require.Equal(t, q.Id, r.Id)
	return r
}

func question(name string, qtype uint16) *dns.Msg {
	return new(dns.Msg).SetQuestion(name, qtype)
}

func aRecords(t testing.TB, r *dns.Msg) []string {
	t.Helper()
	var out []string
	for _, rr := range r.Answer {
		a, ok := rr.(*dns.A)
		require.True(t, ok, "answer %v", rr)
		out = append(out, a.A.String())
	}
	return out
}

// upstream is a DNS server the test runs on 127.0.0.1 (UDP and TCP on one
// port): the only place the resolver ever forwards to in these tests.
type upstream struct {
	addr string
	mu   sync.Mutex
	seen []string // "udp example.com." per query
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

func (u *upstream) queries() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

func startUpstream(t testing.TB, h func(netw string, q *dns.Msg) *dns.Msg) *upstream {
	t.Helper()
	u := &upstream{}
	pc, l, err := listenPair("127.0.0.1:0")
	require.NoError(t, err)
	u.addr = pc.LocalAddr().String()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		netw := w.LocalAddr().Network()
		u.mu.Lock()
		u.seen = append(u.seen, netw+" "+q.Question[0].Name)
		u.mu.Unlock()
		if r := h(netw, q); r != nil {
			_ = w.WriteMsg(r)
		}
	})
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // runs after the Shutdowns registered below (LIFO)
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: l, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = srv.ActivateAndServe()
		}()
		<-started
		t.Cleanup(func() {
			_ = srv.Shutdown()
			if srv.PacketConn != nil {
				_ = srv.PacketConn.Close()
			}
		})
	}
	return u
}

// exampleUpstream answers example.com. A 192.0.2.10 and NXDOMAIN otherwise.
func exampleUpstream(t testing.TB) *upstream {
	return startUpstream(t, func(_ string, q *dns.Msg) *dns.Msg {
		r := new(dns.Msg).SetReply(q)
		if q.Question[0].Name != "example.com." {
			return r.SetRcode(q, dns.RcodeNameError)
		}
		rr, err := dns.NewRR("example.com. 300 IN A 192.0.2.10")
		if err != nil {
			panic(err)
		}
		r.Answer = []dns.RR{rr}
		return r
	})
}

// silentUpstream reads queries and never answers.
func silentUpstream(t testing.TB) *upstream {
	return startUpstream(t, func(string, *dns.Msg) *dns.Msg { return nil })
}

func TestAnswer(t *testing.T) {
	v4 := []netip.Addr{netip.MustParseAddr("172.18.0.5"), netip.MustParseAddr("172.18.0.9")}
	tests := []struct {
		name  string
		q     *dns.Msg
		addrs []netip.Addr
		want  []string // "TYPE ip"
	}{
		{"A, two addresses", question("web.", dns.TypeA), v4, []string{"A 172.18.0.5", "A 172.18.0.9"}},
		{"A, case kept", question("WeB.", dns.TypeA), v4[:1], []string{"A 172.18.0.5"}},
		{"AAAA of an IPv4-only name: no answer, no error", question("web.", dns.TypeAAAA), v4, nil},
		{"AAAA", question("web.", dns.TypeAAAA), []netip.Addr{netip.MustParseAddr("fd00::5"), v4[0]}, []string{"AAAA fd00::5"}},
		{"A from an IPv4-mapped address", question("web.", dns.TypeA), []netip.Addr{netip.MustParseAddr("::ffff:172.18.0.7")}, []string{"A 172.18.0.7"}},
		{"MX of our name: no answer", question("web.", dns.TypeMX), v4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Answer(tt.q, tt.addrs)
			require.NotNil(t, r)
			assert.Equal(t, dns.RcodeSuccess, r.Rcode, dns.RcodeToString[r.Rcode])
			assert.True(t, r.Response)
			assert.True(t, r.RecursionAvailable)
			assert.Equal(t, tt.q.Id, r.Id)
			assert.Equal(t, tt.q.Question, r.Question)
			var got []string
			for _, rr := range r.Answer {
				h := rr.Header()
				assert.Equal(t, tt.q.Question[0].Name, h.Name, "owner name as asked")
				assert.Equal(t, uint32(TTL), h.Ttl)
				assert.Equal(t, uint16(dns.ClassINET), h.Class)
				switch rr := rr.(type) {
				case *dns.A:
					got = append(got, "A "+rr.A.String())
				case *dns.AAAA:
					got = append(got, "AAAA "+rr.AAAA.String())
				default:
					t.Errorf("unexpected record %v", rr)
				}
			}
			assert.Equal(t, tt.want, got)
			_, err := r.Pack()
			require.NoError(t, err)
		})
	}
	assert.Equal(t, 600, TTL, "Docker's TTL")
}

func TestServeNames(t *testing.T) {
	rec := newFake()
	up := exampleUpstream(t)
	rec.setUpstreams(up.addr)
	srv := serve(t, rec)
	for _, netw := range []string{"udp", "tcp"} {
		t.Run(netw, func(t *testing.T) {
			tests := []struct{ ask, lookup, want string }{
				{"web.", "web", "172.18.0.5"},
				{"WEB.", "web", "172.18.0.5"},
				{"Database.", "database", "172.18.0.6"},
				{"0123456789ab.", "0123456789ab", "172.18.0.5"},
			}
			for _, tt := range tests {
				r := ask(t, srv, clientWeb, netw, question(tt.ask, dns.TypeA))
				assert.Equal(t, dns.RcodeSuccess, r.Rcode, tt.ask)
				assert.Equal(t, []string{tt.want}, aRecords(t, r), tt.ask)
				assert.Equal(t, tt.ask, r.Answer[0].Header().Name)
				assert.Equal(t, tt.lookup, rec.lastLookup(), "Lookup gets the name lowercased, no trailing dot")
			}

			r := ask(t, srv, clientWeb, netw, question("web.", dns.TypeAAAA))
			assert.Equal(t, dns.RcodeSuccess, r.Rcode)
			assert.Empty(t, r.Answer)

			r = ask(t, srv, clientWeb, netw, question("5.0.18.172.in-addr.arpa.", dns.TypePTR))
			require.Equal(t, dns.RcodeSuccess, r.Rcode)
			require.Len(t, r.Answer, 1)
			p, ok := r.Answer[0].(*dns.PTR)
			require.True(t, ok)
			assert.Equal(t, "web.net1.", p.Ptr)
			assert.Equal(t, "5.0.18.172.in-addr.arpa.", p.Hdr.Name)
		})
	}
	assert.Zero(t, up.count(), "our own names are never forwarded")

	// Another network's client does not see web: the name is forwarded
	// and the upstream's NXDOMAIN comes back.
	r := ask(t, srv, clientOther, "udp", question("web.", dns.TypeA))
	assert.Equal(t, dns.RcodeNameError, r.Rcode)
	assert.Equal(t, []string{"udp web."}, up.queries())
	r = ask(t, srv, clientOther, "udp", question("cache.", dns.TypeA))
	assert.Equal(t, []string{"172.19.0.2"}, aRecords(t, r))
}

func TestServeRefusesStrangers(t *testing.T) {
	rec := newFake()
	up := exampleUpstream(t)
	rec.setUpstreams(up.addr)
	srv := serve(t, rec)
	for _, netw := range []string{"udp", "tcp"} {
		for _, name := range []string{"web.", "example.com.", "5.0.18.172.in-addr.arpa."} {
			r := ask(t, srv, stranger, netw, question(name, dns.TypeA))
			assert.Equal(t, dns.RcodeRefused, r.Rcode, "%s %s: %s", netw, name, dns.RcodeToString[r.Rcode])
			assert.Empty(t, r.Answer)
		}
	}
	assert.Zero(t, up.count(), "a stranger's query is not forwarded")
}

func TestServeForwards(t *testing.T) {
	rec := newFake()
	up := exampleUpstream(t)
	rec.setUpstreams(up.addr)
	srv := serve(t, rec)
	for _, netw := range []string{"udp", "tcp"} {
		q := question("example.com.", dns.TypeA)
		r := ask(t, srv, clientWeb, netw, q)
		assert.Equal(t, dns.RcodeSuccess, r.Rcode)
		assert.Equal(t, []string{"192.0.2.10"}, aRecords(t, r))
		assert.Equal(t, uint32(300), r.Answer[0].Header().Ttl, "the upstream's answer as it is")

		r = ask(t, srv, clientWeb, netw, question("nothing.example.", dns.TypeA))
		assert.Equal(t, dns.RcodeNameError, r.Rcode, "NXDOMAIN relayed")
	}
	assert.Equal(t, []string{"udp example.com.", "udp nothing.example.", "tcp example.com.", "tcp nothing.example."}, up.queries(),
		"a UDP query goes on over UDP, a TCP one over TCP")
}

func TestServeForwardTruncated(t *testing.T) {
	rec := newFake()
	up := startUpstream(t, func(netw string, q *dns.Msg) *dns.Msg {
		r := new(dns.Msg).SetReply(q)
		if netw == "udp" {
			r.Truncated = true // "too big for UDP, ask me over TCP"
			return r
		}
		for i := 1; i <= 3; i++ {
			rr, err := dns.NewRR(fmt.Sprintf("%s 60 IN A 192.0.2.%d", q.Question[0].Name, i))
			if err != nil {
				panic(err)
			}
			r.Answer = append(r.Answer, rr)
		}
		return r
	})
	rec.setUpstreams(up.addr)
	srv := serve(t, rec)
	r := ask(t, srv, clientWeb, "udp", question("big.example.", dns.TypeA))
	assert.False(t, r.Truncated)
	assert.Equal(t, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, aRecords(t, r))
	assert.Equal(t, []string{"udp big.example.", "tcp big.example."}, up.queries())
}

func TestServeTruncatesForUDPClients(t *testing.T) {
	rec := newFake()
	var many []netip.Addr
	for i := 1; i <= 60; i++ {
		many = append(many, netip.AddrFrom4([4]byte{172, 18, 1, byte(i)}))
	}
	rec.names[clientWeb]["many"] = many
	srv := serve(t, rec)

	r := ask(t, srv, clientWeb, "udp", question("many.", dns.TypeA))
	assert.True(t, r.Truncated, "60 records do not fit 512 bytes")
	assert.Less(t, len(r.Answer), 60)

	r = ask(t, srv, clientWeb, "tcp", question("many.", dns.TypeA))
	assert.False(t, r.Truncated)
	assert.Len(t, r.Answer, 60)

	q := question("many.", dns.TypeA)
	q.SetEdns0(4096, false)
	r = ask(t, srv, clientWeb, "udp", q)
	assert.False(t, r.Truncated)
	assert.Len(t, r.Answer, 60)
	assert.NotNil(t, r.IsEdns0(), "an EDNS0 query gets an OPT back")

	var got []string
	for _, rr := range r.Answer {
		got = append(got, rr.(*dns.A).A.String())
	}
	var want []string
	for _, a := range many {
		want = append(want, a.String())
	}
	assert.ElementsMatch(t, want, got)
}

func withTimeout(t *testing.T, d time.Duration) {
	old := forwardTimeout
	forwardTimeout = d
	t.Cleanup(func() { forwardTimeout = old })
}

func TestServeUpstreamFailures(t *testing.T) {
	assert.Equal(t, 2*time.Second, forwardTimeout)
	withTimeout(t, 300*time.Millisecond)
	silent := silentUpstream(t)
	good := exampleUpstream(t)
	failing := startUpstream(t, func(_ string, q *dns.Msg) *dns.Msg { return new(dns.Msg).SetRcode(q, dns.RcodeServerFailure) })

	t.Run("times out", func(t *testing.T) {
		rec := newFake()
		rec.setUpstreams(silent.addr)
		srv := serve(t, rec)
		start := time.Now()
		r := ask(t, srv, clientWeb, "udp", question("example.com.", dns.TypeA))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
		assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	})
	t.Run("next after a timeout", func(t *testing.T) {
		rec := newFake()
		rec.setUpstreams(silent.addr, good.addr)
		srv := serve(t, rec)
		r := ask(t, srv, clientWeb, "udp", question("example.com.", dns.TypeA))
		assert.Equal(t, []string{"192.0.2.10"}, aRecords(t, r))
	})
	t.Run("next after SERVFAIL", func(t *testing.T) {
		rec := newFake()
		rec.setUpstreams(failing.addr, good.addr)
		srv := serve(t, rec)
		r := ask(t, srv, clientWeb, "udp", question("example.com.", dns.TypeA))
		assert.Equal(t, []string{"192.0.2.10"}, aRecords(t, r))
	})
	t.Run("no upstream", func(t *testing.T) {
		srv := serve(t, newFake())
		r := ask(t, srv, clientWeb, "udp", question("example.com.", dns.TypeA))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
	})
	t.Run("itself as upstream is skipped", func(t *testing.T) {
		withTimeout(t, 2*time.Second) // a loop would wait this long at least
		rec := newFake()
		s, err := Serve([]string{"127.0.0.1:0"}, rec)
		require.NoError(t, err)
		defer func() { assert.NoError(t, s.Close()) }()
		rec.setUpstreams(s.Addrs()[0])
		start := time.Now()
		r := ask(t, s.Addrs()[0], clientWeb, "udp", question("example.com.", dns.TypeA))
		assert.Equal(t, dns.RcodeServerFailure, r.Rcode)
		assert.Less(t, time.Since(start), time.Second, "no loop, no wait")
	})
}

func TestServeBindsAndReleases(t *testing.T) {
	// Take a port (UDP and TCP) and try to serve on a free one and it.
	pc, l, err := listenPair("127.0.0.1:0")
	require.NoError(t, err)
	taken := pc.LocalAddr().String()
	free, fl, err := listenPair("127.0.0.1:0")
	require.NoError(t, err)
	freeAddr := free.LocalAddr().String()
	require.NoError(t, free.Close())
	require.NoError(t, fl.Close())

	_, err = Serve([]string{freeAddr, taken}, newFake())
	require.Error(t, err)
	assert.Contains(t, err.Error(), taken)
	require.NoError(t, pc.Close())
	require.NoError(t, l.Close())

	// Nothing was left bound on the first address: it can be served now.
	s, err := Serve([]string{freeAddr, taken}, newFake())
	require.NoError(t, err)
	assert.Equal(t, []string{freeAddr, taken}, s.Addrs())
	r := ask(t, taken, clientWeb, "tcp", question("web.", dns.TypeA))
	assert.Equal(t, []string{"172.18.0.5"}, aRecords(t, r))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")

	// Close released both sockets of both addresses.
	for _, a := range []string{freeAddr, taken} {
		pc, l, err := listenPair(a)
		require.NoError(t, err, a)
		require.NoError(t, pc.Close())
		require.NoError(t, l.Close())
	}

	_, err = Serve(nil, newFake())
	assert.Error(t, err)
	_, err = Serve([]string{"web:53"}, newFake())
	assert.Error(t, err)
}

func TestParseReverse(t *testing.T) {
	tests := []struct {
		name string
		want string // "" = not a reverse name
	}{
		{"5.0.18.172.in-addr.arpa", "172.18.0.5"},
		{"1.0.0.127.in-addr.arpa", "127.0.0.1"},
		{"0.18.172.in-addr.arpa", ""},
		{"x.0.18.172.in-addr.arpa", ""},
		{"256.0.18.172.in-addr.arpa", ""},
		{"web", ""},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "fd00::1"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.ip6.arpa", ""},
		{"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseReverse(tt.name)
			if tt.want == "" {
				assert.False(t, ok, got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, got.String())
		})
	}
}

func FuzzParseReverse(f *testing.F) {
	f.Add("5.0.18.172.in-addr.arpa")
	f.Add("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa")
	f.Add("web")
	f.Fuzz(func(t *testing.T, name string) {
		ip, ok := parseReverse(name)
		if !ok {
			return
		}
		// What parses is exactly the canonical reverse name of the address.
		arpa, err := dns.ReverseAddr(ip.String())
		require.NoError(t, err)
		assert.Equal(t, name+".", arpa)
	})
}

// BenchmarkLookupUDP is one name's round trip over UDP on loopback: the
// query, the records' lookup and the answer.
func BenchmarkLookupUDP(b *testing.B) {
	srv := serve(b, newFake())
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	conn, err := c.Dial(srv)
	require.NoError(b, err)
	defer conn.Close()
	q := question("web.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := c.ExchangeWithConn(q, conn)
		if err != nil || len(r.Answer) != 1 {
			b.Fatalf("lookup: %v %v", r, err)
		}
	}
}
