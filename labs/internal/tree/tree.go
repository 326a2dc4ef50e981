// Package tree knows what a repository copy holds, file by file: which files
// belong to it (ListFiles), and what of a file is not homework (Skeleton):
// everything but the bodies of its LAB regions and its imports. The handout
// generator records the skeletons' hashes in HANDOUT.sum (Manifest); the
// grader compares a submission's skeletons with a clean tree's to say which
// files a student changed outside the regions.
package tree

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"minibox/labs/internal/regions"
)

// ManifestFile is the handout's list of skeleton hashes, at its root.
const ManifestFile = "HANDOUT.sum"

// Generated are files at the root that the tools write into a copy
// (HANDOUT.md and HANDOUT.sum by the handout generator, the report by
// make grade): they are never compared.
var Generated = []string{"HANDOUT.md", ManifestFile, "grade-report.json"}

// Excluded are the top-level folders of the reference repository that a
// handout never gets (besides .git): .ci is the reference's own CI, which
// checks the homework machinery and would fail in a student copy.
var Excluded = []string{".ci"}

// ListFiles returns the files of the copy at root as slash-separated paths
// relative to it, sorted: in a git work tree the tracked and the untracked
// but not ignored files (git ls-files --cached --others --exclude-standard),
// else every file of a walk. Never anything under .git, under skip (a
// directory inside root, or "") or under an Excluded folder.
func ListFiles(ctx context.Context, root, skip string) ([]string, error) {
	var files []string
	if isWorkTree(ctx, root) {
		cmd := exec.CommandContext(ctx, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git ls-files: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		for _, f := range strings.Split(string(b), "\x00") {
			if f != "" {
				files = append(files, f)
			}
		}
	} else {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == ".git" || (skip != "" && p == skip)) {
				return filepath.SkipDir
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list files: %w", err)
		}
	}
	skipRel := ""
	if skip != "" {
		rel, err := filepath.Rel(root, skip)
		if err != nil {
			return nil, err
		}
		skipRel = filepath.ToSlash(rel)
	}
	kept := files[:0]
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f] || f == ".git" || strings.HasPrefix(f, ".git/") || strings.Contains(f, "/.git/") ||
			(skipRel != "" && (f == skipRel || strings.HasPrefix(f, skipRel+"/"))) || excluded(f) {
			continue
		}
		seen[f] = true
		kept = append(kept, f)
	}
	sort.Strings(kept)
	return kept, nil
}

// excluded reports whether rel is in one of the Excluded top-level folders.
func excluded(rel string) bool {
	for _, dir := range Excluded {
		if rel == dir || strings.HasPrefix(rel, dir+"/") {
			return true
		}
	}
	return false
}

// IsGenerated reports whether rel is one of the Generated files.
func IsGenerated(rel string) bool {
	for _, g := range Generated {
		if rel == g {
			return true
		}
	}
	return false
}

// isWorkTree reports whether dir is inside a git work tree (and git runs).
func isWorkTree(ctx context.Context, dir string) bool {
	b, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--is-inside-work-tree").Output()
	return err == nil && strings.TrimSpace(string(b)) == "true"
}

// Skeleton returns what of a file is not the student's to change. For a Go
// file: its lines without the bodies of its LAB regions (the BEGIN, END and
// STUB lines stay), without its import declarations (a region's code may
// need an import the stub did not), without blank lines and trailing
// spaces (gofmt moves them when imports change). A Go file whose markers do
// not parse, and any other file, is its bytes as they are.
func Skeleton(rel string, src []byte) []byte {
	if !strings.HasSuffix(rel, ".go") {
		return src
	}
	rs, err := regions.Parse(rel, src)
	if err != nil {
		return src
	}
	drop := map[int]bool{} // 1-based lines
	for _, r := range rs {
		for l := r.Begin + 1; l < r.End; l++ {
			drop[l] = true
		}
	}
	fset := token.NewFileSet()
	if f, err := parser.ParseFile(fset, rel, src, parser.ImportsOnly|parser.ParseComments); err == nil {
		for _, d := range f.Decls {
			from, to := fset.Position(d.Pos()).Line, fset.Position(d.End()).Line
			for l := from; l <= to; l++ {
				drop[l] = true
			}
		}
	}
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), " \t\r")
		if drop[n] || line == "" {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if sc.Err() != nil {
		return src
	}
	return b.Bytes()
}

// Hash is the hex SHA-256 of a file's skeleton.
func Hash(rel string, src []byte) string {
	sum := sha256.Sum256(Skeleton(rel, src))
	return hex.EncodeToString(sum[:])
}

// Manifest is the skeleton hash of every file of a copy, by path.
type Manifest map[string]string

// Format returns the manifest as sha256sum(1) does: "HASH  path" lines,
// sorted by path.
func (m Manifest) Format() []byte {
	paths := make([]string, 0, len(m))
	for p := range m {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b bytes.Buffer
	b.WriteString("# minibox handout: SHA-256 of each file without its LAB region bodies and imports.\n")
	b.WriteString("# The grader compares it with the files to say what changed outside the regions.\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "%s  %s\n", m[p], p)
	}
	return b.Bytes()
}

// ParseManifest reads what Format wrote.
func ParseManifest(data []byte) (Manifest, error) {
	m := Manifest{}
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		hash, p, ok := strings.Cut(line, "  ")
		if !ok || len(hash) != 64 || p == "" {
			return nil, fmt.Errorf("%s:%d: want \"SHA256  path\"", ManifestFile, i+1)
		}
		m[p] = hash
	}
	return m, nil
}

// Changes are the differences of a copy from a clean tree, outside the
// LAB region bodies.
type Changes struct {
	Changed []string // in both, with different skeletons
	Added   []string // only in the copy
	Removed []string // only in the clean tree
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return len(c.Changed)+len(c.Added)+len(c.Removed) == 0 }

// Lines describes the changes, one kind a line, for a report.
func (c Changes) Lines() []string {
	var out []string
	add := func(what string, list []string) {
		if len(list) > 0 {
			out = append(out, what+": "+strings.Join(list, ", "))
		}
	}
	add("changed outside LAB regions", c.Changed)
	add("added", c.Added)
	add("removed", c.Removed)
	return out
}

// Compare returns how the files of dir differ from the manifest of a clean
// tree. Generated files are not compared.
func Compare(ctx context.Context, dir string, clean Manifest) (Changes, error) {
	files, err := ListFiles(ctx, dir, "")
	if err != nil {
		return Changes{}, err
	}
	var c Changes
	seen := map[string]bool{}
	for _, rel := range files {
		if IsGenerated(rel) {
			continue
		}
		seen[rel] = true
		want, ok := clean[rel]
		if !ok {
			c.Added = append(c.Added, rel)
			continue
		}
		got, err := FileHash(dir, rel)
		if errors.Is(err, fs.ErrNotExist) {
			delete(seen, rel) // listed by git, deleted in the work tree
			continue
		}
		if err != nil {
			return Changes{}, err
		}
		if got != want {
			c.Changed = append(c.Changed, rel)
		}
	}
	for rel := range clean {
		if !seen[rel] && !IsGenerated(rel) {
			c.Removed = append(c.Removed, rel)
		}
	}
	sort.Strings(c.Removed)
	return c, nil
}

// FileHash is Hash of dir/rel; a symlink hashes as its target's name.
func FileHash(dir, rel string) (string, error) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		return Hash("", []byte("symlink "+target)), nil
	}
	if !fi.Mode().IsRegular() {
		return "", fs.ErrNotExist // a submodule or other non-file: not compared
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return Hash(rel, b), nil
}

// ManifestOf hashes every listed file of dir.
func ManifestOf(dir string, files []string) (Manifest, error) {
	m := Manifest{}
	for _, rel := range files {
		if IsGenerated(rel) {
			continue
		}
		h, err := FileHash(dir, rel)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m[rel] = h
	}
	return m, nil
}
