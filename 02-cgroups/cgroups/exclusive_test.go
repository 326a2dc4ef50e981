package cgroups

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

// startSleeper starts a process that the test kills and reaps at the end.
func startSleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// inCgroup says whether pid is listed in every one of m's directories.
func inCgroup(t *testing.T, m Manager, pid int) bool {
	t.Helper()
	for _, d := range m.Dirs() {
		pids, err := readPids(d)
		require.NoError(t, err)
		found := false
		for _, p := range pids {
			found = found || p == pid
		}
		if !found {
			return false
		}
	}
	return true
}

// Many Creates of one cgroup at the same moment: exactly one gets it, the
// others fail with ExistsError and, failing, leave the winner's cgroup and
// its process alone.
func TestCreateIsExclusive(t *testing.T) {
	testkit.Root(t)
	p := fmt.Sprintf("race-%d/c", rand.Int64())
	const n = 8
	mgrs := make([]Manager, n)
	errs := make([]error, n)
	for i := range mgrs {
		m, err := New("", p)
		require.NoError(t, err)
		mgrs[i] = m
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range mgrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = mgrs[i].Create(nil)
		}()
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two Creates of %s succeeded", p)
			winner = i
			continue
		}
		var ee *ExistsError
		require.ErrorAs(t, err, &ee, "Create %d", i)
		assert.ErrorIs(t, err, fs.ErrExist)
		assert.Contains(t, err.Error(), "cgroup "+Prefix+"/"+p+" already exists: another container uses it")
		assert.Contains(t, err.Error(), "another container uses it")
	}
	require.NotEqual(t, -1, winner, "no Create succeeded: %v", errs)
	w := mgrs[winner]
	t.Cleanup(func() { assert.NoError(t, w.Destroy()) })

	sleeper := startSleeper(t)
	require.NoError(t, w.Join(sleeper.Process.Pid))
	// Another attempt, once the winner runs a process, fails the same way
	// and neither removes the cgroup nor kills the process.
	_, err := mgrs[(winner+1)%n].Create(nil)
	require.ErrorIs(t, err, fs.ErrExist)
	for _, d := range w.Dirs() {
		assert.DirExists(t, d)
	}
	assert.True(t, inCgroup(t, w, sleeper.Process.Pid), "the winner's process is still in its cgroup")
	assert.NoError(t, sleeper.Process.Signal(syscall.Signal(0)), "the winner's process still runs")
}

// A Create that finds its cgroup in one hierarchy only (v1: a leftover in
// one controller) removes the directories it made in the others, and leaves
// the one it found as it was.
func TestFailedCreateRemovesOnlyWhatItMade(t *testing.T) {
	testkit.Root(t)
	p := fmt.Sprintf("partial-%d", rand.Int64())
	m, err := New("", p)
	require.NoError(t, err)
	dirs := m.Dirs()
	// The directory that is there before: the last one Create comes to.
	there := dirs[len(dirs)-1]
	if m.Version() == 1 {
		mounts := m.(*v1).mountsInUse()
		there = joinRoot(mounts[len(mounts)-1], m.Path())
	}
	require.NoError(t, os.MkdirAll(there, 0o755))
	// Destroy kills the process and removes the directory at the end.
	t.Cleanup(func() { assert.NoError(t, m.Destroy()) })
	sleeper := startSleeper(t)
	require.NoError(t, writeFile(there, "cgroup.procs", strconv.Itoa(sleeper.Process.Pid)))

	_, err = m.Create(nil)
	var ee *ExistsError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, there, ee.Dir)
	for _, d := range dirs {
		if d != there {
			assert.NoDirExists(t, d, "made by the failed Create, and removed by it")
		}
	}
	assert.DirExists(t, there, "there before: the failed Create leaves it")
	pids, err := readPids(there)
	require.NoError(t, err)
	assert.Contains(t, pids, sleeper.Process.Pid, "and the process in it")
}
