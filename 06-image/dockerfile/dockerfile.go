package dockerfile

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// File is a parsed Dockerfile: the ARGs before the first FROM, the stages in
// order, the escape character (the `# escape=` directive, '\\' by default)
// and the parser's warnings (empty continuation lines).
type File struct {
	MetaArgs []Arg
	Stages   []Stage
	Escape   rune
	Warnings []string
}

// Stage is one FROM and the instructions up to the next FROM. Name is the
// `AS name` (lower-cased, "" when none), BaseName the image or stage named
// after FROM and Platform the --platform flag, both as written: they may hold
// $VARs that only the meta ARGs (MetaArgs) expand. Original is the FROM line.
type Stage struct {
	Name, BaseName, Platform string
	Line                     int
	Steps                    []Step
	Original                 string
}

// Step is one instruction of a stage.
//
// Kind is the instruction in upper case (RUN, COPY, ...). Args depend on it;
// every word is as written (quotes and $VARs left for Lex to expand):
//
//   - RUN, CMD, ENTRYPOINT, SHELL: the exec form's array when JSON, else one
//     string, the shell form's text (Command turns both into an argv). CMD and
//     ENTRYPOINT may have none.
//   - COPY, ADD: the sources and, last, the destination (at least two).
//   - ENV, LABEL: "key=value" per pair (both syntaxes; Pairs splits them).
//   - ARG: "name" or "name=default" per word (Pairs splits them).
//   - EXPOSE: one word per port, sorted as strings (Docker's parser does).
//   - VOLUME: one word per path.
//   - WORKDIR, USER, STOPSIGNAL, MAINTAINER: exactly one, the text.
//   - HEALTHCHECK: the config's Test: ["NONE"], ["CMD", argv...] (exec form)
//     or ["CMD-SHELL", text]; Health holds it decoded with the options.
//   - ONBUILD: one, the trigger as the image config stores it ("RUN echo hi");
//     Inner is that trigger parsed.
//
// Flags holds the --name=value flags without the dashes (COPY: from, chown,
// chmod; ADD: chown, chmod; HEALTHCHECK: interval, timeout, start-period,
// start-interval, retries); any other flag is refused at parse time.
// Original is the instruction's line as written (continuations joined), Line
// its first line, Heredoc the bodies of its here-documents (`RUN <<EOF`).
type Step struct {
	Kind     string
	Args     []string
	JSON     bool
	Flags    map[string]string
	Original string
	Line     int
	Heredoc  []string

	Inner  *Step   // ONBUILD: the trigger
	Health *Health // HEALTHCHECK: decoded
}

// Arg is a declared build argument; Value is nil when it has no default. The
// value is as written: expand it with Lex.Word.
type Arg struct {
	Key   string
	Value *string
}

// Health is a HEALTHCHECK decoded (the fields of Docker's HealthcheckConfig,
// which lesson 07 runs). Zero durations and Retries mean "the default".
type Health struct {
	Test                                          []string
	Interval, Timeout, StartPeriod, StartInterval time.Duration
	Retries                                       int
}

// Pairs splits the Args of ENV, LABEL and ARG into keys and values. For ENV
// and LABEL every Value is set; for ARG a name without "=" has a nil Value.
func (s Step) Pairs() []Arg {
	out := make([]Arg, 0, len(s.Args))
	for _, a := range s.Args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			out = append(out, Arg{Key: k})
			continue
		}
		out = append(out, Arg{Key: k, Value: &v})
	}
	return out
}

// ParseError is what Parse returns for a bad Dockerfile: Docker's text,
// "dockerfile parse error on line N: ...".
type ParseError struct {
	Line int
	Err  error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("dockerfile parse error on line %d: %v", e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads a Dockerfile. buildkit's parser does the syntax (directives,
// continuation lines, comments, JSON arrays, heredocs); the meaning of each
// instruction (argument counts, flags, HEALTHCHECK options, stage names) is
// decoded here, with Docker's messages. Only ARG may come before the first
// FROM (those are MetaArgs); ONBUILD keeps its trigger parsed in Inner.
func Parse(r io.Reader) (*File, error) {
	res, err := parser.Parse(r)
	if err != nil {
		return nil, &ParseError{Line: errLine(err), Err: errors.New(errText(err))}
	}
	f := &File{Escape: res.EscapeToken}
	for _, w := range res.Warnings {
		f.Warnings = append(f.Warnings, w.Short)
	}
	for _, n := range res.AST.Children {
		kind := strings.ToUpper(n.Value)
		if kind == "FROM" {
			st, err := decodeFrom(n)
			if err != nil {
				return nil, &ParseError{Line: n.StartLine, Err: err}
			}
			f.Stages = append(f.Stages, st)
			continue
		}
		s, err := decode(n)
		if err != nil {
			return nil, &ParseError{Line: n.StartLine, Err: err}
		}
		if len(f.Stages) == 0 {
			if s.Kind != "ARG" {
				return nil, &ParseError{Line: n.StartLine, Err: errors.New("no build stage in current context")}
			}
			f.MetaArgs = append(f.MetaArgs, s.Pairs()...)
			continue
		}
		last := &f.Stages[len(f.Stages)-1]
		last.Steps = append(last.Steps, s)
	}
	if len(f.Stages) == 0 {
		return nil, errors.New("dockerfile contains no stages to build")
	}
	return f, nil
}

// errLine is the first line a buildkit parser error points at.
func errLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		if l := le.Locations[0][0].Start.Line; l > 0 {
			return l
		}
	}
	return 1
}

// errText is the parser's message without the location wrapper.
func errText(err error) string {
	var le *parser.LocationError
	if errors.As(err, &le) && le.Unwrap() != nil {
		return le.Unwrap().Error()
	}
	return err.Error()
}
