package splice

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const clean = `package p

import "fmt"

// F is homework.
func F() int {
	// LAB 01.1 BEGIN: one
	return 1
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0
}

// G is homework too.
func G() string {
	// LAB 01.2 BEGIN: two
	return fmt.Sprint(2)
	// LAB 01.2 END
	// LAB 01.2 STUB: return ""
}
`

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, body := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

func splice(t *testing.T, sub map[string]string) (string, *Result) {
	t.Helper()
	dir := t.TempDir()
	cleanDir, subDir, out := filepath.Join(dir, "clean"), filepath.Join(dir, "sub"), filepath.Join(dir, "out")
	write(t, cleanDir, map[string]string{"p/p.go": clean, "p/p_test.go": "package p\n", "README": "hi\n"})
	write(t, subDir, sub)
	res, err := Splice(context.Background(), Options{Clean: cleanDir, Submission: subDir, Out: out})
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(out, "p/p.go"))
	require.NoError(t, err)
	return string(b), res
}

func TestSpliceTakesBodiesAndImports(t *testing.T) {
	got, res := splice(t, map[string]string{
		"p/p.go": `package p

import (
	"os"
	"strconv"
	_ "embed"

	"minibox/internal/testkit"
)

// F is homework, and this comment is not the student's.
func F() int {
	// LAB 01.1 BEGIN: one
	n, _ := strconv.Atoi(os.Getenv("N"))
	return n
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0
}

func G() string {
	// LAB 01.2 BEGIN: two
	return ""
	// LAB 01.2 END
	// LAB 01.2 STUB: return ""
}

func Extra() {}
`,
		"p/p_test.go": "package p\n\nfunc init() { panic(1) }\n",
		"README":      "hi\n",
	})
	assert.Equal(t, `package p

import (
	"os"
	"strconv"
)

// F is homework.
func F() int {
	// LAB 01.1 BEGIN: one
	n, _ := strconv.Atoi(os.Getenv("N"))
	return n
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0
}

// G is homework too.
func G() string {
	// LAB 01.2 BEGIN: two
	return ""
	// LAB 01.2 END
	// LAB 01.2 STUB: return ""
}
`, got, "the submission's bodies and the imports they need, the clean file's everything else; fmt went unused")
	assert.Equal(t, []string{"01.1 p/p.go:7", "01.2 p/p.go:15"}, res.Taken)
	assert.Empty(t, res.Stubbed)
	assert.Equal(t, []string{`p/p.go: "embed"`, `p/p.go: "minibox/internal/testkit"`}, res.Refused)
	assert.Equal(t, []string{"p/p.go", "p/p_test.go"}, res.Outside.Changed)
}

func TestSpliceStubsWhatIsMissing(t *testing.T) {
	t.Run("no file", func(t *testing.T) {
		got, res := splice(t, map[string]string{"README": "hi\n"})
		assert.Contains(t, got, "// LAB 01.1 BEGIN: one\n\treturn 0\n\t// LAB 01.1 END\n")
		assert.Contains(t, got, "// LAB 01.2 BEGIN: two\n\treturn \"\"\n\t// LAB 01.2 END\n")
		assert.NotContains(t, got, "fmt", "the stub does not use it")
		assert.Len(t, res.Stubbed, 2)
		assert.Contains(t, res.Stubbed[0], "the submission has no such file")
		assert.Equal(t, []string{"p/p.go", "p/p_test.go"}, res.Outside.Removed)
	})
	t.Run("markers removed", func(t *testing.T) {
		got, res := splice(t, map[string]string{"p/p.go": "package p\n\nfunc F() int { return 1 }\n\nfunc G() string { return \"2\" }\n"})
		assert.Contains(t, got, "// LAB 01.1 BEGIN: one\n\treturn 0\n", "never the clean tree's solution")
		require.Len(t, res.Stubbed, 2)
		assert.Contains(t, res.Stubbed[1], "01.2 p/p.go:15: no such region in the submission's file")
	})
	t.Run("markers broken", func(t *testing.T) {
		_, res := splice(t, map[string]string{"p/p.go": "package p\n\n// LAB 01.1 END\n"})
		require.Len(t, res.Stubbed, 2)
		assert.Contains(t, res.Stubbed[0], "the submission's markers are broken: p/p.go:3: LAB 01.1 END without BEGIN")
	})
}

func TestReadBeneathRefusesSymlinksAndNonFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"sub/a/f.go": "package a\n", "outside.go": "package x\n"})
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Symlink("f.go", filepath.Join(sub, "a", "link.go")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "outside.go"), filepath.Join(sub, "a", "out.go")))
	require.NoError(t, os.Symlink("a", filepath.Join(sub, "b")))
	require.NoError(t, os.Mkdir(filepath.Join(sub, "a", "d.go"), 0o755))
	root, err := openRoot(sub)
	require.NoError(t, err)
	defer root.Close()

	b, err := readBeneath(root, "a/f.go")
	require.NoError(t, err)
	assert.Equal(t, "package a\n", string(b))
	for _, rel := range []string{"a/link.go", "a/out.go", "b/f.go", "a/d.go", "../outside.go"} {
		_, err := readBeneath(root, rel)
		assert.ErrorIs(t, err, errNotRegular, rel)
	}
	_, err = readBeneath(root, "a/none.go")
	assert.ErrorIs(t, err, os.ErrNotExist)
	// The same answers without openat2.
	for _, rel := range []string{"a/link.go", "a/out.go", "b/f.go", "a/d.go"} {
		_, err := readBeneathPortable(sub, rel)
		assert.ErrorIs(t, err, errNotRegular, rel)
	}
}

func TestDirectiveAndShape(t *testing.T) {
	assert.Equal(t, "//go:linkname x y.z", directive([]string{"\tx := 1", "\t//go:linkname x y.z"}))
	assert.Equal(t, "//line a.go:1", directive([]string{"//line a.go:1"}))
	assert.Empty(t, directive([]string{"\t// go: a comment, not a directive", `	s := "//go:linkname"`}))

	escape := strings.Replace(clean, "\treturn 1\n", "\treturn 1\n}\n\nfunc init() { println(1) }\n\nfunc pad() {\n", 1)
	err := checkShape("p/p.go", []byte(clean), []byte(escape))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "func init where the clean file has func G")
	// Closing F and reopening another function for the rest of F.
	reopen := strings.Replace(clean, "\treturn 1\n", "\treturn 1\n}\n\nfunc G() string {\n\treturn \"\"\n}\n\nfunc F() int {\n", 1)
	reopen = strings.Replace(reopen, "// G is homework too.\nfunc G() string {", "// G is homework too.\nfunc H() string {", 1)
	require.Error(t, checkShape("p/p.go", []byte(clean), []byte(reopen)))
	require.NoError(t, checkShape("p/p.go", []byte(clean), []byte(strings.Replace(clean, "\treturn 1\n", "\tf := func() int { return 1 }\n\treturn f()\n", 1))))
}
