package commands

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
	"minibox/04-storage/storage"
)

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "Less than a second"}, {time.Second, "1 second"}, {3 * time.Second, "3 seconds"},
		{time.Minute, "About a minute"}, {5 * time.Minute, "5 minutes"}, {time.Hour, "About an hour"},
		{5 * time.Hour, "5 hours"}, {72 * time.Hour, "3 days"}, {21 * 24 * time.Hour, "3 weeks"},
		{90 * 24 * time.Hour, "3 months"}, {3 * 365 * 24 * time.Hour, "3 years"},
	} {
		assert.Equal(t, tc.want, HumanDuration(tc.d), tc.d.String())
	}
}

func TestStatus(t *testing.T) {
	now := time.Now()
	assert.Equal(t, "Created", Status(engine.State{Status: "created"}, now))
	assert.Equal(t, "Up 3 seconds", Status(engine.State{Status: "running", Running: true, StartedAt: now.Add(-3 * time.Second)}, now))
	assert.Equal(t, "Exited (137) 5 minutes ago", Status(engine.State{Status: "exited", ExitCode: 137, FinishedAt: now.Add(-5 * time.Minute)}, now))
}

func TestFilters(t *testing.T) {
	in := &engine.Info{Container: &engine.Container{ID: "abcdef0123", Name: "web-1", Image: "sha256:1234",
		Config: engine.Config{Image: "busybox:latest", Labels: map[string]string{"team": "a"}}}, State: engine.State{Status: "running", Running: true}}
	for _, tc := range []struct {
		filters []string
		want    bool
	}{
		{[]string{"name=web"}, true}, {[]string{"name=^/web-1$"}, true}, {[]string{"name=db"}, false},
		{[]string{"status=running"}, true}, {[]string{"status=exited"}, false},
		{[]string{"status=exited", "status=running"}, true}, // one key: OR
		{[]string{"status=running", "name=db"}, false},      // two keys: AND
		{[]string{"label=team"}, true}, {[]string{"label=team=a"}, true}, {[]string{"label=team=b"}, false},
		{[]string{"ancestor=busybox"}, true}, {[]string{"ancestor=sha256:12"}, true}, {[]string{"ancestor=debian"}, false},
		{[]string{"id=abc"}, true}, {[]string{"id=bcd"}, false},
	} {
		fs, err := parseFilters(tc.filters)
		require.NoError(t, err)
		assert.Equal(t, tc.want, match(in, fs), "%v", tc.filters)
	}
	_, err := parseFilters([]string{"color=red"})
	assert.ErrorContains(t, err, "invalid filter 'color'")
	_, err = parseFilters([]string{"status=sleepy"})
	assert.ErrorContains(t, err, "invalid filter 'status=sleepy'")
	_, err = parseFilters([]string{"name"})
	assert.Error(t, err)
}

func TestCommandColumn(t *testing.T) {
	in := &engine.Info{Container: &engine.Container{ID: "0123456789abcdef", Path: "sh", Args: []string{"-c", "echo started; sleep 1"}}}
	r := newRow(in, true, time.Now())
	assert.Equal(t, `"sh -c echo started;…"`, r.Command)
	assert.Equal(t, "0123456789ab", r.ID)
	r = newRow(in, false, time.Now())
	assert.Equal(t, `"sh -c echo started; sleep 1"`, r.Command)
}

func TestSplitCopyArg(t *testing.T) {
	for _, tc := range []struct{ arg, container, path string }{
		{"web:/etc/hosts", "web", "/etc/hosts"}, {"/tmp/a:b", "", "/tmp/a:b"}, {"./x:y", "", "./x:y"},
		{"plain", "", "plain"}, {":x", "", ":x"}, {"abc123:.", "abc123", "."},
	} {
		c, p := splitCopyArg(tc.arg)
		assert.Equal(t, tc.container, c, tc.arg)
		assert.Equal(t, tc.path, p, tc.arg)
	}
}

func TestParseTime(t *testing.T) {
	got, err := parseTime("10m")
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(-10*time.Minute), got, time.Second)
	got, err = parseTime("2024-01-02T03:04:05Z")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), got.UTC())
	got, err = parseTime("1700000000")
	require.NoError(t, err)
	assert.Equal(t, int64(1700000000), got.Unix())
	_, err = parseTime("yesterday")
	assert.Error(t, err)
}

func TestHumanSize(t *testing.T) {
	assert.Equal(t, "0B", humanSize(0))
	assert.Equal(t, "999B", humanSize(999))
	assert.Equal(t, "12.3kB", humanSize(12345))
	assert.Equal(t, "4.26MB", humanSize(4260000))
}

func TestChangesSize(t *testing.T) {
	root := t.TempDir()
	write := func(p string, n int) {
		require.NoError(t, os.WriteFile(filepath.Join(root, p), make([]byte, n), 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(root, "dir"), 0o755))
	write("added", 100)
	write("changed", 20)
	write("dir/linked", 7)
	require.NoError(t, os.Link(filepath.Join(root, "dir/linked"), filepath.Join(root, "hardlink")))
	require.NoError(t, os.Symlink("added", filepath.Join(root, "symlink")))
	for _, tc := range []struct {
		name string
		chs  []storage.Change
		want int64
	}{
		{"none", nil, 0},
		{"added and changed files", []storage.Change{{Kind: storage.Added, Path: "/added"}, {Kind: storage.Modified, Path: "/changed"}}, 120},
		{"deleted counts nothing", []storage.Change{{Kind: storage.Deleted, Path: "/gone"}, {Kind: storage.Deleted, Path: "/added"}}, 0},
		{"directories and symlinks count nothing", []storage.Change{{Kind: storage.Modified, Path: "/dir"}, {Kind: storage.Added, Path: "/symlink"}}, 0},
		{"a hard-linked file once", []storage.Change{{Kind: storage.Added, Path: "/dir/linked"}, {Kind: storage.Added, Path: "/hardlink"}}, 7},
		{"gone meanwhile", []storage.Change{{Kind: storage.Added, Path: "/missing"}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, changesSize(root, tc.chs))
		})
	}
}
