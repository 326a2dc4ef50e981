package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// devcontainer.json is JSON with comments ("JSONC", as VS Code reads it):
// // and /* */ comments and trailing commas are allowed, nothing else is.
// The devcontainer CLI's read-configuration is no validator (it reads a
// broken file without a word), so the check parses the file strictly here.

// stripJSONC returns src with comments and trailing commas blanked out, so
// that byte offsets (and line numbers in errors) stay the same. A comment
// or comma inside a string is left alone.
func stripJSONC(src []byte) ([]byte, error) {
	out := bytes.Clone(src)
	blank := func(i int) {
		if out[i] != '\n' && out[i] != '\r' {
			out[i] = ' '
		}
	}
	inString := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			case '\n':
				return nil, fmt.Errorf("line %d: newline inside a string", lineOf(src, i))
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				blank(i)
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			start := i
			end := bytes.Index(out[i+2:], []byte("*/"))
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", lineOf(src, start))
			}
			for stop := i + 2 + end + 2; i < stop; i++ {
				blank(i)
			}
			i--
		}
	}
	if inString {
		return nil, errors.New("unterminated string at the end of the file")
	}
	// Trailing commas: a comma outside strings whose next non-space byte
	// closes an object or an array (comments are blanks by now).
	// Only a comma that follows a value goes: "[,]" and ",," stay errors.
	inString = false
	var prev byte // the last byte outside white space
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
				prev = '"'
			}
			continue
		}
		if c == '"' {
			inString = true
			continue
		}
		if strings.IndexByte(" \t\r\n", c) >= 0 {
			continue
		}
		if c == ',' && prev != 0 && strings.IndexByte("[{,:", prev) < 0 {
			j := i + 1
			for j < len(out) && strings.IndexByte(" \t\r\n", out[j]) >= 0 {
				j++
			}
			if j < len(out) && (out[j] == '}' || out[j] == ']') {
				out[i] = ' '
				continue
			}
		}
		prev = c
	}
	return out, nil
}

func lineOf(src []byte, off int) int { return bytes.Count(src[:off], []byte("\n")) + 1 }

// parseJSONC parses JSONC strictly: one value, no duplicate keys in any
// object, nothing after it.
func parseJSONC(src []byte) (any, error) {
	clean, err := stripJSONC(src)
	if err != nil {
		return nil, err
	}
	if !json.Valid(clean) {
		var v any
		err := json.Unmarshal(clean, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("line %d: %v", lineOf(clean, int(min(se.Offset, int64(len(clean))))), se)
		}
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if err := noDuplicateKeys(json.NewDecoder(bytes.NewReader(clean))); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(clean, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// noDuplicateKeys walks the token stream: json.Unmarshal silently keeps
// the last of two equal keys, VS Code warns, and the first one is lost.
func noDuplicateKeys(d *json.Decoder) error {
	var walk func(path string) error
	walk = func(path string) error {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'):
			keys := map[string]bool{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if keys[key] {
					return fmt.Errorf("duplicate key %s.%s", path, key)
				}
				keys[key] = true
				if err := walk(path + "." + key); err != nil {
					return err
				}
			}
			_, err = d.Token()
			return err
		case json.Delim('['):
			for i := 0; d.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			_, err = d.Token()
			return err
		}
		return nil
	}
	if err := walk("$"); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("more than one JSON value in the file")
	}
	return nil
}

// lookup follows a dotted path ("build.dockerfile") through objects.
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func stringsAt(v any, path string) []string {
	x, _ := lookup(v, path)
	list, _ := x.([]any)
	var out []string
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkDevcontainer parses a devcontainer.json strictly and checks what the
// lab needs from it: a name, an image built from a Dockerfile that exists,
// a privileged container in the host's cgroup namespace, the setup script
// run after creation and the Go extension. It returns every problem found.
func checkDevcontainer(file string) []string {
	src, err := os.ReadFile(file)
	if err != nil {
		return []string{err.Error()}
	}
	v, err := parseJSONC(src)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	if _, ok := v.(map[string]any); !ok {
		return []string{file + ": the top level is not an object"}
	}
	var probs []string
	bad := func(format string, a ...any) { probs = append(probs, file+": "+fmt.Sprintf(format, a...)) }

	if s, _ := lookupString(v, "name"); s == "" {
		bad(`"name" is missing or empty`)
	}
	df, ok := lookupString(v, "build.dockerfile")
	if !ok || df == "" {
		bad(`"build.dockerfile" is missing`)
	} else if _, err := os.Stat(filepath.Join(filepath.Dir(file), df)); err != nil {
		bad(`"build.dockerfile": %v`, err)
	}
	if ctx, ok := lookupString(v, "build.context"); ok {
		if fi, err := os.Stat(filepath.Join(filepath.Dir(file), ctx)); err != nil || !fi.IsDir() {
			bad(`"build.context" %q is not a directory`, ctx)
		}
	}
	runArgs := stringsAt(v, "runArgs")
	priv, _ := lookup(v, "privileged")
	if priv != true && !slices.Contains(runArgs, "--privileged") {
		bad(`the container must be privileged ("privileged": true)`)
	}
	if !slices.Contains(runArgs, "--cgroupns=host") {
		bad(`"runArgs" must hold "--cgroupns=host"`)
	}
	if pc, ok := lookup(v, "postCreateCommand"); !ok || !strings.Contains(fmt.Sprint(pc), "setup.sh") {
		bad(`"postCreateCommand" must run setup.sh`)
	}
	if !slices.Contains(stringsAt(v, "customizations.vscode.extensions"), "golang.go") {
		bad(`"customizations.vscode.extensions" must hold "golang.go"`)
	}
	return probs
}

func lookupString(v any, path string) (string, bool) {
	x, ok := lookup(v, path)
	if !ok {
		return "", false
	}
	s, ok := x.(string)
	return s, ok
}
