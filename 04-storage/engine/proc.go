package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// startTime is field 22 of /proc/PID/stat: when the process started, in
// clock ticks since boot (proc(5)). A PID can be reused after its process
// died; the pair (PID, start time) cannot, so the engine records both and
// checks both before it trusts or signals a PID.
func startTime(pid int) (uint64, bool) {
	n, state, ok := procStat(pid)
	if !ok || state == "Z" || state == "X" {
		return 0, false // a zombie has finished: it is not alive
	}
	return n, true
}

// procStat reads a process's start time and state letter, zombies too.
func procStat(pid int) (uint64, string, bool) {
	if pid <= 0 {
		return 0, "", false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the name in () may hold spaces
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, "", false
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	return n, f[0], err == nil
}

// waitGone waits (up to d) until the process is gone from the process
// table, not just dead: a zombie stays until its parent reaps it, and when
// the monitor died its parent is PID 1, which may take its time.
func waitGone(pid int, start uint64, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		n, _, ok := procStat(pid)
		if !ok || start != 0 && n != start {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive says whether pid is still the process that started at start.
func alive(pid int, start uint64) bool {
	got, ok := startTime(pid)
	return ok && (start == 0 || got == start)
}

// signalIf sends sig to pid only if it is still the process we recorded.
func signalIf(pid int, start uint64, sig unix.Signal) bool {
	if !alive(pid, start) {
		return false
	}
	return unix.Kill(pid, sig) == nil
}

// Process is a PID with its start time: what the engine (and lesson 05's
// resolver) records to find a process of its own again.
type Process struct {
	Pid   int
	Start uint64
}

// ProcessOf records a running process; ok is false when it is gone.
func ProcessOf(pid int) (p Process, ok bool) {
	s, ok := startTime(pid)
	return Process{pid, s}, ok
}

// Alive says whether the process is still the one recorded.
func (p Process) Alive() bool { return p.Pid > 0 && alive(p.Pid, p.Start) }

// Signal signals the process only if it is still the one recorded.
func (p Process) Signal(sig unix.Signal) bool { return signalIf(p.Pid, p.Start, sig) }

// WaitGone waits up to d until the process has left the process table.
func (p Process) WaitGone(d time.Duration) { waitGone(p.Pid, p.Start, d) }
