package regions

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// LabImport is the package that stubs call (lab.Todo).
const LabImport = "minibox/labs/lab"

// Rewrite makes the handout version of one Go file: the regions whose task id
// replace accepts become their TODO and STUB lines, the imports are fixed
// (see FixImports) and the file is gofmt'ed. It returns the regions it
// replaced. When it replaces nothing, out is src unchanged (not reformatted).
func Rewrite(filename string, src []byte, replace func(id string) bool) (out []byte, replaced []Region, err error) {
	all, err := Parse(filename, src)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range all {
		if replace(r.ID) {
			replaced = append(replaced, r)
		}
	}
	if len(replaced) == 0 {
		return src, nil, nil
	}
	out, err = FixImports(filename, src, Replace(src, replaced))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: the handout version does not compile as Go source (check the STUB lines): %w", filename, err)
	}
	return out, replaced, nil
}

// FixImports repairs the imports of src, the handout version of a file whose
// reference version is orig, and gofmt's it:
//   - it adds LabImport when src uses lab.X and imports nothing named lab;
//   - it removes each import whose name orig used and src no longer uses.
//
// An import's name is its explicit name, else the last element of its path
// (the one before it when the last is a major version such as v2; "go-" and
// "-go" and a ".vN" suffix are dropped). Blank, dot and "C" imports are kept,
// and so is any import whose name orig did not use either: then the guess is
// wrong, and keeping it is safe. With orig nil every unused import goes.
func FixImports(filename string, orig, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	used := usedNames(f)
	var before map[string]bool
	if orig != nil {
		if of, err := parser.ParseFile(token.NewFileSet(), filename, orig, 0); err == nil {
			before = usedNames(of)
		}
	}
	tf := fset.File(f.Pos())
	off := func(p token.Pos) int { return tf.Offset(p) }

	var edits []edit
	del := func(from, to int) {
		ls, le := lineStart(src, from), lineEnd(src, to)
		if blank(src[ls:from]) && blank(src[to:le]) {
			from, to = ls, le
		}
		edits = append(edits, edit{from, to, ""})
	}

	haveLab := false
	var target *ast.GenDecl // last import decl that stays, where lab goes
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		var drop []*ast.ImportSpec
		hasC := false
		for _, s := range gd.Specs {
			is := s.(*ast.ImportSpec)
			p, _ := strconv.Unquote(is.Path.Value)
			name := ImportName(is)
			switch {
			case p == "C":
				hasC = true
			case name == "lab":
				haveLab = true
			}
			if name == "" || name == "_" || name == "." || p == "C" || used[name] {
				continue
			}
			if before == nil || before[name] {
				drop = append(drop, is)
			}
		}
		if len(drop) == len(gd.Specs) && len(drop) > 0 {
			from, to := off(gd.Pos()), off(gd.End())
			if gd.Doc != nil {
				from = off(gd.Doc.Pos())
			}
			if last := drop[len(drop)-1]; last.Comment != nil {
				to = max(to, off(last.Comment.End())) // import "os" // comment
			}
			del(from, to)
			continue
		}
		for _, is := range drop {
			from, to := off(is.Pos()), off(is.End())
			if is.Doc != nil {
				from = off(is.Doc.Pos())
			}
			if is.Comment != nil {
				to = off(is.Comment.End())
			}
			del(from, to)
		}
		if !hasC {
			target = gd
		}
	}

	if used["lab"] && !haveLab {
		quoted := strconv.Quote(LabImport)
		switch {
		case target == nil:
			// After the package clause (or after an import "C" block).
			at := lineEnd(src, off(f.Name.End()))
			for _, d := range f.Decls {
				if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
					at = lineEnd(src, off(gd.End()))
				}
			}
			edits = append(edits, edit{at, at, "\nimport " + quoted + "\n"})
		case target.Lparen.IsValid():
			at := off(target.Rparen)
			text := quoted + "\n"
			if last := lastKept(target, edits, off); last != "" && !strings.HasPrefix(last, "minibox/") {
				text = "\n" + text // a group of its own: std, third party, ours
			}
			if at > 0 && src[at-1] != '\n' {
				text = "\n" + text
			}
			edits = append(edits, edit{at, at, text})
		default:
			is := target.Specs[0].(*ast.ImportSpec)
			p, _ := strconv.Unquote(is.Path.Value)
			sep := "\n\n\t"
			if strings.HasPrefix(p, "minibox/") {
				sep = "\n\t"
			}
			text := "import (\n\t" + string(src[off(is.Pos()):off(is.End())]) + sep + quoted + "\n)"
			edits = append(edits, edit{off(target.Pos()), off(target.End()), text})
		}
	}

	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := append([]byte(nil), src...)
	for _, e := range edits {
		out = append(out[:e.start:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return format.Source(out)
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// lastKept returns the path of the last import spec of gd that no edit
// deletes, or "".
func lastKept(gd *ast.GenDecl, edits []edit, off func(token.Pos) int) string {
	for i := len(gd.Specs) - 1; i >= 0; i-- {
		is := gd.Specs[i].(*ast.ImportSpec)
		deleted := false
		for _, e := range edits {
			if e.text == "" && e.start <= off(is.Pos()) && off(is.End()) <= e.end {
				deleted = true
			}
		}
		if !deleted {
			p, _ := strconv.Unquote(is.Path.Value)
			return p
		}
	}
	return ""
}

var majorRe = regexp.MustCompile(`^v[0-9]+$`)
var identRe = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_]*$`)

// ImportName returns the name an import spec binds in its file: the explicit
// name, else a guess from the path (see FixImports). It returns "" when the
// guess is not an identifier.
func ImportName(is *ast.ImportSpec) string {
	if is.Name != nil {
		return is.Name.Name
	}
	p, err := strconv.Unquote(is.Path.Value)
	if err != nil {
		return ""
	}
	name := path.Base(p)
	if majorRe.MatchString(name) && strings.Contains(p, "/") {
		name = path.Base(path.Dir(p))
	}
	if i := strings.LastIndex(name, ".v"); i > 0 && majorRe.MatchString(name[i+1:]) {
		name = name[:i] // gopkg.in/yaml.v3
	}
	name = strings.TrimPrefix(name, "go-")
	name = strings.TrimSuffix(name, "-go")
	if !identRe.MatchString(name) {
		return ""
	}
	return name
}

// usedNames returns the identifiers used as the X of a selector X.Sel that
// do not resolve to a declaration in the file: the names of packages (or of
// package-level declarations of other files, which cannot share a name with
// an import).
func usedNames(f *ast.File) map[string]bool {
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			// Object resolution (ast.Ident.Obj) tells a package name from a
			// local variable without type checking.
			if id, ok := sel.X.(*ast.Ident); ok && id.Obj == nil {
				used[id.Name] = true
			}
		}
		return true
	})
	return used
}

func lineStart(src []byte, off int) int {
	return bytes.LastIndexByte(src[:off], '\n') + 1
}

func lineEnd(src []byte, off int) int {
	if i := bytes.IndexByte(src[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(src)
}

func blank(b []byte) bool {
	return len(bytes.TrimSpace(b)) == 0
}
