package regions

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// src joins lines into a source text with a trailing newline.
func src(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		src  []byte
		want []Region
	}{
		{
			name: "no regions",
			src:  src("package p", "", "// LAB sheets live in labs/.", "func f() {}"),
		},
		{
			name: "one region",
			src: src(
				"package p", // 1
				"",
				"func f() (int, error) {",
				"\t// LAB 01.1 BEGIN: turn the spec into flags", // 4
				"\tx := 1",
				"\treturn x, nil",
				"\t// LAB 01.1 END", // 7
				"\t// LAB 01.1 STUB: return 0, lab.Todo(\"01.1\")", // 8
				"}",
			),
			want: []Region{{ID: "01.1", Title: "turn the spec into flags", Indent: "\t", Begin: 4, End: 7, Last: 8,
				Stubs: []string{`return 0, lab.Todo("01.1")`}}},
		},
		{
			name: "several stub lines and regions, title optional",
			src: src(
				"package p",
				"func f() error {",
				"\t// LAB 01.2 BEGIN", // 3
				"\tdoIt()",
				"\t// LAB 01.2 END",                      // 5
				"\t// LAB 01.2 STUB: lab.Warn(\"01.2\")", // 6
				"\t// LAB 01.2 STUB: return nil",         // 7
				"}",
				"func g() {",
				"  // LAB 01.3 BEGIN:   spaces are trimmed  ", // 10
				"  // LAB 01.3 END",
				"  // LAB 01.3 STUB:", // 12: an empty stub adds no line
				"}",
			),
			want: []Region{
				{ID: "01.2", Indent: "\t", Begin: 3, End: 5, Last: 7, Stubs: []string{`lab.Warn("01.2")`, "return nil"}},
				{ID: "01.3", Title: "spaces are trimmed", Indent: "  ", Begin: 10, End: 11, Last: 12, Stubs: []string{""}},
			},
		},
		{
			name: "markers in strings and trailing comments are not markers",
			src: src(
				"package p",
				"var s = `",
				"// LAB 01.1 BEGIN: in a raw string",
				"`",
				"var x = 1 // LAB 01.1 END",
				"/* // LAB 01.1 BEGIN */",
			),
		},
		{
			name: "TODO lines of a handout are allowed",
			src:  src("package p", "func f() error {", "\t// LAB 01.1 TODO: write it", "\treturn lab.Todo(\"01.1\")", "}"),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("f.go", tc.src)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		src  []byte
		want []string // "line: message part", in order
	}{
		{"END without BEGIN", src("package p", "// LAB 01.1 END", "// LAB 01.1 STUB: x"),
			[]string{"2: LAB 01.1 END without BEGIN", "3: LAB 01.1 STUB without a region"}},
		{"BEGIN without END", src("package p", "", "// LAB 01.1 BEGIN: t", "x()"),
			[]string{"3: LAB 01.1 BEGIN without END"}},
		{"mismatched ids", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.2 END", "// LAB 01.2 STUB: x"),
			[]string{"3: LAB 01.2 END does not match LAB 01.1 BEGIN at line 2", "4: LAB 01.2 STUB without a region"}},
		{"no STUB", src("package p", "// LAB 01.1 BEGIN: t", "x()", "// LAB 01.1 END", "y()"),
			[]string{"4: LAB 01.1 region (BEGIN at line 2) has no STUB line right after its END"}},
		{"no STUB at end of file", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END"),
			[]string{"3: LAB 01.1 region (BEGIN at line 2) has no STUB line"}},
		{"STUB after a gap", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END", "", "// LAB 01.1 STUB: x"),
			[]string{"5: LAB 01.1 STUB must be on the line right after END (line 3)"}},
		{"second STUB after a gap", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END", "// LAB 01.1 STUB: x", "", "// LAB 01.1 STUB: y"),
			[]string{"6: LAB 01.1 STUB must be on the line right after the previous STUB (line 4)"}},
		{"STUB of another task", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END", "// LAB 01.2 STUB: x"),
			[]string{"4: LAB 01.2 STUB after the END of region 01.1"}},
		{"nested BEGIN", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.2 BEGIN: u", "// LAB 01.1 END", "// LAB 01.1 STUB: x"),
			[]string{"3: LAB 01.2 BEGIN inside region 01.1 (BEGIN at line 2): regions do not nest"}},
		{"STUB inside region", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 STUB: x", "// LAB 01.1 END", "// LAB 01.1 STUB: x"),
			[]string{"3: LAB 01.1 STUB inside region 01.1"}},
		{"TODO inside region", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 TODO: x", "// LAB 01.1 END", "// LAB 01.1 STUB: x"),
			[]string{"3: LAB 01.1 TODO inside region 01.1"}},
		{"bad id", src("package p", "// LAB 1.1 BEGIN: t"),
			[]string{`2: malformed LAB marker: task id "1.1" is not NN.M`}},
		{"unknown kind", src("package p", "// LAB 01.1 START: t"),
			[]string{`2: malformed LAB marker: unknown kind "START"`}},
		{"no kind", src("package p", "// LAB 01.1"),
			[]string{`2: malformed LAB marker: want "LAB 01.1 BEGIN|END|STUB|TODO"`}},
		{"BEGIN without colon", src("package p", "// LAB 01.1 BEGIN write it", "// LAB 01.1 END", "// LAB 01.1 STUB: x"),
			[]string{`2: malformed LAB marker: want "LAB 01.1 BEGIN: ...", a colon after BEGIN`}},
		{"END with text", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END: done", "// LAB 01.1 STUB: x"),
			[]string{"3: LAB 01.1 END takes no text"}},
		{"STUB without colon", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END", "// LAB 01.1 STUB"),
			[]string{"4: LAB 01.1 STUB needs its code after a colon"}},
		{"STUB that is a marker", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END", "// LAB 01.1 STUB: // LAB 01.2 BEGIN: x"),
			[]string{"4: LAB 01.1 STUB code holds a LAB marker"}},
		{"STUB that opens a raw string", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END", "// LAB 01.1 STUB: x := `"),
			[]string{"4: LAB 01.1 STUB code must be whole tokens on one line"}},
		{"STUB that opens a comment", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END", "// LAB 01.1 STUB: x() /* y"),
			[]string{"4: LAB 01.1 STUB code must be whole tokens on one line"}},
		{"STUB with a trailing marker", src("package p", "// LAB 01.1 BEGIN: t", "// LAB 01.1 END", "// LAB 01.1 STUB: x() // LAB 01.1 BEGIN: y"),
			[]string{"4: LAB 01.1 STUB code holds a LAB marker"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("dir/f.go", tc.src)
			require.Error(t, err)
			var list ErrorList
			require.True(t, errors.As(err, &list), "error is an ErrorList: %v", err)
			require.Len(t, list, len(tc.want), "errors: %v", err)
			for i, w := range tc.want {
				line, msg, _ := strings.Cut(w, ": ")
				assert.Equal(t, "dir/f.go", list[i].File)
				assert.Equal(t, line, itoa(list[i].Line), "error %d: %v", i, list[i])
				assert.Contains(t, list[i].Msg, msg)
				assert.True(t, strings.HasPrefix(list[i].Error(), "dir/f.go:"+line+": "), list[i].Error())
			}
		})
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func TestReplace(t *testing.T) {
	in := src(
		"package p",
		"",
		"func f() (int, error) {",
		"\t// LAB 01.1 BEGIN: flags",
		"\treturn 1, nil",
		"\t// LAB 01.1 END",
		"\t// LAB 01.1 STUB: return 0, lab.Todo(\"01.1\")",
		"}",
		"",
		"func g() error {",
		"\t// LAB 02.1 BEGIN: more",
		"\tdo()",
		"\t// LAB 02.1 END",
		"\t// LAB 02.1 STUB: lab.Warn(\"02.1\")",
		"\t// LAB 02.1 STUB: return nil",
		"\treturn nil",
		"}",
	)
	regions, err := Parse("f.go", in)
	require.NoError(t, err)
	require.Len(t, regions, 2)

	t.Run("all", func(t *testing.T) {
		got := Replace(in, regions)
		assert.Equal(t, string(src(
			"package p",
			"",
			"func f() (int, error) {",
			"\t// LAB 01.1 BEGIN: flags",
			"\treturn 0, lab.Todo(\"01.1\")",
			"\t// LAB 01.1 END",
			"\t// LAB 01.1 STUB: return 0, lab.Todo(\"01.1\")",
			"}",
			"",
			"func g() error {",
			"\t// LAB 02.1 BEGIN: more",
			"\tlab.Warn(\"02.1\")",
			"\treturn nil",
			"\t// LAB 02.1 END",
			"\t// LAB 02.1 STUB: lab.Warn(\"02.1\")",
			"\t// LAB 02.1 STUB: return nil",
			"\treturn nil",
			"}",
		)), string(got))
	})
	t.Run("some", func(t *testing.T) {
		got := Replace(in, regions[1:])
		assert.Contains(t, string(got), "// LAB 01.1 BEGIN: flags\n\treturn 1, nil\n")
		assert.Contains(t, string(got), "\t// LAB 02.1 BEGIN: more\n\tlab.Warn(\"02.1\")\n\treturn nil\n\t// LAB 02.1 END\n")
	})
	t.Run("none", func(t *testing.T) {
		assert.Equal(t, in, Replace(in, nil))
	})
	t.Run("no newline at end of file", func(t *testing.T) {
		in := []byte("package p\n// LAB 01.1 BEGIN: x\n// LAB 01.1 END\n// LAB 01.1 STUB: var x = 1")
		r, err := Parse("f.go", in)
		require.NoError(t, err)
		assert.Equal(t, "package p\n// LAB 01.1 BEGIN: x\nvar x = 1\n// LAB 01.1 END\n// LAB 01.1 STUB: var x = 1", string(Replace(in, r)))
	})
}

func TestRewrite(t *testing.T) {
	in := src(
		"package p",
		"",
		"import (",
		"\t\"fmt\"",
		"\t\"os\"",
		")",
		"",
		"func f() error {",
		"\t// LAB 01.1 BEGIN: print",
		"\tfmt.Println(\"hi\")",
		"\treturn nil",
		"\t// LAB 01.1 END",
		"\t// LAB 01.1 STUB: return lab.Todo(\"01.1\")",
		"}",
		"",
		"func g() string {",
		"\t// LAB 02.1 BEGIN: env",
		"\treturn os.Getenv(\"X\")",
		"\t// LAB 02.1 END",
		"\t// LAB 02.1 STUB: return \"\"",
		"}",
	)
	t.Run("from lab 02", func(t *testing.T) {
		out, replaced, err := Rewrite("p/f.go", in, func(id string) bool { return id >= "02" })
		require.NoError(t, err)
		require.Len(t, replaced, 1)
		assert.Equal(t, "02.1", replaced[0].ID)
		assert.Equal(t, string(src(
			"package p",
			"",
			"import (",
			"\t\"fmt\"",
			")",
			"",
			"func f() error {",
			"\t// LAB 01.1 BEGIN: print",
			"\tfmt.Println(\"hi\")",
			"\treturn nil",
			"\t// LAB 01.1 END",
			"\t// LAB 01.1 STUB: return lab.Todo(\"01.1\")",
			"}",
			"",
			"func g() string {",
			"\t// LAB 02.1 BEGIN: env",
			"\treturn \"\"",
			"\t// LAB 02.1 END",
			"\t// LAB 02.1 STUB: return \"\"",
			"}",
		)), string(out))
	})
	t.Run("all", func(t *testing.T) {
		out, replaced, err := Rewrite("p/f.go", in, func(string) bool { return true })
		require.NoError(t, err)
		assert.Len(t, replaced, 2)
		assert.Equal(t, string(src(
			"package p",
			"",
			"import \"minibox/labs/lab\"",
			"",
			"func f() error {",
			"\t// LAB 01.1 BEGIN: print",
			"\treturn lab.Todo(\"01.1\")",
			"\t// LAB 01.1 END",
			"\t// LAB 01.1 STUB: return lab.Todo(\"01.1\")",
			"}",
			"",
			"func g() string {",
			"\t// LAB 02.1 BEGIN: env",
			"\treturn \"\"",
			"\t// LAB 02.1 END",
			"\t// LAB 02.1 STUB: return \"\"",
			"}",
		)), string(out))
		// The handout holds the same regions, with the stubs as their bodies.
		regions, err := Parse("p/f.go", out)
		require.NoError(t, err)
		require.Len(t, regions, 2)
		assert.Equal(t, []string{"\treturn lab.Todo(\"01.1\")"}, Body(out, regions[0]))
		assert.Equal(t, []string{"\treturn \"\""}, Body(out, regions[1]))
	})
	t.Run("none", func(t *testing.T) {
		out, replaced, err := Rewrite("p/f.go", in, func(string) bool { return false })
		require.NoError(t, err)
		assert.Empty(t, replaced)
		assert.Equal(t, in, out)
	})
	t.Run("stub that breaks the syntax", func(t *testing.T) {
		bad := src("package p", "func f() {", "\t// LAB 01.1 BEGIN: t", "\t// LAB 01.1 END", "\t// LAB 01.1 STUB: }}", "}")
		_, _, err := Rewrite("p/bad.go", bad, func(string) bool { return true })
		require.Error(t, err)
		assert.Contains(t, err.Error(), "p/bad.go: the handout version does not compile")
	})
	t.Run("marker errors", func(t *testing.T) {
		_, _, err := Rewrite("p/bad.go", src("package p", "// LAB 01.1 END"), func(string) bool { return true })
		assert.EqualError(t, err, "p/bad.go:2: LAB 01.1 END without BEGIN")
	})
}
