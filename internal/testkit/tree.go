package testkit

import (
	"io/fs"
	"path/filepath"
	"testing"
)

// Tree lists every path under dir (dir itself first, in lexical order),
// for "nothing changed here" checks: compare a Tree taken before an
// operation with one taken after it.
func Tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	return out
}
