package regions

import (
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

// FuzzRegions feeds arbitrary text to the region parser and the handout
// rewrite. Neither may panic. When the parser accepts the input, replacing
// every region must remove exactly its lines; when the input is also valid
// Go, the same regions, each with its stub as its body, and when the rewrite
// succeeds, the handout must be valid Go.
func FuzzRegions(f *testing.F) {
	seeds := []string{
		"package p\n",
		"package p\n\nfunc f() (int, error) {\n\t// LAB 01.1 BEGIN: flags\n\treturn 1, nil\n\t// LAB 01.1 END\n\t// LAB 01.1 STUB: return 0, lab.Todo(\"01.1\")\n}\n",
		"package p\n\nimport \"fmt\"\n\nfunc f() error {\n\t// LAB 01.2 BEGIN\n\tfmt.Println()\n\t// LAB 01.2 END\n\t// LAB 01.2 STUB: lab.Warn(\"01.2\")\n\t// LAB 01.2 STUB: return nil\n\treturn nil\n}\n",
		"package p\n// LAB 01.1 END\n",
		"package p\n// LAB 01.1 BEGIN: x\n// LAB 01.2 END\n// LAB 01.2 STUB: x\n",
		"package p\nvar s = `\n// LAB 01.1 BEGIN: x\n`\n",
		"package p\n// LAB 01.1 TODO: x\n//line other.go:100\n// LAB 01.1 BEGIN: y\n// LAB 01.1 END\n// LAB 01.1 STUB:\n",
		"// LAB 99.9 BEGIN:\r\n// LAB 99.9 END\r\n// LAB 99.9 STUB: }\r\n",
		"/* // LAB 01.1 BEGIN */ // LAB 01.1 END\n",
		"package A\nimport\"fmt\"//LAB 0\nfunc A(){\n//LAB 01.2 BEGIN\nfmt.A\n//LAB 01.2 END\n//LAB 01.2 STUB:\n}",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		src := []byte(in)
		regions, err := Parse("f.go", src)
		if err != nil {
			if _, ok := err.(ErrorList); !ok {
				t.Fatalf("Parse error is %T, want ErrorList: %v", err, err)
			}
			return
		}
		// The text replacement removes each body (the lines between BEGIN
		// and END) and adds one line per non-empty stub.
		want := strings.Count(in, "\n")
		if !strings.HasSuffix(in, "\n") && in != "" {
			want++ // the last line
		}
		for i, r := range regions {
			if r.Begin > r.End || r.End >= r.Last || len(r.Stubs) != r.Last-r.End {
				t.Fatalf("region %d has bad lines: %+v", i, r)
			}
			if i > 0 && regions[i-1].Last >= r.Begin {
				t.Fatalf("regions overlap: %+v %+v", regions[i-1], r)
			}
			want -= r.End - r.Begin - 1
			want += len(StubBody(r))
		}
		out := Replace(src, regions)
		got := strings.Count(string(out), "\n")
		if len(out) > 0 && !strings.HasSuffix(string(out), "\n") {
			got++
		}
		if len(regions) > 0 && got != want {
			t.Fatalf("Replace: %d lines, want %d\n--- in\n%s\n--- out\n%s", got, want, in, out)
		}
		_, inErr := parser.ParseFile(token.NewFileSet(), "f.go", src, parser.ParseComments)
		if inErr != nil {
			return // broken input tokenizes differently once lines go
		}
		// The markers stay: the output has the same regions, each with its
		// stub as its body (checked before gofmt, which may turn a trailing
		// comment of the input into a line of its own).
		again, err := Parse("f.go", out)
		if err != nil {
			t.Fatalf("Replace output does not parse as regions: %v\n--- in\n%s\n--- out\n%s", err, in, out)
		}
		if len(again) != len(regions) {
			t.Fatalf("Replace output has %d regions, want %d\n--- in\n%s\n--- out\n%s", len(again), len(regions), in, out)
		}
		for i, r := range again {
			if r.ID != regions[i].ID || !slices.Equal(r.Stubs, regions[i].Stubs) || !slices.Equal(Body(out, r), StubBody(regions[i])) {
				t.Fatalf("region %d changed: %+v, want %+v with its stub as body\n--- out\n%s", i, r, regions[i], out)
			}
		}

		hout, replaced, err := Rewrite("f.go", src, func(string) bool { return true })
		if err != nil {
			return
		}
		if len(replaced) != len(regions) {
			t.Fatalf("Rewrite replaced %d regions, Parse found %d", len(replaced), len(regions))
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "f.go", hout, parser.ParseComments); err != nil {
			t.Fatalf("handout does not parse: %v\n--- in\n%s\n--- out\n%s", err, in, hout)
		}

	})
}
