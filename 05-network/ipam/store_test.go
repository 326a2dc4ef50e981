package ipam

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var pool24 = Pool{Subnet: mp("172.18.0.0/24"), Gateway: ma("172.18.0.1")}

func TestAllocate(t *testing.T) {
	type step struct {
		owner, want string // want "" = any
		got, err    string
	}
	tests := []struct {
		name  string
		pool  Pool
		steps []step
	}{
		{name: "lowest first, never the gateway", pool: pool24, steps: []step{
			{owner: "a", got: "172.18.0.2"}, {owner: "b", got: "172.18.0.3"}, {owner: "c", got: "172.18.0.4"},
		}},
		{name: "idempotent per owner", pool: pool24, steps: []step{
			{owner: "a", got: "172.18.0.2"}, {owner: "a", got: "172.18.0.2"}, {owner: "b", got: "172.18.0.3"},
			{owner: "a", want: "172.18.0.2", got: "172.18.0.2"},
			{owner: "a", want: "172.18.0.9", err: "network n1: a already holds 172.18.0.2, not 172.18.0.9"},
		}},
		{name: "wanted address", pool: pool24, steps: []step{
			{owner: "a", want: "172.18.0.10", got: "172.18.0.10"},
			{owner: "b", got: "172.18.0.2"},
			{owner: "c", want: "172.18.0.10", err: "Address already in use"},
			{owner: "c", want: "172.18.0.1", err: "Address already in use"},
			{owner: "c", want: "172.18.0.0", err: "Address already in use"},
			{owner: "c", want: "172.18.0.255", err: "Address already in use"},
			{owner: "c", want: "172.18.1.5", err: "no configured subnet or ip-range contain the IP address 172.18.1.5"},
			{owner: "c", want: "fd00::5", err: "no configured subnet or ip-range contain the IP address fd00::5"},
			{owner: "c", got: "172.18.0.3"},
		}},
		{name: "ip-range: automatic addresses inside it, wanted ones anywhere in the subnet",
			pool: Pool{Subnet: mp("10.9.0.0/16"), Gateway: ma("10.9.0.1"), IPRange: mp("10.9.3.0/30")}, steps: []step{
				{owner: "a", got: "10.9.3.0"}, {owner: "b", want: "10.9.0.7", got: "10.9.0.7"},
				{owner: "c", got: "10.9.3.1"}, {owner: "d", got: "10.9.3.2"}, {owner: "e", got: "10.9.3.3"},
				{owner: "f", err: "no available IPv4 addresses on this network's address pools: n1 (10.9.0.0/16)"},
				{owner: "f", want: "10.9.200.1", got: "10.9.200.1"},
			}},
		{name: "a /30 holds one", pool: Pool{Subnet: mp("10.0.0.0/30"), Gateway: ma("10.0.0.1")}, steps: []step{
			{owner: "a", got: "10.0.0.2"},
			{owner: "b", err: "no available IPv4 addresses on this network's address pools: n1 (10.0.0.0/30)"},
		}},
		{name: "no owner", pool: pool24, steps: []step{{owner: "", err: "network n1: allocate: no owner given"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Open(filepath.Join(t.TempDir(), "ipam"))
			for i, st := range tt.steps {
				var want netip.Addr
				if st.want != "" {
					want = ma(st.want)
				}
				got, err := s.Allocate("n1", tt.pool, st.owner, want)
				if st.err != "" {
					require.EqualError(t, err, st.err, "step %d", i)
					continue
				}
				require.NoError(t, err, "step %d", i)
				require.Equal(t, st.got, got.String(), "step %d", i)
			}
			// The file says what the steps were given.
			owners, err := s.Owners("n1")
			require.NoError(t, err)
			want := map[netip.Addr]string{}
			for _, st := range tt.steps {
				if st.err == "" {
					want[ma(st.got)] = st.owner
				}
			}
			require.Equal(t, want, owners)
		})
	}
}

func TestAllocateFullErrorIs(t *testing.T) {
	s := Open(t.TempDir())
	p := Pool{Subnet: mp("10.0.0.0/30"), Gateway: ma("10.0.0.1")}
	_, err := s.Allocate("n", p, "a", netip.Addr{})
	require.NoError(t, err)
	_, err = s.Allocate("n", p, "b", netip.Addr{})
	require.ErrorIs(t, err, ErrFull)
	_, err = s.Allocate("n", p, "b", ma("10.0.0.2"))
	require.ErrorIs(t, err, ErrInUse)
}

func TestReleaseAndReuse(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "ipam"))
	require.NoError(t, s.Release("n1", "nobody"), "no store yet")
	require.NoError(t, s.ReleaseAll("n1"), "no store yet")
	for _, o := range []string{"a", "b", "c"} {
		_, err := s.Allocate("n1", pool24, o, netip.Addr{})
		require.NoError(t, err)
	}
	require.NoError(t, s.Release("n1", "b"))
	require.NoError(t, s.Release("n1", "b"), "twice")
	require.NoError(t, s.Release("n1", "nobody"))
	require.NoError(t, s.Release("other", "a"), "a network with no file")
	owners, err := s.Owners("n1")
	require.NoError(t, err)
	require.Equal(t, map[netip.Addr]string{ma("172.18.0.2"): "a", ma("172.18.0.4"): "c"}, owners)

	got, err := s.Allocate("n1", pool24, "d", netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, "172.18.0.3", got.String(), "the released address is the lowest free again")
	got, err = s.Allocate("n1", pool24, "e", netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, "172.18.0.5", got.String())

	// A released wanted address may be wanted again.
	require.NoError(t, s.Release("n1", "a"))
	got, err = s.Allocate("n1", pool24, "f", ma("172.18.0.2"))
	require.NoError(t, err)
	assert.Equal(t, "172.18.0.2", got.String())
}

func TestReleaseAll(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir)
	other := Pool{Subnet: mp("172.19.0.0/16"), Gateway: ma("172.19.0.1")}
	for _, o := range []string{"a", "b"} {
		_, err := s.Allocate("n1", pool24, o, netip.Addr{})
		require.NoError(t, err)
		_, err = s.Allocate("n2", other, o, netip.Addr{})
		require.NoError(t, err)
	}
	require.FileExists(t, filepath.Join(dir, "n1.json"))
	require.NoError(t, s.ReleaseAll("n1"))
	require.NoFileExists(t, filepath.Join(dir, "n1.json"))
	require.NoError(t, s.ReleaseAll("n1"), "twice")

	owners, err := s.Owners("n1")
	require.NoError(t, err)
	require.Empty(t, owners)
	owners, err = s.Owners("n2")
	require.NoError(t, err)
	require.Len(t, owners, 2, "the other network keeps its addresses")

	got, err := s.Allocate("n1", pool24, "c", netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, "172.18.0.2", got.String(), "a network made again starts afresh")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"n1.json", "n2.json"}, names, "no temporary or lock files left")
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir)
	a, err := s.Allocate("n1", pool24, "ctr-a", netip.Addr{})
	require.NoError(t, err)
	_, err = s.Allocate("n1", pool24, "ctr-b", ma("172.18.0.50"))
	require.NoError(t, err)

	s2 := Open(dir) // another command
	owners, err := s2.Owners("n1")
	require.NoError(t, err)
	require.Equal(t, map[netip.Addr]string{a: "ctr-a", ma("172.18.0.50"): "ctr-b"}, owners)
	again, err := s2.Allocate("n1", pool24, "ctr-a", netip.Addr{})
	require.NoError(t, err)
	require.Equal(t, a, again)
	_, err = s2.Allocate("n1", pool24, "ctr-c", ma("172.18.0.50"))
	require.ErrorIs(t, err, ErrInUse)
	c, err := s2.Allocate("n1", pool24, "ctr-c", netip.Addr{})
	require.NoError(t, err)
	require.Equal(t, "172.18.0.3", c.String())

	// The file is readable JSON that names the pool.
	b, err := os.ReadFile(filepath.Join(dir, "n1.json"))
	require.NoError(t, err)
	for _, s := range []string{`"subnet": "172.18.0.0/24"`, `"gateway": "172.18.0.1"`, `"172.18.0.50": "ctr-b"`} {
		assert.Contains(t, string(b), s)
	}

	// A damaged file is an error naming it, not an empty network.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "n3.json"), []byte("{"), 0o600))
	_, err = s2.Owners("n3")
	require.ErrorContains(t, err, "n3.json")
	_, err = s2.Allocate("n3", pool24, "x", netip.Addr{})
	require.ErrorContains(t, err, "n3.json")
}

func TestInvalidNetworkID(t *testing.T) {
	s := Open(t.TempDir())
	_, err := s.Allocate("../x", pool24, "a", netip.Addr{})
	require.ErrorContains(t, err, "invalid network id")
	require.ErrorContains(t, s.Release("a/b", "a"), "invalid network id")
	require.ErrorContains(t, s.ReleaseAll(""), "invalid network id")
	_, err = s.Owners("..")
	require.ErrorContains(t, err, "invalid network id")
}

// checkDistinct checks that got holds n distinct addresses of pool24 and
// that the store's file agrees with it.
func checkDistinct(t *testing.T, s *Store, got map[string]netip.Addr, n int) {
	t.Helper()
	require.Len(t, got, n)
	seen := map[netip.Addr]string{}
	for o, a := range got {
		require.True(t, pool24.Subnet.Contains(a), "%s: %s", o, a)
		require.False(t, reserved(pool24, a), "%s: %s", o, a)
		prev, dup := seen[a]
		require.False(t, dup, "%s and %s both got %s", prev, o, a)
		seen[a] = o
	}
	owners, err := s.Owners("n1")
	require.NoError(t, err)
	require.Equal(t, seen, owners)
	// Lowest free each time: the n addresses are the first n after the gateway.
	for a, i := ma("172.18.0.2"), 0; i < n; a, i = a.Next(), i+1 {
		require.Contains(t, seen, a)
	}
}

func TestAllocateGoroutines(t *testing.T) {
	const n = 20
	s := Open(filepath.Join(t.TempDir(), "ipam"))
	var (
		mu    sync.Mutex
		got   = map[string]netip.Addr{}
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			owner := fmt.Sprintf("ctr-%02d", i)
			// Each goroutine opens the store itself, as a separate command would.
			a, err := Open(s.dir).Allocate("n1", pool24, owner, netip.Addr{})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			got[owner] = a
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	checkDistinct(t, s, got, n)
}

const childEnv = "MINIBOX_IPAM_TEST_CHILD" // the store's directory, in a child process

// TestAllocateProcesses runs 20 copies of the test binary, each a separate
// process with its own descriptors, as 20 parallel `minibox run -d` would
// be: only the flock keeps them from handing out one address twice.
func TestAllocateProcesses(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		allocateChild(dir)
		return
	}
	const n = 20
	dir := filepath.Join(t.TempDir(), "ipam")
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *strings.Builder
	}
	var children []child
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAllocateProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir, "MINIBOX_IPAM_TEST_OWNER="+fmt.Sprintf("proc-%02d", i))
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		children = append(children, child{cmd, stdin, out})
	}
	t.Cleanup(func() { // a failed test must not leave children behind
		for _, c := range children {
			if c.cmd.ProcessState == nil {
				_ = c.cmd.Process.Kill()
				_ = c.cmd.Wait()
			}
		}
	})
	// All started and waiting on stdin: closing it lets them go at once.
	for _, c := range children {
		require.NoError(t, c.stdin.Close())
	}
	got := map[string]netip.Addr{}
	for i, c := range children {
		require.NoError(t, c.cmd.Wait(), "child %d: %s", i, c.out)
		var line string
		for l := range strings.Lines(c.out.String()) {
			if strings.HasPrefix(l, "ADDR ") {
				line = strings.TrimSpace(l)
			}
		}
		f := strings.Fields(line)
		require.Len(t, f, 3, "child %d: %s", i, c.out)
		a, err := netip.ParseAddr(f[2])
		require.NoError(t, err)
		got[f[1]] = a
	}
	checkDistinct(t, Open(dir), got, n)
}

// allocateChild is a child of TestAllocateProcesses: wait for the start
// (stdin closed), allocate, print "ADDR OWNER IP" and exit.
func allocateChild(dir string) {
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	owner := os.Getenv("MINIBOX_IPAM_TEST_OWNER")
	a, err := Open(dir).Allocate("n1", pool24, owner, netip.Addr{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "allocate:", err)
		os.Exit(1)
	}
	fmt.Printf("ADDR %s %s\n", owner, a)
	os.Exit(0)
}
