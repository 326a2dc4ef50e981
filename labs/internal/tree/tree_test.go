package tree

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ref = `package p

import "fmt"

func f() int {
	// LAB 01.1 BEGIN: one
	return 1
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0
}

func g() { fmt.Println() }
`

func TestSkeleton(t *testing.T) {
	same := []string{
		// The body is the student's.
		`package p

import "fmt"

func f() int {
	// LAB 01.1 BEGIN: one
	x := 0
	x++

	return x
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0
}

func g() { fmt.Println() }
`,
		// So are the imports, and blank lines do not count.
		`package p

import (
	"fmt"
	"os"
)

func f() int {
	// LAB 01.1 BEGIN: one
	return len(os.Args)
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0
}


func g() { fmt.Println() }
`,
	}
	differ := []string{
		// Code outside the region.
		`package p

import "fmt"

func f() int {
	// LAB 01.1 BEGIN: one
	return 1
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0
}

func g() { fmt.Println("x") }
`,
		// A marker.
		`package p

import "fmt"

func f() int {
	// LAB 01.1 BEGIN: one
	return 1
	// LAB 01.1 END
}

func g() { fmt.Println() }
`,
	}
	want := Hash("p/p.go", []byte(ref))
	for _, s := range same {
		assert.Equal(t, want, Hash("p/p.go", []byte(s)), s)
	}
	for _, s := range differ {
		assert.NotEqual(t, want, Hash("p/p.go", []byte(s)), s)
	}
	// Not Go: byte for byte.
	assert.NotEqual(t, Hash("a.txt", []byte("a\n")), Hash("a.txt", []byte("a\n\n")))
}

func TestManifestAndCompare(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	write("p/p.go", ref)
	write("notes.txt", "hi\n")
	write("HANDOUT.md", "generated\n")
	ctx := context.Background()
	files, err := ListFiles(ctx, dir, "")
	require.NoError(t, err)
	m, err := ManifestOf(dir, files)
	require.NoError(t, err)
	assert.Len(t, m, 2, "HANDOUT.md is generated")
	back, err := ParseManifest(m.Format())
	require.NoError(t, err)
	assert.Equal(t, m, back)

	ch, err := Compare(ctx, dir, m)
	require.NoError(t, err)
	assert.True(t, ch.Empty())

	write("p/p.go", ref+"\nvar x = 1\n")
	write("new.go", "package p\n")
	require.NoError(t, os.Remove(filepath.Join(dir, "notes.txt")))
	ch, err = Compare(ctx, dir, m)
	require.NoError(t, err)
	assert.Equal(t, Changes{Changed: []string{"p/p.go"}, Added: []string{"new.go"}, Removed: []string{"notes.txt"}}, ch)
	assert.Equal(t, []string{"changed outside LAB regions: p/p.go", "added: new.go", "removed: notes.txt"}, ch.Lines())

	_, err = ParseManifest([]byte("nothash  x\n"))
	assert.Error(t, err)
}
