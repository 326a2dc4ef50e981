package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// startTime is field 22 of /proc/PID/stat: when the process started, in
// clock ticks since boot (proc(5)). A PID can be reused after its process
// died; the pair (PID, start time) cannot, so the engine records both and
// checks both before it trusts or signals a PID.
func startTime(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the name in () may hold spaces
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false // a zombie has finished: it is not alive
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	return n, err == nil
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
