package doctor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Check is one thing the doctor looks at. Checks are independent values, so
// a later lesson appends its own to Base() and passes the slice to Run.
type Check struct {
	Name string        // "root", "kernel", "namespace: user", ...
	Run  func() Result // looks and reports; it must not change the machine
}

// Status is the verdict of one check.
type Status int

// The verdicts, from good to bad.
const (
	OK   Status = iota // the lab can use it
	Warn               // a later lesson or a tool needs it, or we could not tell
	Fail               // the lab cannot run until it is fixed
)

// String returns the label Run prints: "OK", "WARN" or "FAIL".
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warn:
		return "WARN"
	case Fail:
		return "FAIL"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is what a check saw. Detail says what was seen; Fix says what to
// do about it and is only printed for Warn and Fail.
type Result struct {
	Status Status
	Detail string
	Fix    string
}

// Run runs each check in order and writes one line per check to w, plus a
// "fix:" line under each warning or failure that has one, and then a summary
// line. It returns how many checks failed. A check that panics counts as
// failed instead of taking the doctor down with it.
func Run(w io.Writer, checks []Check) (failed int) {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	var counts [3]int
	for _, c := range checks {
		r := runOne(c)
		if r.Status < OK || r.Status > Fail {
			r.Status = Fail
		}
		counts[r.Status]++
		line := fmt.Sprintf("%-6s%-*s  %s", r.Status, width, c.Name, indent(r.Detail))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if r.Status != OK && r.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", indent(r.Fix))
		}
	}
	fmt.Fprintf(w, "doctor: %d OK, %d %s, %d failed\n",
		counts[OK], counts[Warn], plural(counts[Warn], "warning"), counts[Fail])
	return counts[Fail]
}

// ToolCheck looks the program name up on PATH (and in the sbin directories,
// which a normal user's PATH on Debian leaves out). A missing program is a
// warning: why says what the lab uses it for, fix how to install it.
func ToolCheck(name, why, fix string) Check {
	return Check{Name: "tool: " + name, Run: func() Result {
		_, r := toolResult(name, why, fix)
		return r
	}}
}

// FileSystemCheck looks for fs in /proc/filesystems, the list of filesystem
// types the running kernel knows (built in or loaded as a module). A missing
// one fails, with fix as the remedy.
func FileSystemCheck(fs string, fix string) Check {
	return fileSystemCheck("/proc/filesystems", fs, fix)
}

// runOne runs c and turns a missing Run func or a panic into a failure.
func runOne(c Check) (r Result) {
	if c.Run == nil {
		return Result{Status: Fail, Detail: "check has no Run func (a bug in the doctor)"}
	}
	defer func() {
		if p := recover(); p != nil {
			r = Result{Status: Fail, Detail: fmt.Sprintf("check panicked: %v (a bug in the doctor)", p)}
		}
	}()
	return c.Run()
}

// indent keeps a multi-line text under the detail column.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n      ")
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// sbinDirs are searched after PATH: Debian gives normal users a PATH without
// them, yet iptables and ip live there.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// lookTool finds an executable by name: first on PATH, then in sbinDirs.
// onPath tells which of the two found it.
func lookTool(name string) (path string, onPath bool, err error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true, nil
	}
	if strings.ContainsRune(name, '/') {
		return "", false, fmt.Errorf("look up %s: not found", name)
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, false, nil
		}
	}
	return "", false, fmt.Errorf("look up %s: not found on PATH or in %s", name, strings.Join(sbinDirs, ", "))
}

// toolResult is ToolCheck's work, also returning the path for checks that
// look further at the program (busybox, iptables).
func toolResult(name, why, fix string) (path string, r Result) {
	path, onPath, err := lookTool(name)
	if err != nil {
		return "", Result{Status: Warn, Detail: fmt.Sprintf("not found on PATH (%s)", why), Fix: fix}
	}
	if !onPath {
		return path, Result{Status: OK, Detail: path + " (not on your PATH; sudo finds it)"}
	}
	return path, Result{Status: OK, Detail: path}
}

// fileSystemCheck is FileSystemCheck reading the list from path.
func fileSystemCheck(path, fs, fix string) Check {
	return Check{Name: "filesystem: " + fs, Run: func() Result {
		data, err := os.ReadFile(path)
		if err != nil {
			return Result{Status: Fail, Detail: fmt.Sprintf("read the kernel's filesystem list: %v", err), Fix: "mount /proc: sudo mount -t proc proc /proc"}
		}
		if !hasFilesystem(string(data), fs) {
			return Result{Status: Fail, Detail: fmt.Sprintf("%s is not in %s", fs, path), Fix: fix}
		}
		return Result{Status: OK, Detail: fmt.Sprintf("%s is in %s", fs, path)}
	}}
}

// hasFilesystem reports whether fs is listed in the text of
// /proc/filesystems: one type a line, after an optional "nodev" column.
func hasFilesystem(text, fs string) bool {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[len(f)-1] == fs {
			return true
		}
	}
	return false
}
