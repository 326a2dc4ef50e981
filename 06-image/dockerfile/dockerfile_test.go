package dockerfile

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse(strings.NewReader(src))
	require.NoError(t, err, "parse:\n%s", src)
	return f
}

func str(s string) *string { return &s }

// step parses "FROM x" + line and returns the one step.
func step(t *testing.T, line string) Step {
	t.Helper()
	f := parse(t, "FROM busybox\n"+line+"\n")
	require.Len(t, f.Stages, 1)
	require.Len(t, f.Stages[0].Steps, 1, "%q", line)
	return f.Stages[0].Steps[0]
}

func TestParseInstructions(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Step // Original and Line are checked separately
	}{
		{"run shell", `RUN echo "$HOME" && ls`, Step{Kind: "RUN", Args: []string{`echo "$HOME" && ls`}}},
		{"run exec", `RUN ["/bin/echo", "a b", "$HOME"]`, Step{Kind: "RUN", Args: []string{"/bin/echo", "a b", "$HOME"}, JSON: true}},
		{"run lower case", `run true`, Step{Kind: "RUN", Args: []string{"true"}}},
		{"cmd shell", `CMD exec_cmd p1_cmd`, Step{Kind: "CMD", Args: []string{"exec_cmd p1_cmd"}}},
		{"cmd exec", `CMD ["exec_cmd", "p1_cmd"]`, Step{Kind: "CMD", Args: []string{"exec_cmd", "p1_cmd"}, JSON: true}},
		{"cmd empty array", `CMD []`, Step{Kind: "CMD", Args: []string{}, JSON: true}},
		{"cmd bad json is shell", `CMD [not json`, Step{Kind: "CMD", Args: []string{"[not json"}}},
		{"entrypoint exec", `ENTRYPOINT ["/bin/cool-soft"]`, Step{Kind: "ENTRYPOINT", Args: []string{"/bin/cool-soft"}, JSON: true}},
		{"entrypoint shell", `ENTRYPOINT exec top -b`, Step{Kind: "ENTRYPOINT", Args: []string{"exec top -b"}}},
		{"shell", `SHELL ["/bin/bash", "-o", "pipefail", "-c"]`, Step{Kind: "SHELL", Args: []string{"/bin/bash", "-o", "pipefail", "-c"}, JSON: true}},
		{"env new syntax", `ENV myvar=true other="a b" c=d\ e`, Step{Kind: "ENV", Args: []string{"myvar=true", `other="a b"`, `c=d\ e`}}},
		{"env old syntax", `ENV myvar true and more`, Step{Kind: "ENV", Args: []string{"myvar=true and more"}}},
		{"env empty value", `ENV a=`, Step{Kind: "ENV", Args: []string{"a="}}},
		{"label", `LABEL version="1.0" "com.example.vendor"="ACME Inc" description=x`, Step{Kind: "LABEL", Args: []string{`version="1.0"`, `"com.example.vendor"="ACME Inc"`, "description=x"}}},
		{"label old syntax", `LABEL maintainer someone`, Step{Kind: "LABEL", Args: []string{"maintainer=someone"}}},
		{"arg with default", `ARG A=1`, Step{Kind: "ARG", Args: []string{"A=1"}}},
		{"arg names", `ARG A B=2 C=`, Step{Kind: "ARG", Args: []string{"A", "B=2", "C="}}},
		{"copy", `COPY a b /dst/`, Step{Kind: "COPY", Args: []string{"a", "b", "/dst/"}}},
		{"copy json", `COPY ["a b", "/dst dir/"]`, Step{Kind: "COPY", Args: []string{"a b", "/dst dir/"}, JSON: true}},
		{"copy flags", `COPY --from=build --chown=1000:1000 --chmod=0755 /out/app /app`, Step{Kind: "COPY", Args: []string{"/out/app", "/app"}, Flags: map[string]string{"from": "build", "chown": "1000:1000", "chmod": "0755"}}},
		{"add", `ADD http://127.0.0.1:8080/soft.tar.gz /bin/`, Step{Kind: "ADD", Args: []string{"http://127.0.0.1:8080/soft.tar.gz", "/bin/"}}},
		{"add chown", `ADD --chown=app x.tar.xz /opt`, Step{Kind: "ADD", Args: []string{"x.tar.xz", "/opt"}, Flags: map[string]string{"chown": "app"}}},
		{"workdir", `WORKDIR /a/b c`, Step{Kind: "WORKDIR", Args: []string{"/a/b c"}}},
		{"user", `USER app:app`, Step{Kind: "USER", Args: []string{"app:app"}}},
		{"expose, sorted as Docker does", `EXPOSE 80/tcp 53/udp 8080 $PORT`, Step{Kind: "EXPOSE", Args: []string{"$PORT", "53/udp", "80/tcp", "8080"}}},
		{"volume list", `VOLUME /data /logs`, Step{Kind: "VOLUME", Args: []string{"/data", "/logs"}}},
		{"volume json", `VOLUME ["/data"]`, Step{Kind: "VOLUME", Args: []string{"/data"}, JSON: true}},
		{"stopsignal", `STOPSIGNAL SIGTERM`, Step{Kind: "STOPSIGNAL", Args: []string{"SIGTERM"}}},
		{"maintainer", `MAINTAINER A. Person <a@example.org>`, Step{Kind: "MAINTAINER", Args: []string{"A. Person <a@example.org>"}}},
		{"healthcheck none", `HEALTHCHECK NONE`, Step{Kind: "HEALTHCHECK", Args: []string{"NONE"}, Health: &Health{Test: []string{"NONE"}}}},
		{"healthcheck shell", `HEALTHCHECK --interval=5m --timeout=3s --start-period=1s --retries=3 CMD curl -f http://localhost/ || exit 1`,
			Step{Kind: "HEALTHCHECK", Args: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"},
				Flags:  map[string]string{"interval": "5m", "timeout": "3s", "start-period": "1s", "retries": "3"},
				Health: &Health{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}, Interval: 5 * time.Minute, Timeout: 3 * time.Second, StartPeriod: time.Second, Retries: 3}}},
		{"healthcheck exec", `HEALTHCHECK CMD ["/bin/check", "-q"]`, Step{Kind: "HEALTHCHECK", Args: []string{"CMD", "/bin/check", "-q"}, JSON: true,
			Health: &Health{Test: []string{"CMD", "/bin/check", "-q"}}}},
		{"continuation", "RUN echo a \\\n  && echo b", Step{Kind: "RUN", Args: []string{"echo a   && echo b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := step(t, tc.line)
			assert.Equal(t, 2, got.Line)
			assert.NotEmpty(t, got.Original)
			got.Original, got.Line = "", 0
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseOnbuild(t *testing.T) {
	s := step(t, `ONBUILD COPY --chown=1:1 . /app/src`)
	assert.Equal(t, "ONBUILD", s.Kind)
	assert.Equal(t, []string{"COPY --chown=1:1 . /app/src"}, s.Args, "the trigger as the config stores it")
	require.NotNil(t, s.Inner)
	assert.Equal(t, "COPY", s.Inner.Kind)
	assert.Equal(t, []string{".", "/app/src"}, s.Inner.Args)
	assert.Equal(t, map[string]string{"chown": "1:1"}, s.Inner.Flags)
	assert.Equal(t, 2, s.Inner.Line)

	s = step(t, `onbuild RUN ["echo", "hi"]`)
	assert.Equal(t, []string{`RUN ["echo", "hi"]`}, s.Args)
	require.NotNil(t, s.Inner)
	assert.Equal(t, Step{Kind: "RUN", Args: []string{"echo", "hi"}, JSON: true, Original: `RUN ["echo", "hi"]`, Line: 2}, *s.Inner)
}

func TestParseStages(t *testing.T) {
	f := parse(t, `# syntax comment
ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS Build
RUN make

FROM --platform=linux/amd64 scratch
COPY --from=build /out /
from build as again
`)
	require.Len(t, f.MetaArgs, 2)
	assert.Equal(t, Arg{Key: "BASE", Value: str("busybox")}, f.MetaArgs[0])
	assert.Equal(t, Arg{Key: "TAG"}, f.MetaArgs[1])
	assert.Equal(t, '\\', f.Escape)
	require.Len(t, f.Stages, 3)
	assert.Equal(t, "build", f.Stages[0].Name, "stage names are lower-cased")
	assert.Equal(t, "${BASE}:${TAG:-latest}", f.Stages[0].BaseName, "left for the meta ARGs to expand")
	assert.Equal(t, 4, f.Stages[0].Line)
	assert.Equal(t, "FROM ${BASE}:${TAG:-latest} AS Build", f.Stages[0].Original)
	assert.Len(t, f.Stages[0].Steps, 1)
	assert.Equal(t, "linux/amd64", f.Stages[1].Platform)
	assert.Equal(t, "scratch", f.Stages[1].BaseName)
	assert.Equal(t, "", f.Stages[1].Name)
	assert.Equal(t, "build", f.Stages[2].BaseName)
	assert.Equal(t, "again", f.Stages[2].Name)
	assert.Empty(t, f.Stages[2].Steps)
}

func TestParseEscapeDirectiveAndHeredoc(t *testing.T) {
	f := parse(t, "# escape=`\nFROM busybox\nRUN echo a `\n  b\nCOPY <<EOF /greeting\nhello\nEOF\n")
	assert.Equal(t, '`', f.Escape)
	steps := f.Stages[0].Steps
	require.Len(t, steps, 2)
	assert.Equal(t, []string{"echo a   b"}, steps[0].Args)
	assert.Equal(t, []string{"<<EOF", "/greeting"}, steps[1].Args)
	assert.Equal(t, []string{"hello\n"}, steps[1].Heredoc)
}

func TestParseWarnings(t *testing.T) {
	f := parse(t, "FROM busybox\nRUN echo a \\\n\n  b\n")
	require.Len(t, f.Warnings, 1)
	assert.Contains(t, f.Warnings[0], "Empty continuation line")
}

func TestPairs(t *testing.T) {
	assert.Equal(t, []Arg{{Key: "A"}, {Key: "B", Value: str("x=y")}, {Key: "C", Value: str("")}},
		Step{Kind: "ARG", Args: []string{"A", "B=x=y", "C="}}.Pairs())
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown instruction", "FROM busybox\nFOO bar\n", "dockerfile parse error on line 2: unknown instruction: FOO"},
		{"unknown lower case", "FROM busybox\n\n\nfoo bar\n", "dockerfile parse error on line 4: unknown instruction: FOO"},
		{"run before from", "RUN true\nFROM busybox\n", "dockerfile parse error on line 1: no build stage in current context"},
		{"env before from", "ARG A\nENV B=1\nFROM busybox\n", "dockerfile parse error on line 2: no build stage in current context"},
		{"only args", "ARG A=1\n", "dockerfile contains no stages to build"},
		{"empty", "# nothing\n", "file with no instructions"},
		{"from three", "FROM a b\n", "dockerfile parse error on line 1: FROM requires either one or three arguments"},
		{"from bad name", "FROM a AS 1x\n", `dockerfile parse error on line 1: invalid name for build stage: "1x", name can't start with a number or contain symbols`},
		{"copy one arg", "FROM a\nCOPY x\n", "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"},
		{"add no arg", "FROM a\nADD\n", "dockerfile parse error on line 2: ADD requires at least two arguments"},
		{"copy unknown flag", "FROM a\nCOPY --link x y\n", "dockerfile parse error on line 2: unknown flag: --link"},
		{"add from", "FROM a\nADD --from=x y z\n", "dockerfile parse error on line 2: unknown flag: --from"},
		{"run mount", "FROM a\nRUN --mount=type=cache,target=/x true\n", "dockerfile parse error on line 2: unknown flag: --mount"},
		{"flag without value", "FROM a\nCOPY --from x y\n", "dockerfile parse error on line 2: missing a value on flag: --from"},
		{"duplicate flag", "FROM a\nCOPY --chown=1 --chown=2 x y\n", "dockerfile parse error on line 2: duplicate flag specified: --chown"},
		{"env no value", "FROM a\nENV X\n", "dockerfile parse error on line 2: ENV must have two arguments"},
		{"env blank", "FROM a\nENV =x\n", "dockerfile parse error on line 2: ENV names can not be blank"},
		{"env no equals", "FROM a\nENV a=1 b\n", `dockerfile parse error on line 2: Syntax error - can't find = in "b". Must be of the form: name=value`},
		{"arg blank", "FROM a\nARG =1\n", "dockerfile parse error on line 2: ARG names can not be blank"},
		{"arg none", "FROM a\nARG\n", "dockerfile parse error on line 2: ARG requires at least one argument"},
		{"workdir none", "FROM a\nWORKDIR\n", "dockerfile parse error on line 2: WORKDIR requires exactly one argument"},
		{"user none", "FROM a\nUSER\n", "dockerfile parse error on line 2: USER requires exactly one argument"},
		{"expose none", "FROM a\nEXPOSE\n", "dockerfile parse error on line 2: EXPOSE requires at least one argument"},
		{"volume empty", "FROM a\nVOLUME [\"\"]\n", "dockerfile parse error on line 2: VOLUME specified can not be an empty string"},
		{"shell not json", "FROM a\nSHELL /bin/bash -c\n", "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"},
		{"json not strings", "FROM a\nCMD [1, 2]\n", "dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only"},
		{"healthcheck none args", "FROM a\nHEALTHCHECK NONE x\n", "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments"},
		{"healthcheck type", "FROM a\nHEALTHCHECK RUN x\n", `dockerfile parse error on line 2: Unknown type "RUN" in HEALTHCHECK (try CMD)`},
		{"healthcheck no cmd", "FROM a\nHEALTHCHECK CMD\n", "dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD"},
		{"healthcheck interval", "FROM a\nHEALTHCHECK --interval=1us CMD x\n", `dockerfile parse error on line 2: Interval "interval" cannot be less than 1ms`},
		{"healthcheck retries", "FROM a\nHEALTHCHECK --retries=-1 CMD x\n", "dockerfile parse error on line 2: --retries cannot be negative (-1)"},
		{"healthcheck duration", "FROM a\nHEALTHCHECK --timeout=soon CMD x\n", `dockerfile parse error on line 2: time: invalid duration "soon"`},
		{"onbuild onbuild", "FROM a\nONBUILD ONBUILD RUN x\n", "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"onbuild from", "FROM a\nONBUILD FROM b\n", "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"},
		{"onbuild maintainer", "FROM a\nONBUILD MAINTAINER me\n", "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger"},
		{"onbuild unknown", "FROM a\nONBUILD FOO\n", "dockerfile parse error on line 2: unknown instruction: FOO"},
		{"copy heredoc dest", "FROM a\nCOPY x <<EOF\nhi\nEOF\n", "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination"},
		{"unterminated heredoc", "FROM a\nRUN <<EOF\nhi\n", "dockerfile parse error on line 2: unterminated heredoc"},
		{"bad escape directive", "# escape=x\nFROM a\n", "dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The expansion cases of Docker's reference ("Environment replacement"),
// in our own strings.
func TestLex(t *testing.T) {
	env := []string{"FOO=/bar", "EMPTY=", "SPACED=a b  c", "NAME=minibox.tar.gz", "FOO=/baz"}
	for _, tc := range []struct{ in, want string }{
		{"$FOO", "/baz"}, // the later definition wins
		{"${FOO}", "/baz"},
		{"${FOO}/x", "/baz/x"},
		{"$FOO_x", ""}, // the name runs to the underscore and beyond
		{"${FOO}_x", "/baz_x"},
		{"${UNSET:-word}", "word"},
		{"${EMPTY:-word}", "word"},
		{"${EMPTY-word}", ""},
		{"${UNSET-word}", "word"},
		{"${FOO:-word}", "/baz"},
		{"${FOO:+word}", "word"},
		{"${EMPTY:+word}", ""},
		{"${EMPTY+word}", "word"},
		{"${UNSET:+word}", ""},
		{"${UNSET:-$FOO}", "/baz"},
		{`\$FOO`, "$FOO"},
		{`\${FOO}`, "${FOO}"},
		{`'$FOO'`, "$FOO"},
		{`"$FOO"`, "/baz"},
		{`"a  b"`, "a  b"},
		{`a\ b`, "a b"},
		{"${NAME%.gz}", "minibox.tar"},
		{"${NAME%%.*}", "minibox"},
		{"${NAME#*.}", "tar.gz"},
		{"$SPACED", "a b  c"},
		{"plain", "plain"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NewLex('\\').Word(tc.in, env)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	t.Run("backtick escape", func(t *testing.T) {
		got, err := NewLex('`').Word("`$FOO ${FOO}", env)
		require.NoError(t, err)
		assert.Equal(t, "$FOO /baz", got)
	})
	t.Run("unset is an error", func(t *testing.T) {
		_, err := NewLex('\\').Word("${UNSET:?must be set}", env)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "must be set")
		_, err = NewLex('\\').Word("${EMPTY?x}", env)
		require.NoError(t, err, "set but empty is fine without the colon")
	})
	t.Run("words", func(t *testing.T) {
		got, err := NewLex('\\').Words(`a $SPACED "$SPACED" 'x y'`, env)
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "a", "b", "c", "a b  c", "x y"}, got)
	})
	t.Run("using", func(t *testing.T) {
		got, used, err := NewLex('\\').WordUsing("$FOO-$UNSET-${EMPTY}", env)
		require.NoError(t, err)
		assert.Equal(t, "/baz--", got)
		assert.Equal(t, []string{"EMPTY", "FOO"}, used)
	})
}

func TestCommand(t *testing.T) {
	assert.Equal(t, []string{"/bin/sh", "-c", "echo $HOME"}, Command(nil, Step{Kind: "RUN", Args: []string{"echo $HOME"}}))
	assert.Equal(t, []string{"/bin/bash", "-o", "pipefail", "-c", "false | true"},
		Command([]string{"/bin/bash", "-o", "pipefail", "-c"}, Step{Kind: "RUN", Args: []string{"false | true"}}))
	assert.Equal(t, []string{"echo", "$HOME"}, Command([]string{"/bin/bash", "-c"}, Step{Kind: "RUN", Args: []string{"echo", "$HOME"}, JSON: true}))
	got := Command(nil, Step{Kind: "CMD", Args: []string{}, JSON: true})
	assert.NotNil(t, got)
	assert.Empty(t, got)
	s := Step{Kind: "CMD", Args: []string{"a"}, JSON: true}
	Command(nil, s)[0] = "changed"
	assert.Equal(t, "a", s.Args[0], "Command returns a copy")
	assert.Equal(t, []string{"/bin/sh", "-c"}, DefaultShell)
}

func TestPredefinedArgs(t *testing.T) {
	args := PredefinedArgs()
	for _, a := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"} {
		assert.Contains(t, args, a)
	}
}
