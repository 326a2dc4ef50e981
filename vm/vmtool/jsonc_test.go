package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseJSONC(t *testing.T) {
	ok := []struct {
		name string
		src  string
		want any
	}{
		{"plain", `{"a": 1}`, map[string]any{"a": 1.0}},
		{"line comment", "// top\n{\"a\": 1 // one\n}", map[string]any{"a": 1.0}},
		{"block comment", "{/* x, } */\"a\": /* y */ [1, 2]}", map[string]any{"a": []any{1.0, 2.0}}},
		{"trailing commas", "{\"a\": [1, 2,], \"b\": {\"c\": true,},\n}", map[string]any{"a": []any{1.0, 2.0}, "b": map[string]any{"c": true}}},
		{"trailing comma before a comment", "{\"a\": 1, // last\n}", map[string]any{"a": 1.0}},
		{"comment markers in strings", `{"url": "http://x//y", "s": "/* no */", "c": ",}"}`,
			map[string]any{"url": "http://x//y", "s": "/* no */", "c": ",}"}},
		{"escaped quote", `{"q": "a\"//b"}`, map[string]any{"q": `a"//b`}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseJSONC([]byte(tc.src))
			if err != nil {
				t.Fatalf("parseJSONC: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}

	bad := []struct {
		name, src, want string
	}{
		{"double comma", "{\n\"a\": 1,,\n\"b\": 2}", "line 2"},
		{"missing comma", "{\"a\": 1\n\"b\": 2}", "line 2"},
		{"single quotes", "{'a': 1}", "invalid character"},
		{"unterminated comment", "{\"a\": 1 /* oops", "unterminated /* comment"},
		{"unterminated string", "{\"a\": \"oops}", "string"},
		{"leading comma", "{, \"a\": 1}", "invalid character"},
		{"only a comma", "[,]", "invalid character"},
		{"comma after a colon", `{"a":,}`, "invalid character"},
		{"duplicate key", `{"a": {"b": 1, "b": 2}}`, "duplicate key $.a.b"},
		{"two values", `{} {}`, "invalid character"},
		{"empty", "// nothing", "JSON"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseJSONC([]byte(tc.src))
			if err == nil {
				t.Fatalf("parseJSONC(%q) succeeded; want an error", tc.src)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestStripJSONCKeepsOffsets(t *testing.T) {
	src := "{ // c\n\"a\": /* x\ny */ 1,\n}"
	out, err := stripJSONC([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(src) || strings.Count(string(out), "\n") != strings.Count(src, "\n") {
		t.Errorf("stripJSONC changed the length or the lines: %q", out)
	}
}

const goodDevcontainer = `// comment
{
  "name": "minibox",
  "build": {"dockerfile": "Dockerfile", "context": ".."},
  "privileged": true,
  "runArgs": ["--cgroupns=host"],
  "postCreateCommand": "sudo ./setup.sh deps",
  "customizations": {"vscode": {"extensions": ["golang.go",],},},
}
`

func writeDevcontainer(t *testing.T, json string, dockerfile bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".devcontainer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if dockerfile {
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM debian:bookworm\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "devcontainer.json")
	if err := os.WriteFile(file, []byte(json), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestCheckDevcontainer(t *testing.T) {
	if probs := checkDevcontainer(writeDevcontainer(t, goodDevcontainer, true)); len(probs) > 0 {
		t.Fatalf("a good configuration has problems: %v", probs)
	}
	tests := []struct {
		name, from, to string
		dockerfile     bool
		want           string
	}{
		{"no Dockerfile", "", "", false, `"build.dockerfile"`},
		{"not privileged", `"privileged": true`, `"privileged": false`, true, "privileged"},
		{"privileged through runArgs", `"privileged": true,`, ``, true, `--cgroupns=host`},
		{"no cgroupns", `["--cgroupns=host"]`, `[]`, true, "--cgroupns=host"},
		{"no setup", `sudo ./setup.sh deps`, `make`, true, "postCreateCommand"},
		{"no Go extension", `"golang.go",`, ``, true, "golang.go"},
		{"no name", `"name": "minibox",`, ``, true, `"name"`},
		{"bad context", `"context": ".."`, `"context": "nowhere"`, true, "build.context"},
		{"syntax", `"privileged": true,`, `"privileged": true,,`, true, "line 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			json := strings.Replace(goodDevcontainer, tc.from, tc.to, 1)
			if tc.name == "privileged through runArgs" {
				json = strings.Replace(json, `["--cgroupns=host"]`, `["--privileged"]`, 1)
			}
			probs := checkDevcontainer(writeDevcontainer(t, json, tc.dockerfile))
			if !strings.Contains(strings.Join(probs, "\n"), tc.want) {
				t.Errorf("problems %q do not mention %q", probs, tc.want)
			}
		})
	}
}

// The repository's own devcontainer.json passes the check that CI runs.
func TestRepositoryDevcontainer(t *testing.T) {
	file := filepath.Join("..", "..", ".devcontainer", "devcontainer.json")
	if _, err := os.Stat(file); err != nil {
		t.Skip("no .devcontainer in this checkout")
	}
	if probs := checkDevcontainer(file); len(probs) > 0 {
		t.Errorf("%s: %v", file, probs)
	}
}
