package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeContext makes a build context directory with files (name → content).
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

var cacheLine = regexp.MustCompile(`(?m)^ ---> Using cache$`)

// build, rebuild from the cache, history, run: the classic builder's
// output through the program, each step an image.
func TestBuildRebuildRun(t *testing.T) {
	b := newBox(t)
	ctx := writeContext(t, map[string]string{
		"Dockerfile": `FROM busybox
ENV GREETING=hello
RUN echo "$GREETING from RUN" > /greeting
COPY file.txt /file.txt
WORKDIR /app
CMD ["cat", "/greeting", "/file.txt"]
`,
		"file.txt": "from the context\n",
	})
	out := b.ok("build", "--network", "none", "-t", "hello:1", "-t", "hello", ctx)
	for _, want := range []string{"Sending build context to Docker daemon", "Step 1/6 : FROM busybox", "Step 3/6 : RUN echo \"$GREETING from RUN\" > /greeting",
		" ---> Running in ", "Successfully tagged hello:1", "Successfully tagged hello:latest"} {
		assert.Contains(t, out, want)
	}
	assert.Empty(t, cacheLine.FindAllString(out, -1), "a first build hits nothing")
	m := regexp.MustCompile(`Successfully built ([0-9a-f]{12})`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	id := m[1]
	assert.Equal(t, id, b.ok("images", "-q", "hello:1"))
	assert.Empty(t, b.ok("ps", "-aq"), "no step container is left")

	again := b.ok("build", "--network", "none", "-t", "hello:1", ctx)
	assert.Len(t, cacheLine.FindAllString(again, -1), 5, "every step after FROM from the cache:\n%s", again)
	assert.NotContains(t, again, "Running in")
	assert.Contains(t, again, "Successfully built "+id)

	assert.Equal(t, "hello from RUN\nfrom the context", b.ok("run", "--rm", "--network", "none", "hello:1"))
	assert.Equal(t, "/app", b.ok("run", "--rm", "--network", "none", "hello", "pwd"))

	hist := b.ok("history", "hello:1")
	lines := strings.Split(hist, "\n")
	assert.Regexp(t, `^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$`, lines[0])
	assert.Regexp(t, `^`+id+`\s`, lines[1], "newest first")
	assert.Contains(t, hist, `/bin/sh -c #(nop)  CMD ["cat" "/greeting" "/…`)
	assert.Contains(t, b.ok("history", "--no-trunc", "hello:1"), `/bin/sh -c echo "$GREETING from RUN" > /greeting`)
	assert.Contains(t, b.ok("history", "-q", "hello:1"), id)

	// The step images are there, hidden from images without -a.
	assert.Equal(t, 2, len(strings.Split(b.ok("images", "-q"), "\n")), "busybox and hello")
	assert.Greater(t, len(strings.Split(b.ok("images", "-aq"), "\n")), 2)

	// --no-cache builds every step again.
	nc := b.ok("build", "--network", "none", "--no-cache", ctx)
	assert.Empty(t, cacheLine.FindAllString(nc, -1))
	assert.Contains(t, nc, "Running in")
}

// A RUN that fails: Docker's message, its status, nothing tagged, and no
// container or snapshot left.
func TestBuildFailingRun(t *testing.T) {
	b := newBox(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo before\nRUN exit 3\n"})
	r := b.run("build", "--network", "none", "-t", "broken", ctx)
	assert.Equal(t, 3, r.Code, "Docker's CLI exits with the RUN's status: %s %s", r.Stdout, r.Stderr)
	assert.Contains(t, r.Stderr, "The command '/bin/sh -c exit 3' returned a non-zero code: 3")
	assert.NotContains(t, r.Stderr, "minibox: The command", "a build's error is printed bare, as Docker's CLI prints it")
	assert.Empty(t, b.ok("images", "-q", "broken"))
	assert.Empty(t, b.ok("ps", "-aq"))
	noContainers(t, b.data)
}

// Bad flags change nothing: no step runs, no image is made.
func TestBuildBadFlags(t *testing.T) {
	b := newBox(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN touch /x\n"})
	before := b.ok("images", "-aq")
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"build", "-t", "Bad", ctx}, `invalid argument "Bad" for "-t, --tag" flag`},
		{[]string{"build", "--build-arg", "=x", ctx}, "invalid environment variable"},
		{[]string{"build", "--label", "=x", ctx}, "empty name"},
		{[]string{"build", filepath.Join(ctx, "nope")}, "unable to prepare context: path"},
		{[]string{"build"}, `"minibox build" requires exactly 1 argument.`},
	} {
		r := b.run(tc.args...)
		assert.Equal(t, 1, r.Code, "%v", tc.args)
		assert.Contains(t, r.Stderr, tc.err, "%v", tc.args)
	}
	assert.Equal(t, before, b.ok("images", "-aq"))
}

// The context from stdin: a tar, or a lone Dockerfile; and -f - with a
// directory.
func TestBuildFromStdin(t *testing.T) {
	b := newBox(t)
	out := b.runIn("FROM busybox\nCMD [\"echo\", \"from stdin\"]\n", "build", "-t", "lone", "-")
	require.Equal(t, 0, out.Code, out.Stderr)
	assert.Equal(t, "from stdin", b.ok("run", "--rm", "--network", "none", "lone"))
	ctx := writeContext(t, map[string]string{"a.txt": "A\n"})
	out = b.runIn("FROM busybox\nCOPY a.txt /\nCMD [\"cat\", \"/a.txt\"]\n", "build", "-f", "-", "-t", "withctx", ctx)
	require.Equal(t, 0, out.Code, out.Stderr)
	assert.Equal(t, "A", b.ok("run", "--rm", "--network", "none", "withctx"))
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

// image prune: a rebuilt tag leaves the old image dangling, and prune
// removes it (with its step images); -a removes the unused images.
func TestImagePrune(t *testing.T) {
	b := newBox(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo 1 > /v\n"})
	b.ok("build", "--network", "none", "-t", "app", ctx)
	old := b.ok("images", "-q", "app")
	writeFile(t, ctx, "Dockerfile", "FROM busybox\nRUN echo 2 > /v\n")
	b.ok("build", "--network", "none", "-t", "app", ctx)
	assert.Contains(t, b.ok("images", "-f", "dangling=true", "-q"), old)
	out := b.ok("image", "prune", "-f")
	assert.Contains(t, out, "Deleted Images:\ndeleted: sha256:"+old)
	assert.Contains(t, out, "Total reclaimed space: ")
	assert.NotContains(t, b.ok("images", "-aq"), old)
	// -a: an unused image goes; the one a container uses stays, and so
	// does its base, a parent of its steps (Docker prunes from the top
	// images down).
	other := writeContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY f /f\n", "f": "x"})
	b.ok("build", "-t", "unused", other)
	b.ok("create", "--network", "none", "app", "true")
	out = b.ok("image", "prune", "-a", "-f")
	assert.Contains(t, out, "untagged: unused:latest")
	assert.Empty(t, b.ok("images", "-q", "unused"))
	assert.NotEmpty(t, b.ok("images", "-q", "app"))
	assert.NotEmpty(t, b.ok("images", "-q", "busybox"))
}

// Multi-stage with --target, --build-arg (also in FROM), --label and -q
// through the program.
func TestBuildTargetArgsLabelsQuiet(t *testing.T) {
	b := newBox(t)
	ctx := writeContext(t, map[string]string{"Dockerfile": `ARG BASE=busybox
FROM $BASE AS first
ARG WHO=nobody
RUN echo "hi $WHO" > /who
FROM busybox AS second
COPY --from=first /who /who
CMD ["cat", "/who"]
FROM busybox AS never
RUN exit 1
`})
	out := b.ok("build", "--network", "none", "-q", "--target", "second", "--build-arg", "WHO=you", "--label", "team=red", "-t", "multi", ctx)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, out, "-q prints the ID only")
	assert.Equal(t, out, b.ok("images", "-q", "--no-trunc", "multi"))
	assert.Equal(t, "hi you", b.ok("run", "--rm", "--network", "none", "multi"))
	assert.Equal(t, "red", b.ok("image", "inspect", "-f", "{{.Config.Labels.team}}", "multi"))
	r := b.run("build", "--network", "none", "--target", "nope", ctx)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "failed to reach build target nope in Dockerfile")
}
