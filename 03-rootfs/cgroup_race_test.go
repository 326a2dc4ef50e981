package main

import (
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"minibox/02-cgroups/cgroups"
	"minibox/03-rootfs/oci"
	"minibox/internal/testkit"
)

// sibling is another state directory (another --root) over b's bundle:
// another runtime's view, which knows nothing of b's containers.
func (b *runtimeBox) sibling() *runtimeBox {
	s := &runtimeBox{t: b.t, root: b.t.TempDir(), bundle: b.bundle, spec: b.spec}
	b.t.Cleanup(func() {
		states, _ := (oci.Store{Root: s.root}).List()
		for _, st := range states {
			s.cmd("delete", "--force", st.ID)
		}
		s.reap()
	})
	return s
}

// Runtimes that do not know of each other create containers with the same
// linux.cgroupsPath at the same moment: exactly one gets the cgroup, the
// others fail and leave nothing behind, and deleting a loser does not
// touch the winner.
func TestConcurrentCreatesOfOneCgroup(t *testing.T) {
	testkit.Root(t)
	b := newBundle(t, "sleep", "300")
	cgroup := cgroups.Prefix + "/" + randName("race-")
	b.spec.Linux.CgroupsPath = cgroup
	b.save()
	boxes := []*runtimeBox{b}
	for range 3 {
		boxes = append(boxes, b.sibling())
	}
	id := randName("c")
	results := make([]testkit.Result, len(boxes))
	var wg sync.WaitGroup
	for i, box := range boxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = box.cmd("create", id)
		}()
	}
	wg.Wait()

	winner := -1
	for i, r := range results {
		if r.Code == 0 {
			require.Equal(t, -1, winner, "two creates got cgroup %s", cgroup)
			winner = i
			continue
		}
		assert.Contains(t, r.Stderr, "cgroup "+cgroup+" already exists", "create %d", i)
		assert.Contains(t, r.Stderr, "another container uses it", "create %d", i)
		assert.NoDirExists(t, boxes[i].root+"/"+id, "a failed create leaves no state")
	}
	require.NotEqual(t, -1, winner, "no create succeeded: %+v", results)
	w := boxes[winner]
	st := w.state(id)
	require.Equal(t, specs.StateCreated, st.Status)

	for i, box := range boxes {
		if i != winner {
			r := box.cmd("delete", "--force", id)
			assert.NotEqual(t, 0, r.Code, "the loser has no container to delete")
		}
	}
	assert.Equal(t, specs.StateCreated, w.state(id).Status, "the winner is untouched")
	assert.NoError(t, unix.Kill(st.Pid, 0), "the winner's init still lives")
	mgr, err := cgroups.New("", cgroup)
	require.NoError(t, err)
	for _, d := range mgr.Dirs() {
		assert.DirExists(t, d, "the winner's cgroup is still there")
	}
	w.ok("start", id)
	w.waitStatus(id, specs.StateRunning)
	w.ok("delete", "--force", id)
	for _, d := range mgr.Dirs() {
		assert.NoDirExists(t, d)
	}
}
