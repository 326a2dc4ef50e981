package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A network namespace lives as long as something refers to it: a process in
// it, an open descriptor, or a bind mount of its nsfs file. The sandbox is
// the last kind, a file under /run/netns (where `ip netns` looks too), so a
// test can enter it with nsenter and a test's engine can run in it as if it
// were the host: its links, routes and firewall are the sandbox's own, and
// the real host's are never touched.

// NetnsDir is where the sandboxes' namespace files are bound.
const NetnsDir = "/run/netns"

// SandboxPrefix begins the name of every sandbox's namespace file.
const SandboxPrefix = "minibox-sbx-"

// Netns is a named network namespace: a bind-mounted nsfs file.
type Netns struct {
	Path string // the namespace's file, /run/netns/NAME
}

// Command prepares name args to run inside the namespace (nsenter --net).
func (n Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
}

// Do runs f on the calling goroutine, its OS thread locked and moved into
// the namespace, and moves the thread back afterwards. Sockets and netlink
// handles f opens belong to the namespace for their whole life; goroutines f
// starts run on other threads, in the host's namespace. require's FailNow in
// f is fine: the thread is restored on the way out.
func (n Netns) Do(t testing.TB, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open the thread's network namespace: %v", err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(n.Path)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open network namespace %s: %v", n.Path, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("enter network namespace %s: %v", n.Path, err)
	}
	defer func() {
		// A thread that cannot go back stays locked: the runtime ends it
		// with the goroutine instead of reusing it in the wrong namespace.
		if err := netns.Set(orig); err != nil {
			t.Errorf("leave network namespace %s: %v", n.Path, err)
			return
		}
		runtime.UnlockOSThread()
	}()
	f()
}

// handle opens a netlink handle bound to the namespace.
func (n Netns) handle() (*netlink.Handle, error) {
	ns, err := netns.GetFromPath(n.Path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", n.Path, err)
	}
	defer ns.Close()
	// NETLINK_ROUTE only: the default asks for XFRM and netfilter sockets
	// too, which a kernel without those modules refuses.
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", n.Path, err)
	}
	return h, nil
}

// Sandbox is a fresh network namespace that plays the host in a test.
type Sandbox struct {
	Netns
	mu      sync.Mutex
	outside *Outside
}

// Outside is a second namespace, "the rest of the world", joined to its
// sandbox by a veth pair: the sandbox has 10.250.0.1/30 on its link
// "outside0" and its default route via Addr, 10.250.0.2/30 on "sandbox0".
type Outside struct {
	Netns
	Addr    netip.Addr // the outside's address
	Sandbox netip.Addr // the sandbox's address on the link to the outside
}

// NewSandbox makes a network namespace at /run/netns/minibox-sbx-RAND with
// lo up. At cleanup it is unbound and removed, and the test fails if its file
// is left or a process still lives in it.
func NewSandbox(t testing.TB) *Sandbox {
	t.Helper()
	RequireRoot(t)
	s := &Sandbox{Netns: newNetns(t, SandboxPrefix+randomHex())}
	// A new namespace may start with the host's ip_forward (this kernel
	// copies it): the sandbox is a stock host, with forwarding off, whatever
	// the real host's is.
	s.Do(t, func() {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0\n"), 0o644); err != nil {
			t.Fatalf("sandbox: ip_forward off: %v", err)
		}
	})
	return s
}

// newNetns makes a named namespace with lo up, removed at cleanup.
func newNetns(t testing.TB, name string) Netns {
	t.Helper()
	created := false
	if _, err := os.Stat(NetnsDir); errors.Is(err, os.ErrNotExist) {
		created = true
	}
	n := Netns{Path: filepath.Join(NetnsDir, name)}
	ino, err := bindNewNetns(n.Path)
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(n.Path, unix.MNT_DETACH); err != nil {
			t.Errorf("unbind network namespace %s: %v", n.Path, err)
		}
		if err := os.Remove(n.Path); err != nil {
			t.Errorf("remove network namespace %s: %v", n.Path, err)
		}
		if created {
			_ = os.Remove(NetnsDir) // only if empty: another sandbox may use it
		}
		if _, err := os.Lstat(n.Path); err == nil {
			t.Errorf("network namespace %s still exists", n.Path)
		}
		for _, p := range processesInNetns(ino) {
			t.Errorf("process %s still in network namespace %s", p, n.Path)
		}
	})
	h, err := n.handle()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("set lo up in %s: %v", n.Path, err)
	}
	return n
}

// bindNewNetns unshares a new network namespace on a thread of its own and
// binds it to path; it returns the namespace's inode.
func bindNewNetns(path string) (uint64, error) {
	type result struct {
		ino uint64
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{0, fmt.Errorf("open the thread's network namespace: %w", err)}
			return
		}
		defer orig.Close()
		ino, err := func() (uint64, error) {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return 0, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
			if err != nil {
				return 0, fmt.Errorf("create %s: %w", path, err)
			}
			f.Close()
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				os.Remove(path)
				return 0, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			}
			self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
			if err := unix.Mount(self, path, "", unix.MS_BIND, ""); err != nil {
				os.Remove(path)
				return 0, fmt.Errorf("bind %s to %s: %w", self, path, err)
			}
			var st unix.Stat_t
			if err := unix.Stat(path, &st); err != nil {
				return 0, fmt.Errorf("stat %s: %w", path, err)
			}
			return st.Ino, nil
		}()
		// Go back before the goroutine ends. A locked goroutine's exit ends
		// its thread, except the main thread, which the runtime keeps: it
		// would stay in the sandbox. If going back fails, stay locked.
		if rerr := netns.Set(orig); rerr == nil {
			runtime.UnlockOSThread()
		} else if err == nil {
			err = fmt.Errorf("return to the original network namespace: %w", rerr)
		}
		ch <- result{ino, err}
	}()
	r := <-ch
	return r.ino, r.err
}

// processesInNetns lists the threads whose network namespace has inode ino
// (each thread has its own: setns moves one thread).
func processesInNetns(ino uint64) []string {
	want := fmt.Sprintf("net:[%d]", ino)
	tasks, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*")
	var out []string
	for _, task := range tasks {
		if l, _ := os.Readlink(filepath.Join(task, "ns/net")); l == want {
			comm, _ := os.ReadFile(filepath.Join(task, "comm"))
			pid := strings.Split(strings.TrimPrefix(task, "/proc/"), "/")[0]
			out = append(out, fmt.Sprintf("%s (thread %s) %s", pid, filepath.Base(task), strings.TrimSpace(string(comm))))
		}
	}
	return out
}

// Outside returns the sandbox's outside namespace, making it on first use.
func (s *Sandbox) Outside(t testing.TB) *Outside {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outside != nil {
		return s.outside
	}
	o := &Outside{
		Netns:   newNetns(t, filepath.Base(s.Path)+"-out"),
		Addr:    netip.MustParseAddr("10.250.0.2"),
		Sandbox: netip.MustParseAddr("10.250.0.1"),
	}
	if err := s.linkOutside(o); err != nil {
		t.Fatalf("link sandbox to outside: %v", err)
	}
	s.outside = o
	return o
}

// linkOutside creates the veth pair in the sandbox, moves its peer to the
// outside, addresses both ends and routes the sandbox's traffic out by it.
func (s *Sandbox) linkOutside(o *Outside) error {
	hs, err := s.handle()
	if err != nil {
		return err
	}
	defer hs.Close()
	ho, err := o.handle()
	if err != nil {
		return err
	}
	defer ho.Close()
	ons, err := netns.GetFromPath(o.Path)
	if err != nil {
		return fmt.Errorf("open %s: %w", o.Path, err)
	}
	defer ons.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "outside0"}, PeerName: "sandbox0", PeerNamespace: netlink.NsFd(ons)}
	if err := hs.LinkAdd(veth); err != nil {
		return fmt.Errorf("add veth outside0/sandbox0: %w", err)
	}
	up := func(h *netlink.Handle, name string, addr netip.Addr) error {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find %s: %w", name, err)
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(30, 32)}}
		if err := h.AddrAdd(l, a); err != nil {
			return fmt.Errorf("address %s on %s: %w", addr, name, err)
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", name, err)
		}
		return nil
	}
	if err := up(hs, "outside0", o.Sandbox); err != nil {
		return err
	}
	if err := up(ho, "sandbox0", o.Addr); err != nil {
		return err
	}
	l, err := hs.LinkByName("outside0")
	if err != nil {
		return fmt.Errorf("find outside0: %w", err)
	}
	if err := hs.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: o.Addr.AsSlice()}); err != nil {
		return fmt.Errorf("default route via %s: %w", o.Addr, err)
	}
	return nil
}

// ForwardDrop gives the sandbox what iptables-nft leaves after dockerd ran:
// table ip filter with a base chain FORWARD (hook forward, priority 0) whose
// policy is drop. It goes with the sandbox.
func (s *Sandbox) ForwardDrop(t testing.TB) {
	t.Helper()
	ns, err := netns.GetFromPath(s.Path)
	if err != nil {
		t.Fatalf("open %s: %v", s.Path, err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatalf("nftables in %s: %v", s.Path, err)
	}
	drop := nftables.ChainPolicyDrop
	tbl := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"})
	c.AddChain(&nftables.Chain{Name: "FORWARD", Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	if err := c.Flush(); err != nil {
		t.Fatalf("add table ip filter chain FORWARD policy drop in %s: %v", s.Path, err)
	}
}

func randomHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
