package portmap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
)

// ErrPortAllocated is what a bind that found its port taken wraps, and
// ErrAllPortsAllocated what a pick from a range that found none free wraps
// (Docker's port allocator's words).
var (
	ErrPortAllocated     = errors.New("port is already allocated")
	ErrAllPortsAllocated = errors.New("all ports are allocated")
)

// UDPIdleTimeout is how long a UDP client's session lives without a
// datagram either way (docker-proxy's conntrack-like timeout).
const UDPIdleTimeout = 90 * time.Second

// Proxy carries the traffic of bound ports to the container: one listening
// socket per Binding, in the host's network namespace.
type Proxy struct {
	target  netip.Addr
	tcp     []tcpPort
	udp     []*udpPort
	udpIdle time.Duration

	ctx    context.Context // canceled by Close: ends dials in flight
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine Serve started

	mu      sync.Mutex
	closed  bool
	serving bool
	conns   map[net.Conn]struct{} // open client and container sockets
}

type tcpPort struct {
	ln *net.TCPListener
	to netip.AddrPort
}

type udpPort struct {
	pc       *net.UDPConn
	p4       *ipv4.PacketConn // pc, with IP_PKTINFO
	to       netip.AddrPort
	mu       sync.Mutex
	sessions map[udpKey]*udpSession
}

// udpKey names a session: the client, and the host address it sent to.
type udpKey struct {
	client netip.AddrPort
	local  netip.Addr // invalid when the kernel did not say
}

type udpSession struct {
	key  udpKey
	conn *net.UDPConn // connected to the container's port
	last time.Time    // the last datagram either way, under udpPort.mu
}

// Listen binds every binding's host port (all of them, before it returns)
// and returns the Proxy that will carry them to target, with the bindings
// as bound: HostPort 0 becomes a port of EphemeralFirst..EphemeralLast, a
// range HostPort..HostPortEnd the first free port of it. If any bind fails,
// the ports bound so far are closed and the error says which one, in
// Docker's words: "Bind for 0.0.0.0:8080 failed: port is already
// allocated". Nothing flows until Serve.
//
// The sockets, those bound here and those that Serve's goroutines open
// towards the container, are in the network namespace of the thread that
// makes them: call Listen and Serve from a process in the host's namespace
// (the monitor), not from a thread that entered another one with setns.
func Listen(bs []Binding, target netip.Addr) (*Proxy, []Binding, error) {
	if !target.Is4() {
		return nil, nil, fmt.Errorf("publish ports: the container's address %v is not IPv4", target)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{target: target, udpIdle: UDPIdleTimeout, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	bound := make([]Binding, 0, len(bs))
	for _, b := range bs {
		got, err := p.bind(b)
		if err != nil {
			_ = p.Close() // the error that counts is the bind's
			return nil, nil, err
		}
		bound = append(bound, got)
	}
	return p, bound, nil
}

// Serve starts carrying traffic: an accept loop per TCP port, a read loop
// per UDP port, each in a goroutine of its own. It returns at once; Close
// stops them. A second call does nothing.
func (p *Proxy) Serve() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.serving {
		return
	}
	p.serving = true
	for _, t := range p.tcp {
		p.wg.Add(1)
		go p.acceptLoop(t)
	}
	for _, u := range p.udp {
		p.wg.Add(1)
		go p.readLoop(u)
	}
}

// Close closes the listening sockets and every connection and session,
// and returns once every goroutine of the proxy has ended. It may be called
// more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	var errs []error
	for _, t := range p.tcp {
		if err := t.ln.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %v: %w", t.ln.Addr(), err))
		}
	}
	for _, u := range p.udp {
		if err := u.pc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close udp %v: %w", u.pc.LocalAddr(), err))
		}
	}
	for c := range p.conns {
		_ = c.Close() // a connection in flight: its end is the point
	}
	p.mu.Unlock()
	p.wg.Wait()
	return errors.Join(errs...)
}

// nextEphemeral is where the next pick of an ephemeral port starts, so one
// process does not hand a port it just let go of straight out again (Docker's
// allocator goes round its range the same way).
var nextEphemeral atomic.Uint32

// bind binds one binding's listening socket, choosing its port if it has a
// choice, and records it in p.
func (p *Proxy) bind(b Binding) (Binding, error) {
	if err := checkProto(b.Proto); err != nil {
		return Binding{}, err
	}
	if b.ContainerPort == 0 {
		return Binding{}, errors.New("publish a port: the container port is 0")
	}
	ip := b.HostIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	if !ip.Is4() {
		return Binding{}, fmt.Errorf("invalid IP address: %v: minibox publishes ports on IPv4 addresses only", ip)
	}
	var candidates []uint16
	switch {
	case b.HostPort == 0:
		n := EphemeralLast - EphemeralFirst + 1
		start := int(nextEphemeral.Load()) % n
		for i := range n {
			candidates = append(candidates, uint16(EphemeralFirst+(start+i)%n))
		}
	case b.HostPortEnd > b.HostPort:
		for port := int(b.HostPort); port <= int(b.HostPortEnd); port++ {
			candidates = append(candidates, uint16(port))
		}
	default:
		candidates = []uint16{b.HostPort}
	}
	to := netip.AddrPortFrom(p.target, b.ContainerPort)
	for _, port := range candidates {
		err := p.listen(b.Proto, netip.AddrPortFrom(ip, port), to)
		if err == nil {
			if b.HostPort == 0 {
				nextEphemeral.Store(uint32(int(port) - EphemeralFirst + 1))
			}
			b.HostPort, b.HostPortEnd = port, 0
			return b, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return Binding{}, fmt.Errorf("Error starting userland proxy: %w", err)
		}
		if len(candidates) == 1 {
			return Binding{}, fmt.Errorf("Bind for %s failed: %w", netip.AddrPortFrom(ip, port), ErrPortAllocated)
		}
	}
	what := ip.String()
	if b.HostPort != 0 {
		what += ":" + strconv.Itoa(int(b.HostPort)) + "-" + strconv.Itoa(int(b.HostPortEnd))
	}
	return Binding{}, fmt.Errorf("Bind for %s failed: %w", what, ErrAllPortsAllocated)
}

// listen binds one socket. Go sets SO_REUSEADDR on TCP listeners (a port
// whose old connections linger in TIME_WAIT can be bound again) and not on
// UDP sockets; either way two listeners on one port are refused with
// EADDRINUSE, which is what "taken" means here.
func (p *Proxy) listen(proto string, at, to netip.AddrPort) error {
	if proto == "tcp" {
		ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(at))
		if err != nil {
			return err
		}
		p.tcp = append(p.tcp, tcpPort{ln: ln, to: to})
		return nil
	}
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(at))
	if err != nil {
		return err
	}
	// A socket bound to 0.0.0.0 answers from the address the kernel's
	// routing picks for the client, which need not be the one the client
	// sent to (a container that sent to the host's eth0 address would get
	// the bridge's address back, and drop it). IP_PKTINFO tells each
	// datagram's destination, and the answer is sent from it.
	p4 := ipv4.NewPacketConn(pc)
	if err := p4.SetControlMessage(ipv4.FlagDst, true); err != nil {
		_ = pc.Close()
		return fmt.Errorf("udp %v: IP_PKTINFO: %w", at, err)
	}
	p.udp = append(p.udp, &udpPort{pc: pc, p4: p4, to: to, sessions: map[udpKey]*udpSession{}})
	return nil
}

// track records an open socket so Close can end it; false when the proxy
// is closing already (the caller closes it then).
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close() // closed already on most paths; a second close only reports so
}

// goTracked starts f in a goroutine that Close waits for, unless the proxy
// is closing already.
func (p *Proxy) goTracked(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// acceptLoop takes the port's connections until the listener is closed.
func (p *Proxy) acceptLoop(t tcpPort) {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		c, err := t.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait and try again, as
			// net/http's server does, instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-p.ctx.Done():
				return
			}
		}
		backoff = 0
		if !p.track(c) {
			_ = c.Close()
			return
		}
		if !p.goTracked(func() { p.carry(c, t.to) }) {
			p.untrack(c)
			return
		}
	}
}

// carry connects to the container and copies both ways until both ends
// are done. A direction that reaches EOF passes it on with CloseWrite (a
// FIN: the other side may still answer); one that fails ends both.
func (p *Proxy) carry(client *net.TCPConn, to netip.AddrPort) {
	defer p.untrack(client)
	var d net.Dialer
	c, err := d.DialContext(p.ctx, "tcp4", to.String())
	if err != nil {
		return // the client sees its connection closed, as with docker-proxy
	}
	backend := c.(*net.TCPConn)
	if !p.track(backend) {
		_ = backend.Close()
		return
	}
	defer p.untrack(backend)
	var other sync.WaitGroup
	other.Add(1)
	go func() {
		defer other.Done()
		pipe(backend, client)
	}()
	pipe(client, backend)
	other.Wait()
}

// pipe copies src to dst, then half-closes: dst gets a FIN, src is not read
// from again. On an error (a reset, or Close) both are closed, so the
// other direction ends too.
func pipe(dst, src *net.TCPConn) {
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		_ = src.Close()
		return
	}
	_ = dst.CloseWrite() // on a socket the other side reset: nothing to tell
	_ = src.CloseRead()
}

// readLoop reads the port's datagrams and hands each to its client's
// session, opening one for a new client.
func (p *Proxy) readLoop(u *udpPort) {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, cm, src, err := u.p4.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-p.ctx.Done():
				return
			default:
				continue // e.g. an ICMP error queued on the socket: the next datagram is fine
			}
		}
		from, ok := src.(*net.UDPAddr)
		if !ok {
			continue
		}
		key := udpKey{client: from.AddrPort()}
		key.client = netip.AddrPortFrom(key.client.Addr().Unmap(), key.client.Port())
		if cm != nil {
			if dst, ok := netip.AddrFromSlice(cm.Dst); ok {
				key.local = dst.Unmap()
			}
		}
		s := p.session(u, key)
		if s == nil {
			continue
		}
		// A container that does not listen answers with ICMP port
		// unreachable; the error shows on a later call, not here.
		_, _ = s.conn.Write(buf[:n])
	}
}

// session returns key's session, touched, opening it if it is new; nil
// if the container cannot be reached or the proxy is closing.
func (p *Proxy) session(u *udpPort, key udpKey) *udpSession {
	u.mu.Lock()
	defer u.mu.Unlock()
	if s := u.sessions[key]; s != nil {
		s.last = time.Now()
		return s
	}
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(u.to))
	if err != nil {
		return nil // the datagram is lost, as it would be on the wire
	}
	if !p.track(c) {
		_ = c.Close()
		return nil
	}
	s := &udpSession{key: key, conn: c, last: time.Now()}
	if !p.goTracked(func() { p.replyLoop(u, s) }) {
		p.untrack(c)
		return nil
	}
	u.sessions[key] = s
	return s
}

// replyLoop sends the container's datagrams back to the session's client
// from the published port (and the address the client sent to), and ends
// the session when it has been idle for udpIdle.
func (p *Proxy) replyLoop(u *udpPort, s *udpSession) {
	defer p.untrack(s.conn)
	buf := make([]byte, 65535)
	client := net.UDPAddrFromAddrPort(s.key.client)
	var from *ipv4.ControlMessage
	if s.key.local.Is4() && !s.key.local.IsMulticast() && s.key.local != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		from = &ipv4.ControlMessage{Src: s.key.local.AsSlice()}
	}
	for {
		u.mu.Lock()
		deadline := s.last.Add(p.udpIdle)
		if !time.Now().Before(deadline) {
			delete(u.sessions, s.key) // under the lock: no datagram is handed to it any more
			u.mu.Unlock()
			return
		}
		u.mu.Unlock()
		if err := s.conn.SetReadDeadline(deadline); err != nil {
			return
		}
		n, err := s.conn.Read(buf)
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			continue // nobody listens in the container (yet): keep the session until it idles out
		case errors.As(err, &ne) && ne.Timeout():
			continue // the loop's head decides whether it idled out
		case err != nil:
			u.mu.Lock()
			if u.sessions[s.key] == s {
				delete(u.sessions, s.key)
			}
			u.mu.Unlock()
			return
		}
		u.mu.Lock()
		s.last = time.Now()
		u.mu.Unlock()
		_, err = u.p4.WriteTo(buf[:n], from, client)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil && from != nil {
			// A source the kernel refuses (a subnet's broadcast address
			// the client sent to): answer from the routing's choice.
			from = nil
			_, _ = u.p4.WriteTo(buf[:n], nil, client)
		}
	}
}
