package resolver

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Records is what the resolver knows: the network package implements it by
// reading the networks' state from disk on every call.
type Records interface {
	// Lookup returns the addresses of name as the container at client sees
	// it (names of the containers that share any network with it). name is
	// lowercased, without the trailing dot. known is false when client is
	// no container of ours: the query is refused.
	Lookup(client netip.Addr, name string) (addrs []netip.Addr, known bool)
	// Reverse returns the name of ip for a PTR query from client.
	Reverse(client netip.Addr, ip netip.Addr) (name string, ok bool)
	// Upstreams returns the servers ("ip:port") that client's foreign
	// names are forwarded to, tried in turn; none → SERVFAIL.
	Upstreams(client netip.Addr) []string
}

// forwardTimeout is how long one upstream has to answer before the next
// one is tried (Docker waits 4s per server; a container's own resolver
// gives up after 5s, so two upstreams fit in it at 2s).
var forwardTimeout = 2 * time.Second

// Server is a running resolver: a UDP and a TCP server on each address.
type Server struct {
	rec     Records
	timeout time.Duration
	addrs   []string
	self    map[netip.AddrPort]bool
	servers []*dns.Server
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error // what ended a server before Close
	closed  bool
}

// Serve listens on every address ("ip:port"; port 0 picks one, the same
// for UDP and TCP) and answers from rec. It returns once every socket is
// bound and served; a failure closes what was opened.
func Serve(addrs []string, rec Records) (*Server, error) {
	if len(addrs) == 0 {
		return nil, errors.New("resolver: no address to listen on")
	}
	s := &Server{rec: rec, timeout: forwardTimeout, self: map[netip.AddrPort]bool{}}
	type pair struct {
		pc net.PacketConn
		l  net.Listener
	}
	var bound []pair
	closeAll := func() {
		for _, p := range bound {
			_ = p.pc.Close()
			_ = p.l.Close()
		}
	}
	for _, a := range addrs {
		pc, l, err := listenPair(a)
		if err != nil {
			closeAll()
			return nil, err
		}
		bound = append(bound, pair{pc, l})
		ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		s.self[ap] = true
		s.addrs = append(s.addrs, ap.String())
	}
	started := make(chan struct{}, 2*len(bound))
	for _, p := range bound {
		s.servers = append(s.servers,
			&dns.Server{PacketConn: p.pc, Handler: dns.HandlerFunc(s.serveDNS), UDPSize: dns.DefaultMsgSize, NotifyStartedFunc: func() { started <- struct{}{} }},
			&dns.Server{Listener: p.l, Handler: dns.HandlerFunc(s.serveDNS), NotifyStartedFunc: func() { started <- struct{}{} }})
	}
	failed := make(chan error, len(s.servers))
	for _, srv := range s.servers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				s.mu.Lock()
				if !s.closed {
					s.errs = append(s.errs, err)
				}
				s.mu.Unlock()
				failed <- err
			}
		}()
	}
	for range s.servers {
		select {
		case <-started:
		case err := <-failed:
			_ = s.Close()
			return nil, fmt.Errorf("resolver: serve: %w", err)
		}
	}
	return s, nil
}

// listenPair binds UDP and TCP on one address. With port 0 the kernel picks
// the UDP port and TCP takes the same one (retried if TCP's is taken).
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("resolver: listen address %q: %w", addr, err)
	}
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", ap.String())
		if err != nil {
			return nil, nil, fmt.Errorf("resolver: listen udp %s: %w", ap, err)
		}
		tcpAddr := pc.LocalAddr().String()
		l, err := net.Listen("tcp", tcpAddr)
		if err == nil {
			return pc, l, nil
		}
		_ = pc.Close()
		if ap.Port() != 0 || !errors.Is(err, syscall.EADDRINUSE) || try == 10 {
			return nil, nil, fmt.Errorf("resolver: listen tcp %s: %w", tcpAddr, err)
		}
	}
}

// Addrs returns the addresses served, "ip:port", with the ports bound.
func (s *Server) Addrs() []string { return slices.Clone(s.addrs) }

// Close stops every server and waits for them; queries in flight may still
// be answered meanwhile. It returns what ended a server early, if anything.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	errs := s.errs
	s.mu.Unlock()
	for _, srv := range s.servers {
		if err := srv.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("resolver: shut down: %w", err))
		}
		if srv.PacketConn != nil {
			_ = srv.PacketConn.Close() // Shutdown only unblocks the read
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// serveDNS answers one query: refused for a stranger, from
// the records for our names, from the upstreams for the rest.
func (s *Server) serveDNS(w dns.ResponseWriter, q *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	resp := s.answer(q, clientAddr(w.RemoteAddr()), udp)
	if udp {
		// What goes back over UDP must fit the client's buffer (512 bytes,
		// or its EDNS0 size); what does not is cut and marked TC, and the
		// client asks again over TCP.
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		resp.Truncate(size)
	}
	if err := w.WriteMsg(resp); err != nil {
		slog.Debug("resolver: write answer", "client", w.RemoteAddr(), "err", err)
	}
}

func (s *Server) answer(q *dns.Msg, client netip.Addr, udp bool) *dns.Msg {
	if q.Opcode != dns.OpcodeQuery {
		return new(dns.Msg).SetRcode(q, dns.RcodeNotImplemented)
	}
	if len(q.Question) != 1 {
		return new(dns.Msg).SetRcode(q, dns.RcodeFormatError)
	}
	qn := q.Question[0]
	name := strings.TrimSuffix(strings.ToLower(qn.Name), ".")
	addrs, known := s.rec.Lookup(client, name)
	if !known {
		return refuse(q)
	}
	if qn.Qtype == dns.TypePTR {
		if ip, ok := parseReverse(name); ok {
			if host, ok := s.rec.Reverse(client, ip); ok {
				return local(q, ptr(qn.Name, host))
			}
		}
	}
	if len(addrs) > 0 {
		// Several containers under one alias: a different order each time
		// spreads the clients over them, as Docker's resolver does.
		addrs = slices.Clone(addrs)
		rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
		return withEdns(q, Answer(q, addrs))
	}
	return s.forward(q, client, udp)
}

// forward asks the client's upstreams in turn and relays the first real
// answer as it is. Over UDP a truncated answer is asked again over TCP.
func (s *Server) forward(q *dns.Msg, client netip.Addr, udp bool) *dns.Msg {
	var last *dns.Msg
	for _, up := range s.rec.Upstreams(client) {
		if ap, err := netip.ParseAddrPort(up); err == nil && s.self[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] {
			continue // ourselves: a loop
		}
		r, err := s.exchange(q, up, udp)
		if err != nil {
			slog.Debug("resolver: forward", "upstream", up, "name", q.Question[0].Name, "err", err)
			continue
		}
		// A server that fails or refuses may be the only broken one.
		if r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused {
			last = r
			continue
		}
		return r
	}
	if last != nil {
		return last
	}
	m := new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

func (s *Server) exchange(q *dns.Msg, up string, udp bool) (*dns.Msg, error) {
	netw := "tcp"
	if udp {
		netw = "udp"
	}
	c := &dns.Client{Net: netw, Timeout: s.timeout, UDPSize: dns.MaxMsgSize}
	r, _, err := c.Exchange(q, up)
	if err == nil && udp && r.Truncated {
		c.Net = "tcp"
		rt, _, terr := c.Exchange(q, up)
		if terr == nil {
			return rt, nil
		}
		// The truncated answer is still an answer: the client sees TC and
		// may try TCP itself.
		slog.Debug("resolver: forward over tcp after truncation", "upstream", up, "err", terr)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", netw, up, err)
	}
	return r, nil
}

// refuse is the answer to a client that is no container of ours.
func refuse(q *dns.Msg) *dns.Msg {
	return new(dns.Msg).SetRcode(q, dns.RcodeRefused)
}

// local is an answer of our own with the given records.
func local(q *dns.Msg, rrs ...dns.RR) *dns.Msg {
	m := new(dns.Msg).SetReply(q)
	m.RecursionAvailable = true
	m.Answer = rrs
	return withEdns(q, m)
}

// withEdns adds an OPT record to an answer of ours if the query had one, as
// RFC 6891 asks, so the client keeps its larger UDP size.
func withEdns(q, m *dns.Msg) *dns.Msg {
	if q.IsEdns0() != nil && m.IsEdns0() == nil {
		m.SetEdns0(dns.DefaultMsgSize, false)
	}
	return m
}

func ptr(qname, host string) dns.RR {
	return &dns.PTR{
		Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: TTL},
		Ptr: dns.Fqdn(host),
	}
}

// clientAddr is the source address of a query, IPv4 unmapped.
func clientAddr(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}

// parseReverse turns "4.3.2.1.in-addr.arpa" into 1.2.3.4 and the 32 nibbles
// of an ip6.arpa name into the IPv6 address; name is lowercased, no dot.
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		parts := strings.Split(rest, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		slices.Reverse(parts)
		a, err := netip.ParseAddr(strings.Join(parts, "."))
		return a, err == nil && a.Is4()
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		nibbles := strings.Split(rest, ".")
		if len(nibbles) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, n := range nibbles {
			if len(n) != 1 {
				return netip.Addr{}, false
			}
			v := strings.IndexByte("0123456789abcdef", n[0])
			if v < 0 {
				return netip.Addr{}, false
			}
			// nibbles[0] is the low nibble of the last byte.
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
