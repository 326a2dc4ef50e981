package loader

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileError is a compose-go error about one file, with the line it found
// the problem on where compose-go's own message lacks it.
type FileError struct {
	File string
	Line int    // 0: unknown
	Msg  string // what is wrong, compose-go's words
	Err  error  // compose-go's error

	schema bool // a schema error ("validating FILE: ..."), else a YAML one
}

func (e *FileError) Error() string {
	var b strings.Builder
	if e.schema {
		b.WriteString("validating ")
	}
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d", e.Line)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

// validating is compose-go's schema error: "validating FILE: PATH MESSAGE".
var validating = regexp.MustCompile(`^validating (.+?): ([^ ]*) (.+)$`)

// additional is the schema's word for a key it does not know.
var additional = regexp.MustCompile(`^additional properties '([^']+)' not allowed`)

// explain adds the file and line that compose-go's error leaves out:
//
//   - a YAML syntax error ("yaml: line 3: did not find expected key") names
//     the line but not the file: the loader finds the file that does not
//     parse;
//   - a schema error names the file and the key's path
//     (services.web.ports.0) but not the line: the loader finds the key in
//     the file. A key the schema does not know comes out of compose-go
//     v2.16.2 as "services.web.imagee false schema"; it is said as compose
//     says it elsewhere: "services.web additional properties 'imagee' not
//     allowed".
func explain(err error, files []string) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "yaml:") {
		for _, f := range files {
			b, rerr := os.ReadFile(f)
			if rerr != nil {
				continue
			}
			var top map[string]any
			if yaml.Unmarshal(b, &top) != nil {
				return &FileError{File: f, Msg: msg, Err: err}
			}
		}
		return err
	}
	m := validating.FindStringSubmatch(msg)
	if m == nil {
		return err
	}
	file, what := m[1], m[3]
	var path []string
	if m[2] != "" {
		path = strings.Split(m[2], ".")
	}
	switch {
	case what == "false schema" && len(path) > 0:
		what = strings.TrimSpace(fmt.Sprintf("%s additional properties '%s' not allowed",
			strings.Join(path[:len(path)-1], "."), path[len(path)-1]))
	case additional.MatchString(what):
		// the line of the unknown key, not of its parent
		path = append(path, additional.FindStringSubmatch(what)[1])
		what = strings.TrimSpace(m[2] + " " + what)
	default:
		what = strings.TrimSpace(m[2] + " " + what)
	}
	fe := &FileError{File: file, Msg: what, Err: err, schema: true}
	if b, rerr := os.ReadFile(file); rerr == nil {
		var n yaml.Node
		if yaml.Unmarshal(b, &n) == nil {
			fe.Line = lineOf(&n, path)
		}
	}
	return fe
}

// lineOf is the line of the deepest node of the YAML document that the
// path (mapping keys and sequence indexes) leads to, 0 if not even the
// first key is there.
func lineOf(n *yaml.Node, path []string) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range path {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}
