package main

import (
	"strings"
	"testing"
)

// serial builds a serial log the way the guest's console delivers it:
// CRLF line ends and an escape sequence or two from the firmware.
func serial(lines ...string) string {
	return "\x1bc\x1b[?7l" + strings.Join(lines, "\r\n") + "\r\n"
}

var bootLines = []string{
	"[    0.000000] Linux version 6.1.0-56-amd64",
	"@@vm kernel 6.1.0-56-amd64",
	"@@vm cgroup v2 only: cgroup2 at /sys/fs/cgroup; controllers: cpuset cpu io memory",
	"@@vm modules loaded: overlay",
}

func pkg(name string, exit int, body ...string) []string {
	out := append([]string{"@@vm BEGIN " + name}, body...)
	return append(out, "", "@@vm END "+name+" exit="+itoa(exit)+" seconds=3")
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func logOf(parts ...[]string) string {
	var all []string
	for _, p := range parts {
		all = append(all, p...)
	}
	return serial(all...)
}

func TestCleanLog(t *testing.T) {
	got := cleanLog("\x1b[2J\x1b[01;01Hhello\r\n\x1b]0;title\x07wor\x1b(Bld\r\n\ttab\x00\r\n")
	want := []string{"hello", "world", "\ttab"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("cleanLog = %q, want %q", got, want)
	}
	if cleanLog("") != nil {
		t.Error("an empty log has lines")
	}
}

func TestKernelXY(t *testing.T) {
	for in, want := range map[string]string{
		"6.1.0-56-amd64":   "6.1",
		"6.8.0-31-generic": "6.8",
		"5.15.167.4-micro": "5.15",
		"6.10-rc1":         "6.10",
		"weird":            "weird",
	} {
		if got := kernelXY(in); got != want {
			t.Errorf("kernelXY(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReport(t *testing.T) {
	passing := pkg("./01-namespaces", 0,
		"=== RUN   TestA", "--- PASS: TestA (0.10s)",
		"=== RUN   TestB", "=== RUN   TestB/sub", "--- PASS: TestB (0.20s)", "    --- PASS: TestB/sub (0.10s)",
		"=== RUN   TestC", "    x_test.go:9: v1 only", "--- SKIP: TestC (0.00s)",
		"PASS")
	other := pkg("./internal/testkit", 0, "=== RUN   TestD", "--- PASS: TestD (0.01s)", "PASS")
	failing := pkg("./02-cgroups", 1,
		"=== RUN   TestE", "--- PASS: TestE (0.01s)",
		"=== RUN   TestF", "    main_test.go:98: not greater", "--- FAIL: TestF (5.72s)",
		"FAIL")
	panicking := pkg("./02-cgroups/cgroups", 2,
		"=== RUN   TestG", "panic: runtime error: index out of range", "goroutine 7 [running]:")
	done := []string{"@@vm DONE"}

	tests := []struct {
		name     string
		log      string
		qemuExit int
		expect   []string
		ok       bool
		last     string
		contains []string
	}{
		{
			name: "all pass", log: logOf(bootLines, passing, other, done), qemuExit: qemuExitPass,
			expect: []string{"./01-namespaces", "./internal/testkit"}, ok: true,
			last:     "vm-test: kernel 6.1, cgroup v2, 3 passed, 0 failed, 1 skipped",
			contains: []string{"ok   ./01-namespaces", "skipped in ./01-namespaces: TestC"},
		},
		{
			name: "a test fails", log: logOf(bootLines, passing, failing, done), qemuExit: qemuExitFail, ok: false,
			last:     "vm-test: kernel 6.1, cgroup v2, 3 passed, 1 failed, 1 skipped",
			contains: []string{"FAIL ./02-cgroups", "main_test.go:98: not greater", "FAIL TestF"},
		},
		{
			name: "a binary panics without a FAIL line", log: logOf(bootLines, other, panicking, done),
			qemuExit: qemuExitFail, ok: false,
			last:     "vm-test: kernel 6.1, cgroup v2, 1 passed, 1 failed",
			contains: []string{"panic: runtime error", "exit status 2 without PASS"},
		},
		{
			name: "exit 0 without PASS counts as a failure",
			log:  logOf(bootLines, other, pkg("./x", 0, "=== RUN   TestH", "--- PASS: TestH (0.01s)"), done),
			// The guest thought all was well, the log says otherwise.
			qemuExit: qemuExitPass, ok: false,
			last:     "vm-test: kernel 6.1, cgroup v2, 2 passed, 1 failed",
			contains: []string{"the guest reported success, but the log shows failures"},
		},
		{
			name: "the guest says fail, the log looks clean", log: logOf(bootLines, other, done),
			qemuExit: qemuExitFail, ok: false,
			last:     "vm-test: kernel 6.1, cgroup v2, 1 passed, 1 failed",
			contains: []string{"the guest reported a failure"},
		},
		{
			name: "a package never ran", log: logOf(bootLines, other, done), qemuExit: qemuExitPass,
			expect: []string{"./internal/testkit", "./05-network"}, ok: false,
			last:     "vm-test: kernel 6.1, cgroup v2, 1 passed, 1 failed",
			contains: []string{"package ./05-network never ran"},
		},
		{
			name: "timeout in the middle of a package",
			log: logOf(bootLines, other, []string{"@@vm BEGIN ./01-namespaces", "=== RUN   TestA",
				"--- PASS: TestA (0.10s)", "=== RUN   TestSlow"}),
			qemuExit: exitCodeTimeout, ok: false,
			last:     "vm-test: kernel 6.1, cgroup v2, 2 passed, 1 failed",
			contains: []string{"timed out", "never finished"},
		},
		{
			name: "kernel panic", log: serial("Run /init as init process",
				"Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100",
				"CPU: 0 PID: 1 Comm: init"),
			qemuExit: 0, ok: false,
			last:     "vm-test: kernel ?, cgroup ?, 0 passed, 1 failed",
			contains: []string{"the kernel panicked: Kernel panic", "CPU: 0 PID: 1 Comm: init", "last lines of the serial console"},
		},
		{
			name: "guest setup error", log: logOf(bootLines[:2], []string{"@@vm ERROR cgroup v1 hierarchies are mounted: /sys/fs/cgroup/memory"}),
			qemuExit: qemuExitFail, ok: false,
			contains: []string{"guest setup: cgroup v1 hierarchies are mounted", "did not confirm a cgroup v2-only", "zero tests ran"},
		},
		{
			name: "no DONE: output cut short", log: logOf(bootLines, other), qemuExit: qemuExitPass, ok: false,
			contains: []string{"no DONE marker"},
		},
		{
			name: "qemu itself failed", log: "", qemuExit: 1, ok: false,
			contains: []string{"qemu failed with exit status 1", "never reported its kernel"},
		},
		{
			name: "kernel log on failure", log: logOf(bootLines, failing, []string{"dmesg: [ 36.8] Memory cgroup out of memory", "@@vm DONE"}),
			qemuExit: qemuExitFail, ok: false,
			contains: []string{"the guest's kernel log", "Memory cgroup out of memory"},
		},
		{
			name: "a marker after output without a newline",
			log: logOf(bootLines, []string{"@@vm BEGIN ./y", "=== RUN   TestI", "--- PASS: TestI (0.01s)", "PASS",
				"no newline here@@vm END ./y exit=0 seconds=1"}, done),
			qemuExit: qemuExitPass, ok: true,
			last: "vm-test: kernel 6.1, cgroup v2, 1 passed, 0 failed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := parseLog(tc.log)
			var out strings.Builder
			ok := writeReport(&out, l, judge(l, tc.qemuExit, tc.expect), false)
			text := out.String()
			if ok != tc.ok {
				t.Errorf("ok = %v, want %v\n%s", ok, tc.ok, text)
			}
			lines := strings.Split(strings.TrimSpace(text), "\n")
			last := lines[len(lines)-1]
			if tc.last != "" && last != tc.last {
				t.Errorf("last line %q, want %q\n%s", last, tc.last, text)
			}
			if !tc.ok && strings.Contains(last, " 0 failed") {
				t.Errorf("a failed run ends with %q", last)
			}
			if !strings.HasPrefix(last, "vm-test: kernel ") {
				t.Errorf("last line %q does not start with vm-test: kernel", last)
			}
			for _, c := range tc.contains {
				if !strings.Contains(text, c) {
					t.Errorf("report lacks %q\n%s", c, text)
				}
			}
		})
	}
}

func TestReportVerbosePrintsPassingOutput(t *testing.T) {
	l := parseLog(logOf(bootLines, pkg("./a", 0, "=== RUN   TestA", "    a_test.go:1: hello", "--- PASS: TestA (0.00s)", "PASS"),
		[]string{"@@vm DONE"}))
	for _, verbose := range []bool{false, true} {
		var out strings.Builder
		writeReport(&out, l, judge(l, qemuExitPass, nil), verbose)
		if got := strings.Contains(out.String(), "a_test.go:1: hello"); got != verbose {
			t.Errorf("verbose=%v: passing output shown = %v", verbose, got)
		}
	}
}
