package main

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// The guest's init (vm/init.sh) writes everything to the serial console.
// Its own lines start with the marker "@@vm "; between "@@vm BEGIN PKG" and
// "@@vm END PKG exit=N seconds=S" is the verbose output of one test binary.
// The host sees that console as a file: CRLF line ends (the tty adds the
// CR), terminal escape codes from the firmware and the kernel, and kernel
// messages that may interleave. report turns it into a verdict.

// QEMU's isa-debug-exit device makes QEMU exit with (value<<1)|1 when the
// guest writes value to its port. The init writes 1 when every package
// passed and 2 otherwise; QEMU exits with 0 if the guest powered off or the
// kernel panicked (panic=-1 and -no-reboot) before writing anything.
const (
	qemuExitPass    = 1<<1 | 1 // 3
	qemuExitFail    = 2<<1 | 1 // 5
	exitCodeTimeout = 124      // timeout(1)
)

const marker = "@@vm "

// pkgResult is what one test binary did in the VM.
type pkgResult struct {
	Name                    string
	Passed, Failed, Skipped []string // top-level tests
	SawPASS                 bool     // the binary's closing "PASS" line
	Ended                   bool     // its END marker arrived
	Exit                    int
	Seconds                 int
	Output                  []string
}

// ok reports whether the package passed as a whole.
func (p *pkgResult) ok() bool {
	return p.Ended && p.Exit == 0 && p.SawPASS && len(p.Failed) == 0
}

// failures counts the package's failures: its failed tests, or one when it
// failed without naming a test (a panic, a timeout, a build problem).
func (p *pkgResult) failures() int {
	if p.ok() {
		return 0
	}
	if len(p.Failed) > 0 {
		return len(p.Failed)
	}
	return 1
}

// vmLog is everything report learns from the serial log.
type vmLog struct {
	Kernel   string // uname -r in the guest
	Cgroup   string // what the guest found at /sys/fs/cgroup: "v2" when it checked
	Info     []string
	Errors   []string // "@@vm ERROR" lines: the init's own checks failed
	Panic    []string // the kernel panicked: its lines
	Done     bool
	Dmesg    []string // the guest's kernel log, sent when something failed
	Packages []*pkgResult
	Tail     []string // the last lines, for a boot that went wrong
}

var (
	escapeCodes = regexp.MustCompile(`\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[0-~])`)
	testLine    = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+)`)
	endLine     = regexp.MustCompile(`^END (\S+) exit=(-?\d+)(?: seconds=(\d+))?`)
)

// cleanLog strips what the serial line adds: carriage returns, escape
// codes and other control characters (tabs stay).
func cleanLog(raw string) []string {
	s := escapeCodes.ReplaceAllString(raw, "")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// parseLog reads the serial log.
func parseLog(raw string) *vmLog {
	l := &vmLog{}
	lines := cleanLog(raw)
	var cur *pkgResult
	panicLeft := 0
	for _, line := range lines {
		if panicLeft > 0 {
			l.Panic = append(l.Panic, line)
			panicLeft--
		}
		if strings.Contains(line, "Kernel panic - not syncing") {
			l.Panic = append(l.Panic, line)
			panicLeft = 20
		}
		// A marker may follow output that did not end its line.
		if i := strings.Index(line, marker); i >= 0 {
			if cur != nil && i > 0 {
				cur.add(line[:i])
			}
			cur = l.marker(strings.TrimSpace(line[i+len(marker):]), cur)
			continue
		}
		switch {
		case cur != nil:
			cur.add(line)
		case strings.HasPrefix(line, "dmesg: "):
			l.Dmesg = append(l.Dmesg, strings.TrimPrefix(line, "dmesg: "))
		}
	}
	if n := len(lines); n > 60 {
		l.Tail = lines[n-60:]
	} else {
		l.Tail = lines
	}
	return l
}

// marker handles one "@@vm" line and returns the package now running.
func (l *vmLog) marker(m string, cur *pkgResult) *pkgResult {
	word, rest, _ := strings.Cut(m, " ")
	switch word {
	case "kernel":
		l.Kernel = strings.TrimSpace(rest)
	case "cgroup":
		l.Cgroup, _, _ = strings.Cut(strings.TrimSpace(rest), " ")
		l.Info = append(l.Info, m)
	case "ERROR":
		l.Errors = append(l.Errors, strings.TrimSpace(rest))
	case "BEGIN":
		p := &pkgResult{Name: strings.TrimSpace(rest), Exit: -1}
		l.Packages = append(l.Packages, p)
		return p
	case "END":
		if g := endLine.FindStringSubmatch(m); g != nil && cur != nil && g[1] == cur.Name {
			cur.Ended = true
			cur.Exit, _ = strconv.Atoi(g[2])
			cur.Seconds, _ = strconv.Atoi(g[3])
		}
		return nil
	case "DONE":
		l.Done = true
	default:
		l.Info = append(l.Info, m)
	}
	return cur
}

func (p *pkgResult) add(line string) {
	p.Output = append(p.Output, line)
	if line == "PASS" {
		p.SawPASS = true
	}
	if g := testLine.FindStringSubmatch(line); g != nil {
		switch g[1] {
		case "PASS":
			p.Passed = append(p.Passed, g[2])
		case "FAIL":
			p.Failed = append(p.Failed, g[2])
		case "SKIP":
			p.Skipped = append(p.Skipped, g[2])
		}
	}
}

// verdict is the outcome of a run.
type verdict struct {
	Passed, Failed, Skipped int
	Problems                []string // why the run failed, beyond failed tests
}

func (v verdict) ok() bool { return v.Failed == 0 && len(v.Problems) == 0 }

// judge weighs the log, QEMU's exit status and the packages that were
// meant to run. Anything but a complete, confirmed, all-green run fails.
func judge(l *vmLog, qemuExit int, expect []string) verdict {
	var v verdict
	seen := map[string]bool{}
	for _, p := range l.Packages {
		seen[p.Name] = true
		v.Passed += len(p.Passed)
		v.Skipped += len(p.Skipped)
		v.Failed += p.failures()
	}
	for _, name := range expect {
		if !seen[name] {
			v.Failed++
			v.Problems = append(v.Problems, fmt.Sprintf("package %s never ran", name))
		}
	}
	switch qemuExit {
	case qemuExitPass:
		if v.Failed > 0 {
			v.Problems = append(v.Problems, "the guest reported success, but the log shows failures")
		}
	case qemuExitFail:
		if v.Failed == 0 {
			v.Problems = append(v.Problems, "the guest reported a failure")
		}
	case exitCodeTimeout:
		v.Problems = append(v.Problems, "the VM timed out (VM_TIMEOUT); the log above shows how far it got")
	case 0:
		v.Problems = append(v.Problems, "the VM stopped without reporting a result (kernel panic or init died)")
	default:
		v.Problems = append(v.Problems, fmt.Sprintf("qemu failed with exit status %d", qemuExit))
	}
	if len(l.Panic) > 0 {
		v.Problems = append(v.Problems, "the kernel panicked: "+l.Panic[0])
	}
	for _, e := range l.Errors {
		v.Problems = append(v.Problems, "guest setup: "+e)
	}
	if l.Kernel == "" {
		v.Problems = append(v.Problems, "the guest never reported its kernel: it did not boot as far as the init")
	}
	if l.Cgroup != "v2" && l.Kernel != "" {
		v.Problems = append(v.Problems, "the guest did not confirm a cgroup v2-only hierarchy")
	}
	if !l.Done && qemuExit != exitCodeTimeout && l.Kernel != "" {
		v.Problems = append(v.Problems, "the log has no DONE marker: output was cut short")
	}
	if v.Passed == 0 {
		v.Problems = append(v.Problems, "no test passed: zero tests ran")
	}
	return v
}

// kernelXY shortens "6.1.0-56-amd64" to "6.1".
func kernelXY(release string) string {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return release
	}
	minor := parts[1]
	for i, r := range minor {
		if r < '0' || r > '9' {
			minor = minor[:i]
			break
		}
	}
	return parts[0] + "." + minor
}

// writeReport prints one line per package, the output of every package
// that failed (or all of them when verbose), the problems and the closing
// line; it returns whether the run passed.
func writeReport(w io.Writer, l *vmLog, v verdict, verbose bool) bool {
	for _, i := range l.Info {
		fmt.Fprintf(w, "vm-test: guest: %s\n", i)
	}
	for _, p := range l.Packages {
		status := "ok  "
		if !p.ok() {
			status = "FAIL"
		}
		fmt.Fprintf(w, "vm-test: %s %-32s %3d passed, %d failed, %d skipped (%ds)\n",
			status, p.Name, len(p.Passed), p.failures(), len(p.Skipped), p.Seconds)
	}
	for _, p := range l.Packages {
		if p.ok() && !verbose {
			continue
		}
		fmt.Fprintf(w, "\n===== output of %s in the VM =====\n", p.Name)
		for _, o := range p.Output {
			fmt.Fprintln(w, o)
		}
		switch {
		case !p.Ended:
			fmt.Fprintf(w, "===== %s: the output ends here, the binary never finished =====\n\n", p.Name)
		case p.ok():
			fmt.Fprintf(w, "===== end of %s =====\n\n", p.Name)
		case !p.SawPASS && len(p.Failed) == 0:
			fmt.Fprintf(w, "===== %s: exit status %d without PASS =====\n\n", p.Name, p.Exit)
		default:
			fmt.Fprintf(w, "===== %s: FAIL %s =====\n\n", p.Name, strings.Join(p.Failed, " "))
		}
	}
	for _, p := range l.Packages {
		if len(p.Skipped) > 0 {
			fmt.Fprintf(w, "vm-test: skipped in %s: %s\n", p.Name, strings.Join(p.Skipped, " "))
		}
	}
	if len(l.Packages) == 0 || len(l.Panic) > 0 || l.Kernel == "" {
		fmt.Fprintln(w, "\n===== last lines of the serial console =====")
		for _, t := range l.Tail {
			fmt.Fprintln(w, t)
		}
		fmt.Fprintln(w, "=====")
	}
	if len(l.Dmesg) > 0 {
		fmt.Fprintln(w, "\n===== the guest's kernel log (last lines) =====")
		for _, d := range l.Dmesg {
			fmt.Fprintln(w, d)
		}
		fmt.Fprintln(w, "=====")
	}
	for _, pr := range v.Problems {
		fmt.Fprintf(w, "vm-test: error: %s\n", pr)
	}
	kernel := "?"
	if l.Kernel != "" {
		kernel = kernelXY(l.Kernel)
	}
	cg := "cgroup " + l.Cgroup
	if l.Cgroup == "" {
		cg = "cgroup ?"
	}
	failed := v.Failed
	if failed == 0 && !v.ok() {
		failed = 1 // the run itself failed: never print "0 failed" for it
	}
	last := fmt.Sprintf("vm-test: kernel %s, %s, %d passed, %d failed", kernel, cg, v.Passed, failed)
	if v.Skipped > 0 {
		last += fmt.Sprintf(", %d skipped", v.Skipped)
	}
	fmt.Fprintln(w, last)
	return v.ok()
}
