package commands

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	digest "github.com/opencontainers/go-digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/images"
	"minibox/06-image/image"
)

func TestParsePullPolicy(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "missing", ""},
		{"missing", "missing", ""},
		{"always", "always", ""},
		{"never", "never", ""},
		{"Always", "", `invalid pull option: 'Always': must be one of "always", "missing" or "never"`},
		{"true", "", `invalid pull option: 'true'`},
		{" never", "", "invalid pull option"},
	} {
		got, err := parsePullPolicy(tc.in)
		if tc.err != "" {
			require.Error(t, err, tc.in)
			assert.Contains(t, err.Error(), tc.err)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
}

func FuzzParsePullPolicy(f *testing.F) {
	for _, s := range []string{"", "missing", "always", "never", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parsePullPolicy(s)
		if err == nil {
			assert.Contains(t, []string{PullMissing, PullAlways, PullNever}, got)
		} else {
			assert.Empty(t, got)
		}
	})
}

func str(s string) *string { return &s }

func TestParseBuildArgs(t *testing.T) {
	env := map[string]string{"FROM_ENV": "e", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		in   []string
		want map[string]*string
		err  string
	}{
		{nil, map[string]*string{}, ""},
		{[]string{"A=1", "B=", "C=x=y"}, map[string]*string{"A": str("1"), "B": str(""), "C": str("x=y")}, ""},
		{[]string{"FROM_ENV", "EMPTY", "UNSET"}, map[string]*string{"FROM_ENV": str("e"), "EMPTY": str(""), "UNSET": nil}, ""},
		{[]string{"A=1", "A=2"}, map[string]*string{"A": str("2")}, ""},
		{[]string{"=x"}, nil, `invalid argument "=x" for "--build-arg" flag: invalid environment variable: =x`},
		{[]string{""}, nil, "invalid environment variable"},
		{[]string{"A B=1"}, nil, "contains whitespaces"},
	} {
		got, err := parseBuildArgs(tc.in, lookup)
		if tc.err != "" {
			require.Error(t, err, "%q", tc.in)
			assert.Contains(t, err.Error(), tc.err)
			assert.Nil(t, got)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		assert.Equal(t, tc.want, got, "%q", tc.in)
	}
}

func FuzzParseBuildArgs(f *testing.F) {
	for _, s := range []string{"A=1", "A", "=x", "A B=1", "A==", ""} {
		f.Add(s, "B=2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := parseBuildArgs([]string{a, b}, func(string) (string, bool) { return "", false })
		if err != nil {
			assert.Nil(t, got)
			return
		}
		for k := range got {
			assert.NotEmpty(t, k)
			assert.NotContains(t, k, "=")
		}
	})
}

func TestParseLabels(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want map[string]string
		err  string
	}{
		{[]string{"a=1", "b", "c=x=y", "  d=4"}, map[string]string{"a": "1", "b": "", "c": "x=y", "d": "4"}, ""},
		{[]string{"=1"}, nil, "invalid label '=1': empty name"},
		{[]string{"a b=1"}, nil, "label 'a b' contains whitespaces"},
		{[]string{""}, nil, "empty name"},
	} {
		got, err := parseLabels(tc.in)
		if tc.err != "" {
			require.Error(t, err, "%q", tc.in)
			assert.Contains(t, err.Error(), tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{"a=1", "a", "=1", "a b", " x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseLabels([]string{s})
		if err != nil {
			return
		}
		require.Len(t, got, 1)
		for k := range got {
			assert.NotEmpty(t, k)
			assert.False(t, strings.ContainsAny(k, " \t\n\r\v\f"))
		}
	})
}

func TestParseTags(t *testing.T) {
	got, err := parseTags([]string{"app", "app:latest", "docker.io/library/app:latest", "app:1.0", "127.0.0.1:5000/x/app:v2"})
	require.NoError(t, err)
	assert.Equal(t, []string{"app", "app:1.0", "127.0.0.1:5000/x/app:v2"}, got, "the same name once")
	for _, bad := range []string{"App", "app@sha256:" + strings.Repeat("a", 64), "app:", "", "a b", "app:-x"} {
		_, err := parseTags([]string{bad})
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), `for "-t, --tag" flag`, bad)
	}
}

func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"app", "app:1", "host:5000/a/b:c", "A", "a@b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTags([]string{s})
		if err != nil {
			assert.Nil(t, got)
			return
		}
		require.Len(t, got, 1)
		_, perr := images.ParseReference(got[0])
		assert.NoError(t, perr)
		assert.NotContains(t, got[0], "@")
	})
}

func TestLoginServer(t *testing.T) {
	for _, tc := range []struct{ in, host, key, err string }{
		{"", "registry-1.docker.io", "https://index.docker.io/v1/", ""},
		{"docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", ""},
		{"https://index.docker.io/v1/", "registry-1.docker.io", "https://index.docker.io/v1/", ""},
		{"registry-1.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/", ""},
		{"127.0.0.1:5000", "127.0.0.1:5000", "127.0.0.1:5000", ""},
		{"https://Reg.example:443/v2/", "reg.example:443", "reg.example:443", ""},
		{"http://localhost:5000", "localhost:5000", "localhost:5000", ""},
		{"https://", "", "", "invalid registry address"},
		{"a b", "", "", "invalid registry address"},
		{"user@host", "", "", "invalid registry address"},
	} {
		host, key, err := loginServer(tc.in)
		if tc.err != "" {
			require.Error(t, err, tc.in)
			assert.Contains(t, err.Error(), tc.err)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.host, host, tc.in)
		assert.Equal(t, tc.key, key, tc.in)
	}
}

func FuzzLoginServer(f *testing.F) {
	for _, s := range []string{"", "docker.io", "https://h:1/x", "a b", "http://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, key, err := loginServer(s)
		if err != nil {
			return
		}
		assert.NotEmpty(t, host)
		assert.NotEmpty(t, key)
		assert.NotContains(t, host, "/")
	})
}

func TestLoginFlags(t *testing.T) {
	for _, tc := range []struct {
		f    loginFlags
		warn bool
		err  string
	}{
		{loginFlags{user: "u", password: "p", passwordSet: true}, true, ""},
		{loginFlags{user: "u", passwordStdin: true}, false, ""},
		{loginFlags{user: "u"}, false, ""},
		{loginFlags{passwordStdin: true}, false, "Must provide --username with --password-stdin"},
		{loginFlags{user: "u", passwordStdin: true, passwordSet: true}, false, "--password and --password-stdin are mutually exclusive"},
	} {
		warn, err := tc.f.check()
		if tc.err != "" {
			require.EqualError(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.warn, warn)
	}
	assert.Equal(t, "secret", readPasswordStdin("secret\n"))
	assert.Equal(t, "secret", readPasswordStdin("secret\r\n"))
	assert.Equal(t, "se cret ", readPasswordStdin("se cret "))
}

func FuzzLoginFlags(f *testing.F) {
	f.Add("u", "p", true, false)
	f.Fuzz(func(t *testing.T, user, pass string, set, stdin bool) {
		fl := loginFlags{user: user, password: pass, passwordSet: set, passwordStdin: stdin}
		warn, err := fl.check()
		if err == nil {
			assert.Equal(t, set, warn)
			assert.False(t, set && stdin)
		}
		assert.True(t, utf8.ValidString(readPasswordStdin(pass)) || !utf8.ValidString(pass))
	})
}

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct{ in, os, arch, variant string }{
		{"linux/amd64", "linux", "amd64", ""},
		{"linux/arm64", "linux", "arm64", "v8"},
		{"linux/arm/v7", "linux", "arm", "v7"},
		{"Linux/AMD64", "linux", "amd64", ""},
	} {
		p, err := parsePlatform(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.os, p.OS)
		assert.Equal(t, tc.arch, p.Architecture)
		assert.Equal(t, tc.variant, p.Variant)
	}
	for _, bad := range []string{"", "linux", "linux/", "/amd64", "a/b/c/d", "linux/a md64"} {
		_, err := parsePlatform(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "unknown operating system or architecture")
	}
}

func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "linux/arm/v7", "x", "//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePlatform(s)
		if err == nil {
			assert.NotEmpty(t, p.OS)
			assert.NotEmpty(t, p.Architecture)
		}
	})
}

func TestBuildOptions(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644))
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	none := func(string) (string, bool) { return "", false }
	stdin := strings.NewReader("")

	f := buildFlags{tags: []string{"a", "b:1"}, buildArgs: []string{"X=1"}, labels: []string{"l=v"}, target: "t", noCache: true, quiet: true, pull: true, network: "none"}
	o, err := f.options(dir, stdin, none)
	require.NoError(t, err)
	assert.Equal(t, dir, o.ContextDir)
	assert.Equal(t, []string{"a", "b:1"}, o.Tags)
	assert.Equal(t, "1", *o.BuildArgs["X"])
	assert.Equal(t, map[string]string{"l": "v"}, o.Labels)
	assert.True(t, o.NoCache && o.Quiet && o.Pull)
	assert.Equal(t, "t", o.Target)
	assert.Equal(t, "none", o.Network)
	assert.Nil(t, o.Stdin)

	o, err = (&buildFlags{}).options("-", stdin, none)
	require.NoError(t, err)
	assert.Equal(t, "-", o.ContextDir)
	assert.NotNil(t, o.Stdin)

	o, err = (&buildFlags{file: "-"}).options(dir, stdin, none)
	require.NoError(t, err)
	assert.Equal(t, "-", o.Dockerfile)
	assert.NotNil(t, o.Stdin, "-f - reads the Dockerfile from stdin")

	o, err = (&buildFlags{file: filepath.Join(dir, "Dockerfile")}).options(dir, stdin, none)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "Dockerfile"), o.Dockerfile)

	for _, tc := range []struct {
		f   buildFlags
		arg string
		err string
	}{
		{buildFlags{}, filepath.Join(dir, "nope"), `unable to prepare context: path "` + filepath.Join(dir, "nope") + `" not found`},
		{buildFlags{}, file, "unable to prepare context: context must be a directory"},
		{buildFlags{file: "-"}, "-", "can't use stdin for both build context and dockerfile"},
		{buildFlags{}, "https://example.com/x.git", "remote contexts"},
		{buildFlags{tags: []string{"Bad"}}, dir, `invalid argument "Bad" for "-t, --tag" flag`},
		{buildFlags{buildArgs: []string{"=1"}}, dir, "invalid environment variable"},
		{buildFlags{labels: []string{"=1"}}, dir, "empty name"},
		{buildFlags{network: "container:x"}, dir, "not supported by the builder"},
		{buildFlags{file: filepath.Join(dir, "Nope")}, dir, "unable to prepare context: unable to evaluate symlinks in Dockerfile path"},
	} {
		_, err := tc.f.options(tc.arg, stdin, none)
		require.Error(t, err, "%+v %s", tc.f, tc.arg)
		assert.Contains(t, err.Error(), tc.err)
	}
}

func FuzzBuildOptions(f *testing.F) {
	dir := f.TempDir()
	f.Add("app:1", "A=1", "l=v", "default")
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, tag, arg, label, network string) {
		fl := buildFlags{tags: []string{tag}, buildArgs: []string{arg}, labels: []string{label}, network: network}
		o, err := fl.options(dir, nil, func(string) (string, bool) { return "", false })
		if err == nil {
			assert.Equal(t, dir, o.ContextDir)
			assert.Len(t, o.Tags, 1)
		}
	})
}

// images' table, with --digests, as Docker prints it.
func TestPrintImages(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	id := digest.Digest("sha256:" + strings.Repeat("ab", 32))
	list := []images.Summary{
		{ID: id, RepoTags: []string{"busybox:latest", "127.0.0.1:5000/bb:v1"}, RepoDigests: []string{"127.0.0.1:5000/bb@sha256:" + strings.Repeat("cd", 32)},
			Created: now.Add(-2 * time.Hour), Size: 1_240_000},
		{ID: digest.Digest("sha256:" + strings.Repeat("ef", 32)), Created: now.Add(-3 * time.Hour), Size: 0},
	}
	var b bytes.Buffer
	require.NoError(t, printImages(&b, list, false, true, true, "", now))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$`, lines[0])
	assert.Regexp(t, `^busybox\s+latest\s+<none>\s+abababababab\s+2 hours ago\s+1.24MB$`, lines[1])
	assert.Regexp(t, `^127.0.0.1:5000/bb\s+v1\s+sha256:(cd){32}\s+abababababab\s+2 hours ago\s+1.24MB$`, lines[2])
	assert.Regexp(t, `^<none>\s+<none>\s+<none>\s+efefefefefef\s+3 hours ago\s+0B$`, lines[3])

	b.Reset()
	require.NoError(t, printImages(&b, list, true, false, false, "", now))
	assert.Equal(t, id.String()+"\nsha256:"+strings.Repeat("ef", 32)+"\n", b.String(), "-q --no-trunc: one line per image")

	b.Reset()
	require.NoError(t, printImages(&b, list[:1], false, false, true, "{{.Repository}}:{{.Tag}} {{.ID}}", now))
	assert.Equal(t, "busybox:latest abababababab\n127.0.0.1:5000/bb:v1 abababababab\n", b.String())

	b.Reset()
	err := printImages(&b, list, false, false, true, "{{.Nope", now)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "template parsing error")
}

func TestParseTemplate(t *testing.T) {
	for _, tc := range []struct {
		in, header string
		table      bool
		err        string
	}{
		{"table {{.Repository}}\\t{{.ID}}", "REPOSITORY\tIMAGE ID", true, ""},
		{"{{.Repository}}:{{.Tag}}", "REPOSITORY:TAG", false, ""},
		{"table {{.CreatedSince}} {{.Other}}", "CREATED OTHER", true, ""},
		{"{{.Repository", "", false, "template parsing error"},
		{"{{nofunc .X}}", "", false, "template parsing error"},
	} {
		_, table, header, err := parseTemplate(tc.in, imageHeaders)
		if tc.err != "" {
			require.Error(t, err, tc.in)
			assert.Contains(t, err.Error(), tc.err)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.table, table, tc.in)
		assert.Equal(t, tc.header, header, tc.in)
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"table {{.ID}}", "{{.Repository}}:{{.Tag}}", "{{", "{{json .}}", `{{.ID}}\t\n`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, _, _, err := parseTemplate(s, imageHeaders)
		if err != nil {
			return
		}
		// A template that parses runs on a row or fails with an error.
		var b bytes.Buffer
		_ = tmpl.Execute(&b, imageRow{Repository: "r", Tag: "t", ID: "i"})
	})
}

// history's table: newest first as given, CREATED BY cut at 45 with "…"
// (its spaces kept), -H=false gives bytes and RFC 3339 dates.
func TestPrintHistory(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lines := []image.HistoryLine{
		{ID: "sha256:" + strings.Repeat("ab", 32), Created: now.Add(-time.Minute), CreatedBy: `/bin/sh -c #(nop)  CMD ["cat" "/greeting" "/file.txt"]`, Size: 0},
		{ID: "<missing>", Created: now.Add(-time.Hour), CreatedBy: "/bin/sh -c echo\tx", Size: 1500, Comment: "c"},
	}
	var b bytes.Buffer
	require.NoError(t, printHistory(&b, lines, false, true, true, "", now))
	out := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, out, 3)
	assert.Regexp(t, `^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$`, out[0])
	assert.Contains(t, out[1], `abababababab   About a minute ago   /bin/sh -c #(nop)  CMD ["cat" "/greeting" "/…   0B`)
	assert.Regexp(t, `^<missing>\s+About an hour ago\s+/bin/sh -c echo x\s+1.5kB\s+c$`, out[2])
	b.Reset()
	require.NoError(t, printHistory(&b, lines, false, false, false, "{{.ID}} {{.Size}} {{.CreatedSince}}", now))
	assert.Equal(t, "sha256:"+strings.Repeat("ab", 32)+" 0 2026-01-02T03:03:05Z\n<missing> 1500 2026-01-02T02:04:05Z\n", b.String())
	b.Reset()
	require.NoError(t, printHistory(&b, lines, true, true, true, "", now))
	assert.Equal(t, "abababababab\n<missing>\n", b.String())
}
