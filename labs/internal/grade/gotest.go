package grade

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"time"
)

// MaxOutputLines caps the output kept for one test (and for a package).
const MaxOutputLines = 40

// maxOutputBytes caps what is buffered for one test before it is split.
const maxOutputBytes = 64 << 10

// Test results.
const (
	Pass    = "pass"
	Fail    = "fail"
	Skip    = "skip"
	Missing = "missing" // the test never reported a result
)

// Event is one line of `go test -json` (see `go doc test2json`).
type Event struct {
	Time        time.Time `json:"Time"`
	Action      string    `json:"Action"`
	Package     string    `json:"Package"`
	ImportPath  string    `json:"ImportPath"` // build-output and build-fail events
	Test        string    `json:"Test"`
	Elapsed     float64   `json:"Elapsed"`
	Output      string    `json:"Output"`
	FailedBuild string    `json:"FailedBuild"`
}

// Outcome is what one top-level test did.
type Outcome struct {
	Name    string
	Result  string        // Pass, Fail, Skip or Missing
	Elapsed time.Duration // as the test reported it
	Output  []string      // its lines and its subtests' (=== lines dropped), capped
	Omitted int           // output lines beyond the cap
}

// Stream is a parsed `go test -json` run.
type Stream struct {
	// Tests holds the top-level tests that appeared, by name. Subtests
	// ("TestA/case") only add their output to their top-level test. When
	// one name appears in several packages the worst result wins.
	Tests map[string]*Outcome
	// Output is what was not a test's: build errors, a panic outside a
	// test, the final FAIL line, and any line that was not JSON.
	Output  []string
	Omitted int
	// Failed reports a package that failed or whose build failed.
	Failed bool
}

// Result returns the named test's run; a test that never appeared, or that
// appeared without a final pass, fail or skip, is Missing.
func (s *Stream) Result(name string) *Outcome {
	if t, ok := s.Tests[name]; ok && t.Result != "" {
		return t
	}
	out := &Outcome{Name: name, Result: Missing}
	if t, ok := s.Tests[name]; ok {
		out.Output, out.Omitted = t.Output, t.Omitted
	}
	return out
}

// ParseEvents reads a `go test -json` stream. It never fails on bad input:
// lines that are not JSON events count as package output. Only top-level
// tests get results; the result of a test is its last pass, fail or skip
// action.
func ParseEvents(r io.Reader) (*Stream, error) {
	s := &Stream{Tests: map[string]*Outcome{}}
	raw := map[string]*bytes.Buffer{} // output per top-level test, before splitting
	final := map[string]string{}      // last result action per package and top-level test
	var pkgOut bytes.Buffer
	add := func(buf *bytes.Buffer, text string) {
		if buf.Len() < maxOutputBytes {
			buf.WriteString(text)
		}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev Event
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			add(&pkgOut, string(line)+"\n")
			continue
		}
		if ev.Test == "" {
			switch ev.Action {
			case "output", "build-output":
				add(&pkgOut, ev.Output)
			case "fail", "build-fail":
				s.Failed = true
			}
			continue
		}
		top, _, sub := strings.Cut(ev.Test, "/")
		t := s.Tests[top]
		if t == nil {
			t = &Outcome{Name: top}
			s.Tests[top] = t
			raw[top] = &bytes.Buffer{}
		}
		switch ev.Action {
		case "output":
			add(raw[top], ev.Output)
		case Pass, Fail, Skip:
			if !sub {
				key := ev.Package + "\x00" + top
				if _, again := final[key]; !again {
					t.Elapsed += time.Duration(ev.Elapsed * float64(time.Second))
				}
				final[key] = ev.Action
			}
		}
	}
	for key, action := range final {
		_, top, _ := strings.Cut(key, "\x00")
		s.Tests[top].Result = worse(s.Tests[top].Result, action)
	}
	for name, buf := range raw {
		s.Tests[name].Output, s.Tests[name].Omitted = splitLines(buf.String())
	}
	s.Output, s.Omitted = splitLines(pkgOut.String())
	return s, sc.Err()
}

// worse merges the results of one test name seen more than once.
func worse(prev, next string) string {
	rank := map[string]int{"": 0, Pass: 1, Skip: 2, Fail: 3}
	if rank[next] >= rank[prev] {
		return next
	}
	return prev
}

// splitLines splits output into lines without the framing lines of the
// test runner (=== RUN, === PAUSE, === CONT, === NAME), keeping at most
// MaxOutputLines; it returns how many it left out.
func splitLines(text string) (lines []string, omitted int) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" && len(lines) == 0 {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(l), "=== ") {
			continue
		}
		if len(lines) >= MaxOutputLines {
			omitted++
			continue
		}
		lines = append(lines, l)
	}
	return lines, omitted
}
