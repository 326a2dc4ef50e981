package splice

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"strings"

	"minibox/labs/internal/regions"
)

// A region's body is pasted into the clean file as text. Its strings and
// comments balance (the markers are found with go/scanner), but its braces
// need not: a body that closes its function can add top-level code (an
// init that fakes the test output) and reopen a function for the rest.
// So each spliced file is parsed and must have the clean file's shape
// (checkShape), and a body may hold no compiler directive (directive).

// directive returns the first compiler directive comment of body ("//go:"
// such as //go:linkname, which reaches any package's unexported symbols
// past the import filter, or a //line directive), or "".
func directive(body []string) string {
	src := []byte(strings.Join(body, "\n") + "\n")
	fset := token.NewFileSet()
	file := fset.AddFile("body", -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, func(token.Position, string) {}, scanner.ScanComments)
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.COMMENT && (strings.HasPrefix(lit, "//go:") || strings.HasPrefix(lit, "//line ") || strings.HasPrefix(lit, "/*line ")) {
			return strings.TrimSpace(lit)
		}
	}
	// Belt and braces: a line that starts a directive, whatever the
	// scanner made of the text around it.
	for _, l := range body {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "//go:") || strings.HasPrefix(t, "//line ") {
			return t
		}
	}
	return ""
}

// shape is a file's top-level declarations, one string each, in order:
// kind, names and receiver. Imports are left out: a spliced file may gain
// some.
func shape(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			s := "func " + d.Name.Name
			if d.Recv != nil {
				var recv []string
				for _, fld := range d.Recv.List {
					recv = append(recv, types(fld.Type))
				}
				s = "func (" + strings.Join(recv, ", ") + ") " + d.Name.Name
			}
			out = append(out, s)
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			var names []string
			for _, sp := range d.Specs {
				switch sp := sp.(type) {
				case *ast.ValueSpec:
					for _, n := range sp.Names {
						names = append(names, n.Name)
					}
				case *ast.TypeSpec:
					names = append(names, sp.Name.Name)
				}
			}
			out = append(out, d.Tok.String()+" "+strings.Join(names, ", "))
		default:
			out = append(out, fmt.Sprintf("%T", d))
		}
	}
	return out
}

// types names a receiver's type: T, *T, T[P].
func types(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return "*" + types(e.X)
	case *ast.IndexExpr:
		return types(e.X) + "[" + types(e.Index) + "]"
	case *ast.IndexListExpr:
		var ps []string
		for _, i := range e.Indices {
			ps = append(ps, types(i))
		}
		return types(e.X) + "[" + strings.Join(ps, ", ") + "]"
	case *ast.ParenExpr:
		return types(e.X)
	}
	return fmt.Sprintf("%T", e)
}

// enclosing returns the top-level function whose body holds lines
// from..to (both), as its index among the declarations that are not
// imports (a spliced file may have more import declarations), or -1.
func enclosing(fset *token.FileSet, f *ast.File, from, to int) (int, string) {
	n := 0
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			continue
		}
		n++
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		l, r := fset.Position(fd.Body.Lbrace).Line, fset.Position(fd.Body.Rbrace).Line
		if l <= from && to <= r {
			return n - 1, fd.Name.Name
		}
	}
	return -1, ""
}

// checkShape reports how spliced (the clean file with bodies replaced)
// differs in shape from clean, or nil: it must parse, have the same
// top-level declarations in the same order, and each region must lie in
// the body of the same function as in clean (a body that closes its
// function and opens another one leaves its END marker in a function of
// its own).
func checkShape(rel string, clean, spliced []byte) error {
	cfset, sfset := token.NewFileSet(), token.NewFileSet()
	cf, err := parser.ParseFile(cfset, rel, clean, parser.SkipObjectResolution)
	if err != nil {
		return fmt.Errorf("the clean file does not parse: %w", err)
	}
	sf, err := parser.ParseFile(sfset, rel, spliced, parser.SkipObjectResolution)
	if err != nil {
		return fmt.Errorf("the file does not parse: %s", firstLine(err.Error()))
	}
	cs, ss := shape(cf), shape(sf)
	if strings.Join(cs, "\n") != strings.Join(ss, "\n") {
		return fmt.Errorf("it changes the file's top-level declarations (%s)", diffShape(cs, ss))
	}
	crs, err := regions.Parse(rel, clean)
	if err != nil {
		return err
	}
	srs, err := regions.Parse(rel, spliced)
	if err != nil || len(srs) != len(crs) {
		return fmt.Errorf("it changes the file's LAB markers")
	}
	for i, cr := range crs {
		want, name := enclosing(cfset, cf, cr.Begin, cr.End)
		if want < 0 {
			continue // not in a function in the clean file: the shape check covers it
		}
		if got, _ := enclosing(sfset, sf, srs[i].Begin, srs[i].End); got != want {
			return fmt.Errorf("region %s does not stay inside func %s", cr.ID, name)
		}
	}
	return nil
}

// diffShape names the first declaration where the shapes differ.
func diffShape(clean, spliced []string) string {
	for i := 0; i < len(clean) || i < len(spliced); i++ {
		switch {
		case i >= len(clean):
			return "adds " + spliced[i]
		case i >= len(spliced):
			return "drops " + clean[i]
		case clean[i] != spliced[i]:
			return spliced[i] + " where the clean file has " + clean[i]
		}
	}
	return "?"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// flagWords are what a teacher should read in a region that mentions
// them: code in a region runs inside the test process, and could fake the
// test output from there (exit early with a success status, write
// test2json's framing, \x16, to standard output, stop the test goroutine,
// touch the testing package's state). Flagged, not refused: a legitimate
// solution may need some of them.
var flagWords = []string{
	"Exit(", "EXIT", "Goexit", `\x16`, `\026`, `\u0016`, "\x16",
	"os.Stdout", "os.Stderr", "Stdout", "Stderr", "/dev/stdout", "/dev/stderr", "/proc/self/fd",
	"Dup2", "Dup3", "NewFile", "os.Args", "testing.", "PASS", "--- ",
}

// sameCode reports whether two bodies are the same code but for the
// indentation and blank lines.
func sameCode(a, b []string) bool {
	norm := func(ls []string) string {
		var out []string
		for _, l := range ls {
			if t := strings.TrimSpace(l); t != "" {
				out = append(out, t)
			}
		}
		return strings.Join(out, "\n")
	}
	return norm(a) == norm(b)
}

// flags returns the flagWords that body mentions.
func flags(body []string) []string {
	text := strings.Join(body, "\n")
	var out []string
	seen := map[string]bool{}
	for _, w := range flagWords {
		if !strings.Contains(text, w) {
			continue
		}
		name := w
		if w == "\x16" {
			name = "a raw \\x16 byte"
		}
		// "os.Stdout" inside "Stdout": name each once.
		if (w == "Stdout" && seen["os.Stdout"]) || (w == "Stderr" && seen["os.Stderr"]) {
			continue
		}
		seen[w] = true
		out = append(out, quoteIfSpace(name))
	}
	return out
}

func quoteIfSpace(s string) string {
	if strings.ContainsAny(s, " ") {
		return `"` + s + `"`
	}
	return s
}
