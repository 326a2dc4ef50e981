package tasks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const validJSON = `{"labs": [
 {"id": "01", "dir": "01-a", "title": "A", "tasks": [
   {"id": "01.1", "title": "one", "points": 10, "tests": [{"package": "./01-a", "run": ["TestOne"]}]},
   {"id": "01.2", "title": "two", "points": 20, "tests": [{"package": "./01-a/x", "run": ["TestTwo", "TestThree"]}]}]},
 {"id": "02", "dir": "02-b", "title": "B", "tasks": [
   {"id": "02.1", "title": "three", "points": 5, "tests": [{"package": ".", "run": ["TestFour"]}]}]}
]}`

func TestParseValid(t *testing.T) {
	f, err := Parse([]byte(validJSON))
	require.NoError(t, err)
	assert.Equal(t, []string{"01", "02"}, f.LabIDs())

	l, ok := f.Lab("01")
	require.True(t, ok)
	assert.Equal(t, 30, l.Points())

	task, ok := f.Task("01.2")
	require.True(t, ok)
	assert.Equal(t, "two", task.Title)
	_, ok = f.Task("03.1")
	assert.False(t, ok)

	labs, err := f.UpTo("01")
	require.NoError(t, err)
	assert.Len(t, labs, 1)
	labs, err = f.UpTo("")
	require.NoError(t, err)
	assert.Len(t, labs, 2)
	_, err = f.UpTo("07")
	assert.ErrorContains(t, err, `no lab "07"`)

	assert.Equal(t, "01", LabOf("01.3"))
}

func TestParseInvalid(t *testing.T) {
	// lab wraps one lab's JSON into a file; task builds one task.
	lab := func(id, tasks string) string {
		return `{"labs": [{"id": "` + id + `", "dir": "d", "title": "T", "tasks": [` + tasks + `]}]}`
	}
	task := func(id string, points, tests string) string {
		return `{"id": "` + id + `", "title": "t", "points": ` + points + `, "tests": ` + tests + `}`
	}
	okTests := `[{"package": "./d", "run": ["TestX"]}]`
	cases := []struct {
		name string
		json string
		want string
	}{
		{"no labs", `{"labs": []}`, "no labs"},
		{"unknown field", `{"labs": [], "extra": 1}`, "unknown field"},
		{"bad lab id", lab("1", task("1.1", "1", okTests)), "not two digits"},
		{"duplicate lab", `{"labs": [{"id": "01", "dir": "d", "title": "T", "tasks": [` + task("01.1", "1", okTests) +
			`]}, {"id": "01", "dir": "d", "title": "T", "tasks": [` + task("01.2", "1", okTests) + `]}]}`, "unique and increasing"},
		{"no tasks", lab("01", ""), "no tasks"},
		{"bad task id", lab("01", task("01-1", "1", okTests)), "is not NN.M"},
		{"task of other lab", lab("01", task("02.1", "1", okTests)), "does not belong to lab"},
		{"duplicate task", lab("01", task("01.1", "1", okTests)+","+task("01.1", "1", okTests)), "duplicate id"},
		{"zero points", lab("01", task("01.1", "0", okTests)), "points must be > 0"},
		{"negative points", lab("01", task("01.1", "-5", okTests)), "points must be > 0"},
		{"no tests", lab("01", task("01.1", "1", `[]`)), "no tests"},
		{"no run", lab("01", task("01.1", "1", `[{"package": "./d", "run": []}]`)), "no test names"},
		{"bad test name", lab("01", task("01.1", "1", `[{"package": "./d", "run": ["TestA|TestB"]}]`)), "not a top-level Go test name"},
		{"subtest name", lab("01", task("01.1", "1", `[{"package": "./d", "run": ["TestA/sub"]}]`)), "not a top-level Go test name"},
		{"bad package", lab("01", task("01.1", "1", `[{"package": "d/...", "run": ["TestA"]}]`)), "one package path"},
		{"no dir", `{"labs": [{"id": "01", "title": "T", "tasks": [` + task("01.1", "1", okTests) + `]}]}`, "must be a folder"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoad(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "labs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, Path), []byte(validJSON), 0o644))
	f, err := Load(root)
	require.NoError(t, err)
	assert.Len(t, f.Labs, 2)

	_, err = Load(t.TempDir())
	assert.ErrorContains(t, err, "read task list")
}

// TestRepositoryTaskList keeps the real labs/tasks.json valid.
func TestRepositoryTaskList(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	for _, l := range f.Labs {
		assert.True(t, strings.HasPrefix(l.Dir, l.ID+"-"), "lab %s dir %q starts with its id", l.ID, l.Dir)
	}
}
