package main

import (
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
	"minibox/internal/testkit"
)

// The fault test kills, with SIGKILL and at random moments, the CLI or the
// container's monitor while `run -d`, `run`, `stop` and `rm -f` work, and
// then checks what a crash must never break: `ps -a` tells the truth, and
// rm -f of everything with volume prune leaves nothing (no mount, cgroup,
// process, container directory, name, volume or trash). The moments come
// from a seeded source; MINIBOX_FAULT_SEED replays a run.

// The container's command: PID 1 ends on SIGTERM (a shell's trap), so that
// stop is quick, and sleeps in between.
var faultCmd = []string{"sh", "-c", `trap "exit 3" TERM; while :; do sleep 0.1; done`}

// faultRounds is how many times each victim is killed during each
// operation (MINIBOX_FAULT_ROUNDS changes it): 20, or 3 with -test.short
// (the cgroup v2 VM, an emulated machine ten times slower, runs it so).
func faultRounds() int {
	if n, err := strconv.Atoi(os.Getenv("MINIBOX_FAULT_ROUNDS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 3
	}
	return 20
}

func TestFaultsKillAtRandomMoments(t *testing.T) {
	b := newBox(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MINIBOX_FAULT_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = n
	}
	t.Logf("seed %d (MINIBOX_FAULT_SEED=%d replays it)", seed, seed)
	rng := mrand.New(mrand.NewPCG(seed, seed>>1|1))
	before, err := testkit.Snapshot()
	require.NoError(t, err)
	self, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	f := &faults{b: b, rng: rng, before: before, self: self, took: map[string]time.Duration{}}
	b.ok("ps", "-a") // the first command makes the roots' files
	for _, op := range []string{"run -d", "run", "stop", "rm -f"} {
		for _, victim := range []string{"cli", "monitor"} {
			hits := 0
			for i := range faultRounds() {
				if f.round(op, victim, i) {
					hits++
				}
			}
			t.Logf("%s, kill the %s: %d of %d kills hit it while it worked", op, victim, hits, faultRounds())
			// At least some kills must land inside the operation, or
			// the test tests nothing. (About two in three do; of the
			// three short rounds all may miss, of twenty never.)
			if faultRounds() >= 10 {
				require.Positive(t, hits, "%s/%s: no kill hit the operation", op, victim)
			}
		}
	}
}

type faults struct {
	b      *box
	rng    *mrand.Rand
	before testkit.Residue
	self   string
	took   map[string]time.Duration // how long each operation took when not interrupted
}

// round runs one operation, kills its victim at a random moment, checks
// ps and cleans up. It reports whether the victim was alive when killed.
func (f *faults) round(op, victim string, i int) bool {
	b, t := f.b, f.b.t
	t.Helper()
	name := fmt.Sprintf("f%d", i)
	runArgs := append([]string{"-v", "/data", "--name", name, "busybox"}, faultCmd...)
	if op == "stop" || op == "rm -f" {
		b.ok(append([]string{"run", "-d"}, runArgs...)...)
	}
	var args []string
	var window time.Duration // how long the operation takes, about
	switch op {
	case "run -d":
		args, window = append([]string{"run", "-d"}, runArgs...), 400*time.Millisecond
	case "run":
		// Attached: the container ends by itself, so that the CLI ends
		// too when its monitor is killed.
		args, window = []string{"run", "-v", "/data", "--name", name, "busybox", "sleep", "0.5"}, 700*time.Millisecond
	case "stop":
		args, window = []string{"stop", "-t", "5", name}, 400*time.Millisecond
	case "rm -f":
		args, window = []string{"rm", "-f", name}, 400*time.Millisecond
	}
	if d, ok := f.took[op]; ok {
		window = d + d/5 // a little past the end: some kills come too late
	}
	delay := time.Duration(f.rng.Int64N(int64(window)))
	cmd := b.command(args...)
	began := time.Now()
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	hit := false
	if victim == "cli" {
		select {
		case <-done:
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
		}
	} else {
		hit = f.killMonitor(done, delay)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("round %s/%s %d: minibox %v did not end in 60s after its monitor was killed", op, victim, i, args)
	}
	if victim == "cli" {
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		hit = ws.Signaled()
	}
	if !hit || victim == "monitor" {
		f.took[op] = time.Since(began)
	}
	t.Logf("%s/%s %d: kill after %v, hit %v", op, victim, i, delay, hit)
	f.psTellsTruth(fmt.Sprintf("%s/%s %d (delay %v)", op, victim, i, delay))
	f.cleanUp(fmt.Sprintf("%s/%s %d (delay %v)", op, victim, i, delay))
	return hit
}

// killMonitor kills the box's monitor at a random moment while the
// operation works: delay/2 after the monitor appears (or after the start of
// the operation, when the monitor was there before). It reports whether it
// killed a monitor before the operation ended.
func (f *faults) killMonitor(done chan struct{}, delay time.Duration) bool {
	start := time.Now()
	for len(f.b.monitors()) == 0 {
		select {
		case <-done:
			return false
		default:
		}
		if time.Since(start) > 10*time.Second {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		return false
	case <-time.After(delay / 2):
	}
	hit := false
	for _, pid := range f.b.monitors() {
		// Only the box's own monitors: their command line names its data
		// root (box.monitors checks it).
		hit = syscall.Kill(pid, syscall.SIGKILL) == nil || hit
	}
	select {
	case <-done:
		return false // the operation may have ended before the kill
	default:
		return hit
	}
}

// psTellsTruth waits (a monitor that outlived its CLI may still be
// starting its container) until ps -a agrees with the kernel: a container
// is Up exactly when a process of its own command runs in its cgroup.
func (f *faults) psTellsTruth(round string) {
	b, t := f.b, f.b.t
	t.Helper()
	var last string
	deadline := time.Now().Add(15 * time.Second)
	for {
		last = f.disagreement()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %s: ps -a does not tell the truth: %s\nps -a:\n%s", round, last, b.ok("ps", "-a"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *faults) disagreement() string {
	b := f.b
	r := b.run("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Status}}")
	if r.Code != 0 {
		return "ps -a failed: " + r.Stderr
	}
	listed := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if l == "" {
			continue
		}
		id, status, _ := strings.Cut(l, " ")
		listed[id] = true
		up := strings.HasPrefix(status, "Up")
		runs := f.runs(id)
		if up != runs {
			return fmt.Sprintf("%s is %q, and its command runs: %v", id[:12], status, runs)
		}
	}
	// No container runs that ps does not list.
	for _, dir := range cgroupDirs() {
		if id := filepath.Base(dir); !listed[id] && f.runs(id) {
			return fmt.Sprintf("%s runs but ps -a does not list it", id[:12])
		}
	}
	return ""
}

// runs says whether the container's own command runs: a process in its
// cgroup that is not the runtime's init still waiting for start (this test
// binary).
func (f *faults) runs(id string) bool {
	for _, pid := range cgroupProcs(id) {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe != f.self {
			if _, state, ok := testkit.StatOf(pid); ok && state != "Z" {
				return true
			}
		}
	}
	return false
}

// cgroupDirs are the containers' cgroups in the pids (or unified) hierarchy.
func cgroupDirs() []string {
	var out []string
	for _, root := range []string{"/sys/fs/cgroup/pids/" + testkit.CgroupPrefix, "/sys/fs/cgroup/" + testkit.CgroupPrefix} {
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			if e.IsDir() && len(e.Name()) == 64 {
				out = append(out, filepath.Join(root, e.Name()))
			}
		}
	}
	return out
}

func cgroupProcs(id string) []int {
	var out []int
	for _, root := range []string{"/sys/fs/cgroup/pids/", "/sys/fs/cgroup/memory/", "/sys/fs/cgroup/"} {
		data, err := os.ReadFile(filepath.Join(root, engine.CgroupPath(id), "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// cleanUp removes every container and the unused volumes, and then nothing
// may be left: no monitor, no kernel object, no state under the data root.
func (f *faults) cleanUp(round string) {
	b, t := f.b, f.b.t
	t.Helper()
	for _, id := range strings.Fields(b.ok("ps", "-aq", "--no-trunc")) {
		r := b.run("rm", "-f", id)
		require.Equal(t, 0, r.Code, "round %s: rm -f %s: %s", round, id[:12], r.Stderr)
	}
	b.ok("volume", "prune", "-f")
	require.Empty(t, b.ok("ps", "-aq"), "round %s", round)
	b.noMonitors()
	left := f.dataLeft()
	require.Empty(t, left, "round %s: left in the data root", round)
	deadline := time.Now().Add(5 * time.Second)
	for {
		now, err := testkit.Snapshot()
		require.NoError(t, err)
		residue := now.NewSince(f.before)
		if len(residue) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %s: left behind: %v", round, residue)
		}
		time.Sleep(20 * time.Millisecond) // PID 1 may not have reaped yet
	}
}

// dataLeft lists what is under the roots that belongs to no container:
// container directories and trash, names, volumes and their trash, the
// layers' snapshots and mount points, bundles, sockets and the runtime's
// state.
func (f *faults) dataLeft() []string {
	var out []string
	list := func(dir string, keep ...string) {
		ents, _ := os.ReadDir(filepath.Join(f.b.data, dir))
		for _, e := range ents {
			if !contains(keep, e.Name()) {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	// The exec root too: bundles, sockets, the runtime's state.
	for _, dir := range []string{"containers", "sock", "runtime/minibox"} {
		ents, _ := os.ReadDir(filepath.Join(f.b.exec, dir))
		for _, e := range ents {
			out = append(out, filepath.Join("EXEC", dir, e.Name()))
		}
	}
	list("containers")
	list("names")
	list("volumes", "lock")
	list("storage/mnt")
	list("storage/overlay")
	list("storage/vfs")
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
