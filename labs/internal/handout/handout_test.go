package handout

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/labs/internal/regions"
	"minibox/labs/internal/tree"
)

const taskJSON = `{
  "labs": [
    {"id": "01", "dir": "01-a", "title": "A",
     "tasks": [
       {"id": "01.1", "title": "one", "points": 50,
        "tests": [{"package": "./01-a", "run": ["TestOne"]}]},
       {"id": "01.2", "title": "two", "points": 50,
        "tests": [{"package": "./01-a", "run": ["TestTwo"]}]}
     ]},
    {"id": "02", "dir": "02-b", "title": "B",
     "tasks": [
       {"id": "02.1", "title": "three", "points": 100,
        "tests": [{"package": "./02-b", "run": ["TestThree"]}]}
     ]}
  ]
}
`

const fileA = `package a

import (
	"errors"
	"fmt"
)

// One returns one.
func One() (int, error) {
	// LAB 01.1 BEGIN: return one
	return 1, nil
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0, lab.Todo("01.1")
}

// Two returns an error.
func Two() error {
	// LAB 01.2 BEGIN: make an error
	return errors.New(fmt.Sprint(2))
	// LAB 01.2 END
	// LAB 01.2 STUB: return lab.Todo("01.2")
}
`

const fileB = `package b

// Three returns three.
func Three() int {
	// LAB 02.1 BEGIN: return three
	return 3
	// LAB 02.1 END
	// LAB 02.1 STUB: return 0
}
`

// writeTree writes files (slash paths) under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

func fakeRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"go.mod":            "module minibox\n\ngo 1.26\n",
		"labs/tasks.json":   taskJSON,
		"01-a/a.go":         fileA,
		"02-b/b.go":         fileB,
		"02-b/notes.txt":    "// LAB 09.9 BEGIN: not Go, not scanned\n",
		".git/config":       "secret history\n",
		"sub/.git/HEAD":     "nested history\n",
		"scripts/run.sh":    "#!/bin/sh\n",
		"internal/x/x.go":   "package x\n",
		"internal/x/doc.md": "docs\n",
		".ci/run":           "#!/bin/sh\nlabs/check.sh\n",
	})
	require.NoError(t, os.Chmod(filepath.Join(root, "scripts/run.sh"), 0o755))
	require.NoError(t, os.Symlink("run.sh", filepath.Join(root, "scripts/link.sh")))
	return root
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(b)
}

func TestGenerateAll(t *testing.T) {
	repo := fakeRepo(t)
	out := filepath.Join(t.TempDir(), "handout")
	var log bytes.Buffer
	res, err := Generate(context.Background(), Options{Repo: repo, Out: out, Log: &log})
	require.NoError(t, err)

	assert.Equal(t, []string{"01", "02"}, res.Labs)
	assert.Empty(t, res.Solved)
	assert.Equal(t, 2, res.Rewritten)
	require.Len(t, res.Replaced, 3)
	assert.Equal(t, Replaced{ID: "01.1", Title: "return one", At: Location{"01-a/a.go", 10}, Todo: Location{"01-a/a.go", 7}}, res.Replaced[0])
	assert.Equal(t, Location{"01-a/a.go", 15}, res.Replaced[1].Todo)
	assert.Equal(t, "01.1 01-a/a.go:10\n01.2 01-a/a.go:18\n02.1 02-b/b.go:5\n", log.String())

	a := read(t, filepath.Join(out, "01-a/a.go"))
	assert.Equal(t, `package a

import "minibox/labs/lab"

// One returns one.
func One() (int, error) {
	// LAB 01.1 BEGIN: return one
	return 0, lab.Todo("01.1")
	// LAB 01.1 END
	// LAB 01.1 STUB: return 0, lab.Todo("01.1")
}

// Two returns an error.
func Two() error {
	// LAB 01.2 BEGIN: make an error
	return lab.Todo("01.2")
	// LAB 01.2 END
	// LAB 01.2 STUB: return lab.Todo("01.2")
}
`, a)
	assert.Contains(t, read(t, filepath.Join(out, "02-b/b.go")), "\t// LAB 02.1 BEGIN: return three\n\treturn 0\n\t// LAB 02.1 END\n")
	assert.Equal(t, "// LAB 09.9 BEGIN: not Go, not scanned\n", read(t, filepath.Join(out, "02-b/notes.txt")))

	// Everything else is copied as it is, .git never.
	assert.Equal(t, "package x\n", read(t, filepath.Join(out, "internal/x/x.go")))
	assert.NoDirExists(t, filepath.Join(out, ".git"))
	assert.NoDirExists(t, filepath.Join(out, "sub/.git"))
	assert.NoDirExists(t, filepath.Join(out, ".ci"), "the reference's CI is not handed out")
	fi, err := os.Stat(filepath.Join(out, "scripts/run.sh"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	target, err := os.Readlink(filepath.Join(out, "scripts/link.sh"))
	require.NoError(t, err)
	assert.Equal(t, "run.sh", target)

	md := read(t, filepath.Join(out, "HANDOUT.md"))
	assert.Contains(t, md, "### Lab 01: A (`01-a/`, 100 points)")
	assert.Contains(t, md, "- **01.1** one (50 points): `01-a/a.go:7`")
	assert.Contains(t, md, "sudo make grade LAB=01")
	assert.NotContains(t, md, "Already solved")
	assert.Equal(t, 11, res.Copied) // 10 files + a symlink - .git and .ci files + HANDOUT.md and HANDOUT.sum

	// HANDOUT.sum has the skeleton hash of every file but the generated ones.
	sum, err := tree.ParseManifest([]byte(read(t, filepath.Join(out, tree.ManifestFile))))
	require.NoError(t, err)
	assert.Len(t, sum, 9)
	assert.NotContains(t, sum, "HANDOUT.md")
	h, err := tree.FileHash(out, "01-a/a.go")
	require.NoError(t, err)
	assert.Equal(t, h, sum["01-a/a.go"])
}

func TestGenerateFrom(t *testing.T) {
	repo := fakeRepo(t)
	out := filepath.Join(t.TempDir(), "handout")
	res, err := Generate(context.Background(), Options{Repo: repo, Out: out, From: "02"})
	require.NoError(t, err)
	assert.Equal(t, []string{"02"}, res.Labs)
	assert.Equal(t, []string{"01"}, res.Solved)
	require.Len(t, res.Replaced, 1)
	assert.Equal(t, "02.1", res.Replaced[0].ID)

	// Lab 01 stays solved, markers and all, byte for byte.
	assert.Equal(t, fileA, read(t, filepath.Join(out, "01-a/a.go")))
	md := read(t, filepath.Join(out, "HANDOUT.md"))
	assert.Contains(t, md, "## Already solved")
	assert.Contains(t, md, "sudo make grade LAB=02")

	_, err = Generate(context.Background(), Options{Repo: repo, Out: t.TempDir(), From: "05"})
	assert.ErrorContains(t, err, "-from 05: no such lab")
}

// TestGenerateOnly: -only stubs exactly the named tasks; every other region,
// of any lab, stays solved byte for byte.
func TestGenerateOnly(t *testing.T) {
	stubA1 := "\t// LAB 01.1 BEGIN: return one\n\treturn 0, lab.Todo(\"01.1\")\n\t// LAB 01.1 END\n"
	stubA2 := "\t// LAB 01.2 BEGIN: make an error\n\treturn lab.Todo(\"01.2\")\n\t// LAB 01.2 END\n"
	stubB := "\t// LAB 02.1 BEGIN: return three\n\treturn 0\n\t// LAB 02.1 END\n"
	for _, tc := range []struct {
		name     string
		only     []string
		from     string
		replaced []string // task ids of the replaced regions
		tasks    []string // Result.Tasks
		labs     []string
		solved   []string
		a, b     []string // stubs expected in 01-a/a.go, 02-b/b.go; none means the file is untouched
		md       []string // in HANDOUT.md
		err      string
	}{
		{name: "first task", only: []string{"01.1"}, replaced: []string{"01.1"}, tasks: []string{"01.1"},
			labs: []string{"01"}, solved: []string{"02"}, a: []string{stubA1},
			md: []string{"- **01.1** one (50 points): `01-a/a.go:", "These tasks of lab 01 come solved: 01.2.", "- Lab 02: B (`02-b/`)"}},
		{name: "second task", only: []string{"01.2"}, replaced: []string{"01.2"}, tasks: []string{"01.2"},
			labs: []string{"01"}, solved: []string{"02"}, a: []string{stubA2},
			md: []string{"- **01.2** two", "These tasks of lab 01 come solved: 01.1."}},
		{name: "a later lab, the earlier stays solved", only: []string{"02.1"}, replaced: []string{"02.1"}, tasks: []string{"02.1"},
			labs: []string{"02"}, solved: []string{"01"}, b: []string{stubB}},
		{name: "tasks of two labs, any order, duplicates", only: []string{"02.1", "01.2", "02.1"},
			replaced: []string{"01.2", "02.1"}, tasks: []string{"01.2", "02.1"},
			labs: []string{"01", "02"}, a: []string{stubA2}, b: []string{stubB}},
		{name: "every task of a lab is like -from", only: []string{"01.2", "01.1"}, replaced: []string{"01.1", "01.2"},
			tasks: []string{"01.1", "01.2"}, labs: []string{"01"}, solved: []string{"02"}, a: []string{stubA1, stubA2}},
		{name: "unknown task", only: []string{"01.1", "01.9"},
			err: `-only "01.9": no such task in labs/tasks.json (have 01.1, 01.2)`},
		{name: "a lab is not a task", only: []string{"02"},
			err: `-only "02": no such task in labs/tasks.json (have 02.1)`},
		{name: "unknown lab", only: []string{"07.1", ""},
			err: `-only "07.1": no such task in labs/tasks.json (have lab 01, lab 02)` + "\n" +
				`-only "": no such task in labs/tasks.json (have lab 01, lab 02)`},
		{name: "not with -from", only: []string{"01.1"}, from: "01", err: "-from and -only do not go together: -only names every task to hand out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := fakeRepo(t)
			out := filepath.Join(t.TempDir(), "handout")
			res, err := Generate(context.Background(), Options{Repo: repo, Out: out, Only: tc.only, From: tc.from})
			if tc.err != "" {
				require.Error(t, err)
				assert.Equal(t, tc.err, err.Error())
				assert.NoDirExists(t, out)
				return
			}
			require.NoError(t, err)
			var ids []string
			for _, r := range res.Replaced {
				ids = append(ids, r.ID)
			}
			assert.Equal(t, tc.replaced, ids)
			assert.Equal(t, tc.tasks, res.Tasks)
			assert.Equal(t, tc.labs, res.Labs)
			assert.Equal(t, tc.solved, res.Solved)
			for _, f := range []struct {
				name, ref string
				stubs     []string
			}{{"01-a/a.go", fileA, tc.a}, {"02-b/b.go", fileB, tc.b}} {
				got := read(t, filepath.Join(out, f.name))
				if len(f.stubs) == 0 {
					assert.Equal(t, f.ref, got, "%s stays solved", f.name)
					continue
				}
				for _, stub := range f.stubs {
					assert.Contains(t, got, stub)
				}
				for _, solved := range []string{"\treturn 1, nil\n", "\treturn errors.New(fmt.Sprint(2))\n", "\treturn 3\n"} {
					if strings.Contains(f.ref, solved) {
						stubbed := false
						for _, stub := range f.stubs {
							stubbed = stubbed || strings.Contains(f.ref, strings.SplitN(stub, "\n", 2)[0]+"\n"+solved)
						}
						assert.Equal(t, !stubbed, strings.Contains(got, solved), "%s: only the selected regions are stubs (%q)", f.name, solved)
					}
				}
				assert.Equal(t, strings.Count(f.ref, " BEGIN: "), strings.Count(got, " BEGIN: "), "%s: every region keeps its markers", f.name)
			}
			md := read(t, filepath.Join(out, "HANDOUT.md"))
			for _, want := range tc.md {
				assert.Contains(t, md, want)
			}
		})
	}
}

func TestGenerateMarkerErrors(t *testing.T) {
	repo := fakeRepo(t)
	writeTree(t, repo, map[string]string{
		// 01.2 loses its region; 03.1 has no task; one END has no BEGIN.
		"01-a/a.go": fileA[:len(fileA)-len("// Two returns an error.\nfunc Two() error {\n\t// LAB 01.2 BEGIN: make an error\n\treturn errors.New(fmt.Sprint(2))\n\t// LAB 01.2 END\n\t// LAB 01.2 STUB: return lab.Todo(\"01.2\")\n}\n")],
		"03-c/c.go": "package c\n\nfunc C() {\n\t// LAB 03.1 BEGIN: c\n\t// LAB 03.1 END\n\t// LAB 03.1 STUB: return\n}\n",
		"03-c/d.go": "package c\n\n// LAB 02.1 END\n",
	})
	out := filepath.Join(t.TempDir(), "handout")
	_, err := Generate(context.Background(), Options{Repo: repo, Out: out})
	require.Error(t, err)
	var list regions.ErrorList
	require.True(t, errors.As(err, &list), "%v", err)
	assert.Equal(t, `03-c/c.go:4: LAB 03.1 region: no task 03.1 in labs/tasks.json
03-c/d.go:3: LAB 02.1 END without BEGIN
labs/tasks.json:7: task 01.2 (two) has no LAB 01.2 region in any .go file`, err.Error())
	assert.NoDirExists(t, out, "nothing is written on marker errors")
}

func TestGenerateStubThatDoesNotParse(t *testing.T) {
	repo := fakeRepo(t)
	writeTree(t, repo, map[string]string{"02-b/b.go": "package b\n\nfunc Three() int {\n\t// LAB 02.1 BEGIN: x\n\treturn 3\n\t// LAB 02.1 END\n\t// LAB 02.1 STUB: return (\n}\n"})
	_, err := Generate(context.Background(), Options{Repo: repo, Out: filepath.Join(t.TempDir(), "h")})
	assert.ErrorContains(t, err, "02-b/b.go: the handout version does not compile")
}

func TestGenerateOutDir(t *testing.T) {
	repo := fakeRepo(t)
	full := t.TempDir()
	writeTree(t, full, map[string]string{"x": "x"})
	_, err := Generate(context.Background(), Options{Repo: repo, Out: full})
	assert.ErrorContains(t, err, "is not empty")

	_, err = Generate(context.Background(), Options{Repo: repo, Out: repo})
	assert.ErrorContains(t, err, "is the repository itself")

	_, err = Generate(context.Background(), Options{Repo: repo})
	assert.ErrorContains(t, err, "no output directory")

	// An empty directory inside the repository is fine, and not copied into itself.
	inside := filepath.Join(repo, "handout")
	require.NoError(t, os.Mkdir(inside, 0o755))
	_, err = Generate(context.Background(), Options{Repo: repo, Out: inside})
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(inside, "01-a/a.go"))
	assert.NoDirExists(t, filepath.Join(inside, "handout"))
}

func TestGenerateGitCheckout(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	repo := fakeRepo(t)
	require.NoError(t, os.RemoveAll(filepath.Join(repo, ".git")))
	writeTree(t, repo, map[string]string{
		".gitignore":        "/bin/\n*.log\n",
		"bin/minibox":       "binary",
		"debug.log":         "noise",
		"untracked/new.txt": "new, not ignored",
	})
	for _, args := range [][]string{{"init", "-q"}, {"add", "go.mod", "labs", "01-a", "02-b", ".gitignore", ".ci"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	out := filepath.Join(t.TempDir(), "handout")
	_, err := Generate(context.Background(), Options{Repo: repo, Out: out})
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(out, "01-a/a.go"))
	assert.FileExists(t, filepath.Join(out, "untracked/new.txt"), "untracked files that are not ignored are copied")
	assert.FileExists(t, filepath.Join(out, "internal/x/x.go"))
	assert.NoFileExists(t, filepath.Join(out, "bin/minibox"), "ignored")
	assert.NoFileExists(t, filepath.Join(out, "debug.log"), "ignored")
	assert.NoDirExists(t, filepath.Join(out, ".git"))
	assert.NoDirExists(t, filepath.Join(out, ".ci"), "tracked, but the reference's CI is not handed out")
}
