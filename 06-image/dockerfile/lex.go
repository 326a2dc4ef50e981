package dockerfile

import (
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Lex expands variables and splits words as the Dockerfile's instructions
// do: $V, ${V}, ${V:-word}, ${V-word}, ${V:+word}, ${V+word}, ${V:?msg},
// ${V?msg}, the escape character and single and double quotes. It is
// BuildKit's shell lexer behind our types. A Lex is not safe for concurrent
// use (it keeps the scanner's state); make one per goroutine.
type Lex struct {
	l *shell.Lex
}

// NewLex returns a lexer for the file's escape character (File.Escape).
func NewLex(escape rune) *Lex {
	if escape == 0 {
		escape = '\\'
	}
	return &Lex{l: shell.NewLex(escape)}
}

// Word expands s as one word (spaces kept, quotes removed) with env, a list
// of KEY=VALUE (later entries win). An unset ${V:?msg} is an error.
//
// Bytes that are not UTF-8 become U+FFFD, as they do in Docker (whose
// scanner also complains on standard error; here the text is mended
// before it is scanned).
func (l *Lex) Word(s string, env []string) (string, error) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	w, _, err := l.l.ProcessWord(s, shell.EnvsFromSlice(env))
	return w, err
}

// Words expands s and splits it into words at unquoted white space, after
// the expansion (so a value with spaces gives several words, as in a shell).
func (l *Lex) Words(s string, env []string) ([]string, error) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return l.l.ProcessWords(s, shell.EnvsFromSlice(env))
}

// WordUsing is Word that also names the variables the word referred to and
// env had (the builder's "was this build arg used" question).
func (l *Lex) WordUsing(s string, env []string) (string, []string, error) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	r, err := l.l.ProcessWordWithMatches(s, shell.EnvsFromSlice(env))
	if err != nil {
		return "", nil, err
	}
	used := make([]string, 0, len(r.Matched))
	for k := range r.Matched {
		used = append(used, k)
	}
	sort.Strings(used)
	return r.Result, used, nil
}
