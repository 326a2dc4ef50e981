package dockerfile

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var fuzzSeeds = []string{
	"FROM busybox\nRUN echo hi\n",
	"ARG BASE=busybox\nFROM ${BASE} AS b\nENV a=1 b=\"x y\"\nENV c d e\nLABEL k=v\nCOPY --from=b --chown=1:1 --chmod=755 a b /c/\n",
	"FROM a\nHEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1\nHEALTHCHECK NONE\n",
	"FROM a\nONBUILD RUN [\"echo\", \"x\"]\nONBUILD COPY . /src\nSHELL [\"/bin/bash\", \"-c\"]\n",
	"# escape=`\nFROM a\nRUN echo `\n  b\nWORKDIR c:\\x\n",
	"FROM a\nRUN <<EOF\necho hi\nEOF\nCOPY <<-X /f\n\tbody\nX\n",
	"FROM a\nEXPOSE 80 53/udp\nVOLUME [\"/d\"]\nUSER u\nSTOPSIGNAL 9\nMAINTAINER m\nCMD []\nENTRYPOINT x\n",
	"FROM a\nRUN a \\\n\n b\n",
	"FOO\n", "FROM\n", "FROM a AS\n", "FROM a\nCOPY --x\n",
}

// normalize drops what legitimately differs between a step in its file
// and the same step re-parsed alone: the line number.
func normalize(s Step) Step {
	s.Line = 0
	if s.Inner != nil {
		in := normalize(*s.Inner)
		s.Inner = &in
	}
	return s
}

func hasHeredoc(s Step) bool {
	return len(s.Heredoc) > 0 || (s.Inner != nil && hasHeredoc(*s.Inner))
}

// FuzzParse: Parse never panics, and every step it returns is its own
// Original: parsed again on its own it gives the same step.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Parse(strings.NewReader(src))
		if err != nil {
			require.NotNil(t, err.Error())
			return
		}
		require.NotEmpty(t, file.Stages)
		prefix := ""
		if file.Escape != '\\' {
			prefix = "# escape=" + string(file.Escape) + "\n"
		}
		for _, st := range file.Stages {
			again, err := Parse(strings.NewReader(prefix + st.Original + "\n"))
			require.NoError(t, err, "stage %q", st.Original)
			require.Len(t, again.Stages, 1)
			got := again.Stages[0]
			require.Equal(t, []string{st.Name, st.BaseName, st.Platform, st.Original}, []string{got.Name, got.BaseName, got.Platform, got.Original})
			for _, s := range st.Steps {
				if hasHeredoc(s) {
					continue
				}
				again, err := Parse(strings.NewReader(prefix + "FROM x\n" + s.Original + "\n"))
				require.NoError(t, err, "step %q", s.Original)
				require.Len(t, again.Stages, 1)
				require.Len(t, again.Stages[0].Steps, 1, "step %q", s.Original)
				require.Equal(t, normalize(s), normalize(again.Stages[0].Steps[0]))
			}
		}
	})
}

// FuzzLex: expansion never panics, and a word without $, quotes, escapes
// or spaces is itself.
func FuzzLex(f *testing.F) {
	for _, s := range []string{"$FOO", "${FOO:-x}", "${FOO:+x}", "${FOO-x}", "${FOO+x}", "${FOO:?x}", `\$FOO`, `'a $b'`, `"a $b"`, "${NAME%.gz}", "${NAME#*.}", "${X/a/b}", "plain", "`$x", "${"} {
		f.Add(s, byte('\\'))
	}
	f.Fuzz(func(t *testing.T, s string, esc byte) {
		escape := rune('\\')
		if esc%2 == 1 {
			escape = '`'
		}
		env := []string{"FOO=/bar", "EMPTY=", "NAME=a.tar.gz", "X=aaa"}
		w, err := NewLex(escape).Word(s, env)
		_, _ = NewLex(escape).Words(s, env)
		if !strings.ContainsAny(s, "$'\"\\` \t\n\r\v\f") && err == nil {
			require.Equal(t, strings.ToValidUTF8(s, "\uFFFD"), w)
		}
	})
}
