// Package regions finds the homework regions marked in lesson code and turns
// them into the student's stubs. The reference implementation and the
// handout are one codebase; this package is the only place that knows the
// marker syntax:
//
//	// LAB 01.1 BEGIN: turn the spec's namespaces into clone flags
//	...reference implementation...
//	// LAB 01.1 END
//	// LAB 01.1 STUB: return 0, lab.Todo("01.1")
//
// A marker is a // comment alone on its line (found with go/scanner, so
// markers quoted inside string literals are not markers). In the handout the
// markers stay and the region's body becomes its stub:
//
//	// LAB 01.1 BEGIN: turn the spec's namespaces into clone flags
//	return 0, lab.Todo("01.1")
//	// LAB 01.1 END
//	// LAB 01.1 STUB: return 0, lab.Todo("01.1")
//
// so the student's code is whatever lies between BEGIN and END, and the
// grader can take exactly that (see package splice).
package regions

import (
	"fmt"
	"go/scanner"
	"go/token"
	"regexp"
	"sort"
	"strings"
)

// Marker kinds.
const (
	Begin = "BEGIN"
	End   = "END"
	Stub  = "STUB"
	Todo  = "TODO"
)

var taskIDRe = regexp.MustCompile(`^[0-9]{2}\.[0-9]+$`)

// Marker is one marker comment.
type Marker struct {
	ID     string // task id, "01.1"
	Kind   string // Begin, End, Stub or Todo
	Text   string // what follows "KIND:" (the title, or a stub's code), trimmed
	Line   int    // 1-based line number
	Indent string // the whitespace before the comment
}

// Region is one BEGIN..END block with its STUB lines.
type Region struct {
	ID     string   // task id, "01.1"
	Title  string   // text after "BEGIN:"
	Indent string   // indentation of the BEGIN line; the handout uses it
	Begin  int      // line of BEGIN (1-based)
	End    int      // line of END
	Last   int      // line of the last STUB: the region spans Begin..Last
	Stubs  []string // stub code, one line each, in order
}

// Error is a marker error at a position in a file.
type Error struct {
	File string
	Line int
	Msg  string
}

// Error returns "file:line: message".
func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ErrorList is every marker error found, sorted by file and line.
type ErrorList []*Error

// Error returns the errors one per line.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Sort orders the list by file, then line.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].File != l[j].File {
			return l[i].File < l[j].File
		}
		return l[i].Line < l[j].Line
	})
}

// Err returns the list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Markers returns the marker comments of a Go source file in line order. A
// comment that starts like a marker ("// LAB 0…") but is malformed is an
// error; other comments are not markers. Go syntax errors in src are not
// reported: the scanner only needs the comments.
func Markers(filename string, src []byte) ([]Marker, ErrorList) {
	var (
		out  []Marker
		errs ErrorList
	)
	fset := token.NewFileSet()
	file := fset.AddFile(filename, -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, func(token.Position, string) {}, scanner.ScanComments)
	lastLine := 0 // last line that holds a token (or the end of a comment)
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // automatic semicolon, not in the text
		}
		p := file.PositionFor(pos, false)
		first := p.Line != lastLine
		lastLine = p.Line
		if tok == token.COMMENT {
			lastLine = file.PositionFor(pos+token.Pos(len(lit)), false).Line
		}
		if tok != token.COMMENT || !first || !strings.HasPrefix(lit, "//") {
			continue
		}
		m, isMarker, msg := parseMarker(lit)
		if !isMarker {
			continue
		}
		if msg != "" {
			errs = append(errs, &Error{filename, p.Line, msg})
			if !taskIDRe.MatchString(m.ID) || !validKind(m.Kind) {
				continue
			}
			// A marker with a known id and kind still shapes its region,
			// so that one mistake makes one error.
		}
		m.Line = p.Line
		m.Indent = string(src[p.Offset-(p.Column-1) : p.Offset])
		out = append(out, m)
	}
	return out, errs
}

// parseMarker reads "// LAB <id> <KIND>[: text]". isMarker is false for
// comments that do not start like a marker; msg explains a malformed one.
func parseMarker(comment string) (m Marker, isMarker bool, msg string) {
	rest := strings.TrimLeft(strings.TrimPrefix(comment, "//"), " \t")
	after, ok := strings.CutPrefix(rest, "LAB")
	if !ok || after == "" || (after[0] != ' ' && after[0] != '\t') {
		return m, false, ""
	}
	rest = strings.TrimLeft(after, " \t")
	if rest == "" || rest[0] < '0' || rest[0] > '9' {
		return m, false, "" // prose such as "// LAB sheets live in labs/"
	}
	m.ID, rest = cutWord(rest)
	if !taskIDRe.MatchString(m.ID) {
		return m, true, fmt.Sprintf("malformed LAB marker: task id %q is not NN.M", m.ID)
	}
	m.Kind, rest = cutWord(strings.TrimLeft(rest, " \t"))
	switch m.Kind {
	case Begin, End, Stub, Todo:
	case "":
		return m, true, fmt.Sprintf("malformed LAB marker: want \"LAB %s BEGIN|END|STUB|TODO\"", m.ID)
	default:
		return m, true, fmt.Sprintf("malformed LAB marker: unknown kind %q (want BEGIN, END, STUB or TODO)", m.Kind)
	}
	rest = strings.TrimLeft(rest, " \t")
	text, hasColon := strings.CutPrefix(rest, ":")
	if rest != "" && !hasColon {
		return m, true, fmt.Sprintf("malformed LAB marker: want \"LAB %s %s: ...\", a colon after %s", m.ID, m.Kind, m.Kind)
	}
	m.Text = strings.TrimSpace(text)
	switch {
	case m.Kind == End && m.Text != "":
		return m, true, fmt.Sprintf("LAB %s END takes no text", m.ID)
	case m.Kind == Stub && !hasColon:
		return m, true, fmt.Sprintf("LAB %s STUB needs its code after a colon: \"LAB %s STUB: <code>\"", m.ID, m.ID)
	case m.Kind == Stub:
		for rest := m.Text; ; {
			i := strings.Index(rest, "//")
			if i < 0 {
				break
			}
			if _, inner, _ := parseMarker(rest[i:]); inner {
				return m, true, fmt.Sprintf("LAB %s STUB code holds a LAB marker", m.ID)
			}
			rest = rest[i+2:]
		}
		if !wholeTokens(m.Text) {
			return m, true, fmt.Sprintf("LAB %s STUB code must be whole tokens on one line (no open string or /* comment)", m.ID)
		}
	}
	return m, true, ""
}

// wholeTokens reports whether code scans as Go tokens with no error, so
// that it cannot open a string or comment that swallows the next lines.
func wholeTokens(code string) bool {
	ok := true
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(code)), []byte(code), func(token.Position, string) { ok = false }, scanner.ScanComments)
	for ok {
		if _, tok, _ := s.Scan(); tok == token.EOF {
			break
		}
	}
	return ok
}

func validKind(k string) bool {
	return k == Begin || k == End || k == Stub || k == Todo
}

// cutWord splits s at the first space, tab or colon.
func cutWord(s string) (word, rest string) {
	if i := strings.IndexAny(s, " \t:"); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// Parse returns the regions of a Go source file in order, or every marker
// error it finds: END without BEGIN, BEGIN without END, BEGIN inside a region
// (regions do not nest), an END whose id differs from its BEGIN, a region
// with no STUB line right after its END, a STUB that does not follow its
// region's END (or an earlier STUB) directly, a TODO inside a region and
// malformed markers. TODO markers outside regions are allowed: they are what
// a handout holds.
func Parse(filename string, src []byte) ([]Region, error) {
	markers, errs := Markers(filename, src)
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &Error{filename, line, fmt.Sprintf(format, args...)})
	}
	var (
		regions []Region
		open    *Region // between BEGIN and END
		closed  *Region // after END, collecting STUB lines
	)
	finish := func() {
		if closed == nil {
			return
		}
		if len(closed.Stubs) == 0 {
			fail(closed.End, "LAB %s region (BEGIN at line %d) has no STUB line right after its END", closed.ID, closed.Begin)
		} else {
			regions = append(regions, *closed)
		}
		closed = nil
	}
	for _, m := range markers {
		if closed != nil && !(m.Kind == Stub && m.Line == closed.Last+1) {
			if m.Kind == Stub && m.ID == closed.ID {
				prev := "END"
				if len(closed.Stubs) > 0 {
					prev = "the previous STUB"
				}
				fail(m.Line, "LAB %s STUB must be on the line right after %s (line %d)", m.ID, prev, closed.Last)
				if len(closed.Stubs) == 0 {
					closed = nil // one error for one mistake
				}
				finish()
				continue
			}
			finish()
		}
		switch m.Kind {
		case Begin:
			if open != nil {
				fail(m.Line, "LAB %s BEGIN inside region %s (BEGIN at line %d): regions do not nest", m.ID, open.ID, open.Begin)
				continue
			}
			open = &Region{ID: m.ID, Title: m.Text, Indent: m.Indent, Begin: m.Line}
		case End:
			switch {
			case open == nil:
				fail(m.Line, "LAB %s END without BEGIN", m.ID)
			case open.ID != m.ID:
				fail(m.Line, "LAB %s END does not match LAB %s BEGIN at line %d", m.ID, open.ID, open.Begin)
				open = nil
			default:
				open.End, open.Last = m.Line, m.Line
				closed, open = open, nil
			}
		case Stub:
			switch {
			case open != nil:
				fail(m.Line, "LAB %s STUB inside region %s (BEGIN at line %d): STUB lines go right after END", m.ID, open.ID, open.Begin)
			case closed == nil:
				fail(m.Line, "LAB %s STUB without a region: STUB lines go right after their END", m.ID)
			case closed.ID != m.ID:
				fail(m.Line, "LAB %s STUB after the END of region %s", m.ID, closed.ID)
				closed.Stubs = append(closed.Stubs, m.Text) // one error for one mistake
				closed.Last = m.Line
			default:
				closed.Stubs = append(closed.Stubs, m.Text)
				closed.Last = m.Line
			}
		case Todo:
			if open != nil {
				fail(m.Line, "LAB %s TODO inside region %s (BEGIN at line %d)", m.ID, open.ID, open.Begin)
			}
		}
	}
	finish()
	if open != nil {
		fail(open.Begin, "LAB %s BEGIN without END", open.ID)
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return regions, nil
}

// TodoLine is the comment that stood for a replaced region in handouts
// before the markers were kept (TODO markers are still accepted outside
// regions).
func TodoLine(r Region) string {
	if r.Title == "" {
		return "// LAB " + r.ID + " TODO"
	}
	return "// LAB " + r.ID + " " + Todo + ": " + r.Title
}

// StubBody returns the region's stub as body lines: one line per non-empty
// STUB line, at the BEGIN line's indentation.
func StubBody(r Region) []string {
	var out []string
	for _, s := range r.Stubs {
		if s != "" {
			out = append(out, r.Indent+s)
		}
	}
	return out
}

// Replace returns src with the body of each of the given regions (the lines
// between BEGIN and END) replaced by its stub (StubBody). The markers stay:
// a handout holds the same regions as the reference, with the stubs as
// their bodies, so that the student's code between BEGIN and END can be
// found again (the grader splices it into a clean tree). The regions must
// come from Parse of the same src; Replace changes text only (see Rewrite
// for imports and formatting).
func Replace(src []byte, regions []Region) []byte {
	bodies := make([][]string, len(regions))
	for i, r := range regions {
		bodies[i] = StubBody(r)
	}
	return ReplaceBodies(src, regions, bodies)
}

// ReplaceBodies returns src with the body of regions[i] (the lines between
// its BEGIN and END) replaced by bodies[i], lines without their newline.
// The BEGIN, END and STUB lines stay as they are. The regions must come
// from Parse of the same src, in order.
func ReplaceBodies(src []byte, regions []Region, bodies [][]string) []byte {
	if len(regions) == 0 {
		return src
	}
	lines := strings.SplitAfter(string(src), "\n")
	var b strings.Builder
	b.Grow(len(src))
	next := 0 // index into regions, which are in line order
	for i := 0; i < len(lines); i++ {
		b.WriteString(lines[i])
		line := i + 1
		if next < len(regions) && regions[next].Begin == line {
			r, body := regions[next], bodies[next]
			next++
			nl := "\n"
			if strings.HasSuffix(lines[r.Begin-1], "\r\n") {
				nl = "\r\n"
			}
			if !strings.HasSuffix(lines[i], "\n") {
				b.WriteString(nl)
			}
			for _, l := range body {
				b.WriteString(l + nl)
			}
			i = r.End - 2 // the loop writes END next
		}
	}
	return []byte(b.String())
}

// Body returns the lines between the region's BEGIN and END in src (without
// their newlines): the code the region holds.
func Body(src []byte, r Region) []string {
	lines := strings.SplitAfter(string(src), "\n")
	var out []string
	for i := r.Begin; i < r.End-1 && i < len(lines); i++ {
		out = append(out, strings.TrimRight(lines[i], "\r\n"))
	}
	return out
}
