package portmap

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every socket here is on 127.0.0.1: the container is played by echo
// servers on loopback, and the proxy binds loopback only.

// tcpEcho serves on 127.0.0.1:port (0: any) and answers each connection,
// once the client has shut down its writing side, with tag and what it
// sent: an answer proves that the proxy passed the half-close on.
func tcpEcho(t *testing.T, port uint16, tag string) (uint16, error) {
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(lo, port)))
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				data, err := io.ReadAll(c)
				if err != nil {
					return
				}
				_, _ = c.Write(append([]byte(tag), data...))
			}()
		}
	}()
	return uint16(ln.Addr().(*net.TCPAddr).Port), nil
}

// udpEcho answers every datagram with tag and the datagram.
func udpEcho(t *testing.T, tag string) uint16 {
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { _ = pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteToUDPAddrPort(append([]byte(tag), buf[:n]...), from)
		}
	}()
	return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
}

// tcpRoundTrip sends msg through 127.0.0.1:port, half-closes, and returns
// the whole answer.
func tcpRoundTrip(port uint16, msg []byte) ([]byte, error) { return tcpRoundTripTo(lo, port, msg) }

func tcpRoundTripTo(ip netip.Addr, port uint16, msg []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(ip, port).String(), 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return nil, err
	}
	return io.ReadAll(c)
}

// udpRoundTrip sends msg from c to 127.0.0.1:port and reads one answer.
func udpRoundTrip(c *net.UDPConn, port uint16, msg string) (string, error) {
	if _, err := c.WriteToUDPAddrPort([]byte(msg), netip.AddrPortFrom(lo, port)); err != nil {
		return "", err
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	buf := make([]byte, 65535)
	n, _, err := c.ReadFromUDPAddrPort(buf)
	return string(buf[:n]), err
}

func udpClient(t *testing.T) *net.UDPConn {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// freePort is a port of 127.0.0.1 nothing held a moment ago.
func freePort(t *testing.T, proto string) uint16 {
	if proto == "udp" {
		pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
		require.NoError(t, err)
		defer pc.Close()
		return uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	}
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	require.NoError(t, err)
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// hold keeps a TCP port of 127.0.0.1 (0: any) taken until the test ends.
func hold(t *testing.T, port uint16) (uint16, error) {
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(lo, port)))
	if err != nil {
		return 0, err
	}
	t.Cleanup(func() { _ = ln.Close() })
	return uint16(ln.Addr().(*net.TCPAddr).Port), nil
}

// canBind reports whether 127.0.0.1:port can be bound now.
func canBind(proto string, port uint16) bool {
	at := netip.AddrPortFrom(lo, port)
	if proto == "udp" {
		pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(at))
		if err == nil {
			_ = pc.Close()
		}
		return err == nil
	}
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(at))
	if err == nil {
		_ = ln.Close()
	}
	return err == nil
}

func openFDs(t *testing.T) int {
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(fds)
}

// settled waits for the goroutines to be back to at most base. It polls in
// the test's goroutine: require.Eventually's own goroutine would count.
func settled(t *testing.T, base int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if runtime.NumGoroutine() <= base {
			return
		}
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("goroutines: %d, before: %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
}

func listen(t *testing.T, bs []Binding) (*Proxy, []Binding) {
	p, bound, err := Listen(bs, lo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	require.Len(t, bound, len(bs))
	p.Serve()
	return p, bound
}

func TestProxyTCP(t *testing.T) {
	back, err := tcpEcho(t, 0, "echo:")
	require.NoError(t, err)
	base := runtime.NumGoroutine()
	p, bound := listen(t, []Binding{{HostIP: lo, ContainerPort: back, Proto: "tcp"}})
	b := bound[0]
	assert.Equal(t, lo, b.HostIP)
	assert.Equal(t, back, b.ContainerPort)
	assert.Zero(t, b.HostPortEnd)
	assert.True(t, b.HostPort >= EphemeralFirst && b.HostPort <= EphemeralLast, b.HostPort)

	got, err := tcpRoundTrip(b.HostPort, []byte("hello"))
	require.NoError(t, err)
	assert.Equal(t, "echo:hello", string(got))
	// An empty request: the FIN alone crosses.
	got, err = tcpRoundTrip(b.HostPort, nil)
	require.NoError(t, err)
	assert.Equal(t, "echo:", string(got))

	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	settled(t, base)
	assert.True(t, canBind("tcp", b.HostPort), "the port is free again")
}

func TestProxyTCPExplicitPort(t *testing.T) {
	back, err := tcpEcho(t, 0, "")
	require.NoError(t, err)
	port := freePort(t, "tcp")
	bs, err := Parse(fmt.Sprintf("127.0.0.1:%d:%d", port, back))
	require.NoError(t, err)
	_, bound := listen(t, bs)
	assert.Equal(t, []Binding{{HostIP: lo, HostPort: port, ContainerPort: back, Proto: "tcp"}}, bound)
	got, err := tcpRoundTrip(port, []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(got))
}

func TestProxyTCPNoBackend(t *testing.T) {
	_, bound := listen(t, []Binding{{HostIP: lo, ContainerPort: freePort(t, "tcp"), Proto: "tcp"}})
	// Nothing listens in the "container": the client's connection is
	// accepted and closed, with no answer.
	got, err := tcpRoundTrip(bound[0].HostPort, []byte("hello"))
	if err == nil {
		assert.Empty(t, got)
	}
}

func TestProxyUDP(t *testing.T) {
	back := udpEcho(t, "echo:")
	base := runtime.NumGoroutine()
	p, bound, err := Listen([]Binding{{HostIP: lo, ContainerPort: back, Proto: "udp"}}, lo)
	require.NoError(t, err)
	p.udpIdle = 300 * time.Millisecond
	p.Serve()
	port := bound[0].HostPort
	assert.True(t, port >= EphemeralFirst && port <= EphemeralLast, port)

	c1, c2 := udpClient(t), udpClient(t)
	for i := range 3 {
		got, err := udpRoundTrip(c1, port, fmt.Sprintf("one %d", i))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("echo:one %d", i), got)
		got, err = udpRoundTrip(c2, port, "two")
		require.NoError(t, err)
		assert.Equal(t, "echo:two", got)
	}
	sessions := func() int {
		u := p.udp[0]
		u.mu.Lock()
		defer u.mu.Unlock()
		return len(u.sessions)
	}
	assert.Equal(t, 2, sessions(), "a session per client")
	// Idle sessions end, with their goroutines and sockets.
	require.Eventually(t, func() bool { return sessions() == 0 }, 5*time.Second, 20*time.Millisecond)
	settled(t, base+1) // the read loop is still there
	// A client that comes back gets a new session.
	got, err := udpRoundTrip(c1, port, "again")
	require.NoError(t, err)
	assert.Equal(t, "echo:again", got)
	assert.Equal(t, 1, sessions())

	require.NoError(t, p.Close())
	settled(t, base)
	assert.True(t, canBind("udp", port))
}

func TestProxyUDPSessionKeptByTraffic(t *testing.T) {
	back := udpEcho(t, "")
	p, bound, err := Listen([]Binding{{HostIP: lo, ContainerPort: back, Proto: "udp"}}, lo)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	p.udpIdle = 500 * time.Millisecond
	p.Serve()
	c := udpClient(t)
	_, err = udpRoundTrip(c, bound[0].HostPort, "first")
	require.NoError(t, err)
	u := p.udp[0]
	u.mu.Lock()
	first := u.sessions[udpKey{client: netip.AddrPortFrom(lo, uint16(c.LocalAddr().(*net.UDPAddr).Port)), local: lo}]
	u.mu.Unlock()
	require.NotNil(t, first)
	// Traffic every 100ms for well over the idle time keeps one session.
	for range 10 {
		time.Sleep(100 * time.Millisecond)
		_, err = udpRoundTrip(c, bound[0].HostPort, "more")
		require.NoError(t, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	require.Len(t, u.sessions, 1)
	for _, s := range u.sessions {
		assert.Same(t, first, s)
	}
}

func TestListenTakenPort(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		t.Run(proto, func(t *testing.T) {
			var taken uint16
			if proto == "tcp" {
				var err error
				taken, err = hold(t, 0)
				require.NoError(t, err)
			} else {
				pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
				require.NoError(t, err)
				t.Cleanup(func() { _ = pc.Close() })
				taken = uint16(pc.LocalAddr().(*net.UDPAddr).Port)
			}
			udpPort, tcpPort := freePort(t, "udp"), freePort(t, "tcp")
			fds, base := openFDs(t), runtime.NumGoroutine()
			p, bound, err := Listen([]Binding{
				{HostIP: lo, HostPort: udpPort, ContainerPort: 53, Proto: "udp"},
				{HostIP: lo, HostPort: tcpPort, ContainerPort: 80, Proto: "tcp"},
				{HostIP: lo, ContainerPort: 81, Proto: "tcp"},
				{HostIP: lo, HostPort: taken, ContainerPort: 82, Proto: proto},
			}, lo)
			require.ErrorIs(t, err, ErrPortAllocated)
			assert.EqualError(t, err, fmt.Sprintf("Bind for 127.0.0.1:%d failed: port is already allocated", taken))
			assert.Nil(t, p)
			assert.Nil(t, bound)
			// Nothing is left bound: the sockets bound before the failure
			// are closed, and the ports can be bound again.
			assert.Equal(t, fds, openFDs(t))
			assert.True(t, canBind("udp", udpPort))
			assert.True(t, canBind("tcp", tcpPort))
			settled(t, base)
		})
	}
}

func TestListenSamePortTwice(t *testing.T) {
	port := freePort(t, "tcp")
	bs, err := Parse(fmt.Sprintf("127.0.0.1:%d:80", port))
	require.NoError(t, err)
	more, err := Parse(fmt.Sprintf("127.0.0.1:%d:81", port))
	require.NoError(t, err)
	_, _, err = Listen(append(bs, more...), lo)
	require.ErrorIs(t, err, ErrPortAllocated)
	assert.True(t, canBind("tcp", port))
	// The same number over tcp and udp is two ports.
	udp, err := Parse(fmt.Sprintf("127.0.0.1:%d:80/udp", port))
	require.NoError(t, err)
	_, bound := listen(t, append(bs, udp...))
	assert.Equal(t, port, bound[0].HostPort)
	assert.Equal(t, port, bound[1].HostPort)
}

func TestListenErrors(t *testing.T) {
	_, _, err := Listen([]Binding{tcp(0, 80)}, netip.MustParseAddr("::1"))
	assert.ErrorContains(t, err, "not IPv4")
	_, _, err = Listen([]Binding{tcp(0, 80)}, netip.Addr{})
	assert.ErrorContains(t, err, "not IPv4")
	_, _, err = Listen([]Binding{{HostIP: netip.MustParseAddr("::1"), ContainerPort: 80, Proto: "tcp"}}, lo)
	assert.ErrorContains(t, err, "IPv4 addresses only")
	_, _, err = Listen([]Binding{{HostIP: lo, ContainerPort: 80, Proto: "sctp"}}, lo)
	assert.ErrorContains(t, err, "invalid proto: sctp")
	_, _, err = Listen([]Binding{{HostIP: lo, Proto: "tcp"}}, lo)
	assert.ErrorContains(t, err, "container port is 0")
	// An address the host does not have is not "taken": it is the
	// kernel's EADDRNOTAVAIL, reported as such (198.51.100.1 is TEST-NET-2,
	// never assigned; bind(2) fails before any packet is sent).
	_, _, err = Listen([]Binding{{HostIP: netip.MustParseAddr("198.51.100.1"), HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}, lo)
	assert.ErrorContains(t, err, "Error starting userland proxy: ")
	assert.NotErrorIs(t, err, ErrPortAllocated)
	// No bindings, nothing bound: a proxy that does nothing.
	p, bound, err := Listen(nil, lo)
	require.NoError(t, err)
	assert.Empty(t, bound)
	p.Serve()
	require.NoError(t, p.Close())
}

// consecutive finds two consecutive ports of 127.0.0.1 and has f try them;
// f reports false when one was taken and another pair is to be tried.
func consecutive(t *testing.T, f func(port uint16) bool) {
	for range 50 {
		port := freePort(t, "tcp")
		if port < 65535 && f(port) {
			return
		}
	}
	t.Fatal("no two consecutive free ports on 127.0.0.1 in 50 tries")
}

func TestListenHostRange(t *testing.T) {
	back, err := tcpEcho(t, 0, "r:")
	require.NoError(t, err)
	first, err := hold(t, 0)
	require.NoError(t, err)
	// 8080-8085:80 is any one free port of the range: the first is taken.
	bs, err := Parse(fmt.Sprintf("127.0.0.1:%d-%d:%d", first, first+5, back))
	require.NoError(t, err)
	_, bound := listen(t, bs)
	got := bound[0].HostPort
	assert.True(t, got > first && got <= first+5, "%d not in (%d, %d]", got, first, first+5)
	assert.Zero(t, bound[0].HostPortEnd)
	answer, err := tcpRoundTrip(got, []byte("x"))
	require.NoError(t, err)
	assert.Equal(t, "r:x", string(answer))

	t.Run("all taken", func(t *testing.T) {
		consecutive(t, func(port uint16) bool {
			if _, err := hold(t, port); err != nil {
				return false
			}
			if _, err := hold(t, port+1); err != nil {
				return false
			}
			bs, err := Parse(fmt.Sprintf("127.0.0.1:%d-%d:80", port, port+1))
			require.NoError(t, err)
			_, _, err = Listen(bs, lo)
			require.ErrorIs(t, err, ErrAllPortsAllocated)
			assert.EqualError(t, err, fmt.Sprintf("Bind for 127.0.0.1:%d-%d failed: all ports are allocated", port, port+1))
			return true
		})
	})
}

func TestListenContainerRange(t *testing.T) {
	var c uint16
	consecutive(t, func(port uint16) bool {
		if _, err := tcpEcho(t, port, "A:"); err != nil {
			return false
		}
		if _, err := tcpEcho(t, port+1, "B:"); err != nil {
			return false
		}
		c = port
		return true
	})
	bs, err := Parse(fmt.Sprintf("127.0.0.1::%d-%d", c, c+1))
	require.NoError(t, err)
	_, bound := listen(t, bs)
	require.Len(t, bound, 2)
	assert.NotEqual(t, bound[0].HostPort, bound[1].HostPort)
	for i, tag := range []string{"A:", "B:"} {
		assert.Equal(t, c+uint16(i), bound[i].ContainerPort)
		assert.True(t, bound[i].HostPort >= EphemeralFirst && bound[i].HostPort <= EphemeralLast)
		got, err := tcpRoundTrip(bound[i].HostPort, []byte("hi"))
		require.NoError(t, err)
		assert.Equal(t, tag+"hi", string(got))
	}
	assert.Equal(t, map[string][]HostBinding{
		Key(c, "tcp"):   {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(int(bound[0].HostPort))}},
		Key(c+1, "tcp"): {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(int(bound[1].HostPort))}},
	}, Ports(bound))
}

func TestProxyConcurrent(t *testing.T) {
	tcpBack, err := tcpEcho(t, 0, "")
	require.NoError(t, err)
	udpBack := udpEcho(t, "u:")
	base := runtime.NumGoroutine()
	p, bound, err := Listen([]Binding{
		{HostIP: lo, ContainerPort: tcpBack, Proto: "tcp"},
		{HostIP: lo, ContainerPort: udpBack, Proto: "udp"},
	}, lo)
	require.NoError(t, err)
	p.Serve()

	const conns, size = 100, 256 << 10
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, size)
			_, _ = rand.Read(msg)
			got, err := tcpRoundTrip(bound[0].HostPort, msg)
			if err == nil && !bytes.Equal(msg, got) {
				err = fmt.Errorf("tcp connection %d: %d bytes back of %d, or different ones", i, len(got), len(msg))
			}
			errs <- err
		}()
	}
	clients := make([]*net.UDPConn, 20)
	for i := range clients {
		clients[i] = udpClient(t)
	}
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				msg := fmt.Sprintf("client %d message %d", i, j)
				got, err := udpRoundTrip(c, bound[1].HostPort, msg)
				if err == nil && got != "u:"+msg {
					err = fmt.Errorf("udp client %d: %q back for %q", i, got, msg)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	p.udp[0].mu.Lock()
	assert.Len(t, p.udp[0].sessions, len(clients))
	p.udp[0].mu.Unlock()
	require.NoError(t, p.Close())
	settled(t, base)
}

func TestCloseEndsConnectionsInFlight(t *testing.T) {
	// A "container" that never answers and never closes.
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
	require.NoError(t, err)
	var held sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); held.Wait() })
	held.Add(1)
	go func() {
		defer held.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held.Add(1)
			go func() { defer held.Done(); _, _ = io.Copy(io.Discard, c); _ = c.Close() }()
		}
	}()
	udpBack := udpEcho(t, "")
	base := runtime.NumGoroutine()
	p, bound, err := Listen([]Binding{
		{HostIP: lo, ContainerPort: uint16(ln.Addr().(*net.TCPAddr).Port), Proto: "tcp"},
		{HostIP: lo, ContainerPort: udpBack, Proto: "udp"},
	}, lo)
	require.NoError(t, err)
	p.Serve()
	p.Serve() // a second Serve starts nothing more

	var clients []net.Conn
	for range 5 {
		c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(bound[0].HostPort))))
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = c.Write([]byte("waiting"))
		require.NoError(t, err)
		clients = append(clients, c)
	}
	_, err = udpRoundTrip(udpClient(t), bound[1].HostPort, "x")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.conns) == 2*len(clients)+1 // both ends of each, and the UDP session
	}, 5*time.Second, 10*time.Millisecond)

	done := make(chan error)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, c := range clients {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err := c.Read(make([]byte, 1))
		require.Error(t, err)
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the client's connection ends with the proxy")
	}
	settled(t, base)
	p.Serve() // after Close: nothing
	assert.True(t, canBind("tcp", bound[0].HostPort))
	assert.True(t, canBind("udp", bound[1].HostPort))
}
