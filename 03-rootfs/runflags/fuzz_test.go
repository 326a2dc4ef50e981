package runflags

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fuzz targets check what must hold for any input: no panic, and what
// a parser accepts is well-formed for the kernel and the spec.

func FuzzParseEnv(f *testing.F) {
	for _, s := range []string{"A=1", "FROM_HOST", "=x", "A", "A=\x00", "a b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kv, ok, err := ParseEnv(s, fakeEnv)
		if err != nil || !ok {
			return
		}
		key, _, has := strings.Cut(kv, "=")
		require.True(t, has, "%q has no '='", kv)
		require.NotEmpty(t, key)
		require.NotContains(t, kv, "\x00")
	})
}

func FuzzParseEnvFileLine(f *testing.F) {
	for _, s := range []string{"A=1", "  # c", "", "FROM_HOST", "=x", "A B=1", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kv, ok, err := ParseEnvFileLine(s, fakeEnv)
		if err != nil || !ok {
			return
		}
		key, _, has := strings.Cut(kv, "=")
		require.True(t, has)
		require.NotEmpty(t, key)
		require.False(t, strings.ContainsAny(key, " \t\n\r\v\f"), "key %q", key)
		require.True(t, utf8.ValidString(kv))
		require.NotContains(t, kv, "\x00")
	})
}

func FuzzParseUser(f *testing.F) {
	for _, s := range []string{"root", "1000:1000", "a:b:c", ":", "4294967295", "x y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, g, err := ParseUser(s)
		if err != nil {
			return
		}
		require.NotEmpty(t, u)
		require.NotContains(t, u, ":")
		require.NotContains(t, g, ":")
		if g == "" {
			assert.Equal(t, u, s)
		} else {
			assert.Equal(t, u+":"+g, s)
		}
	})
}

func FuzzNormalizeCapability(f *testing.F) {
	for _, s := range []string{"net_admin", "CAP_CHOWN", "all", "", "cap_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := NormalizeCapability(s)
		if err != nil {
			return
		}
		require.True(t, c == All || knownCaps[c], "%q -> %q", s, c)
		again, err := NormalizeCapability(c)
		require.NoError(t, err)
		assert.Equal(t, c, again, "normalizing twice changes nothing")
	})
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/a:/b", "/a:/b:ro", "/a:/b:ro,rslave,z", "a:/b", "/a", "/a:/", "/a:/b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseVolume(s)
		if err != nil {
			return
		}
		require.True(t, filepath.IsAbs(m.Source))
		require.True(t, filepath.IsAbs(m.Destination))
		require.NotEqual(t, "/", m.Destination)
		require.Equal(t, "bind", m.Type)
		require.Equal(t, "rbind", m.Options[0])
		require.Contains(t, []string{"ro", "rw"}, m.Options[1])
		require.NotContains(t, m.Source+m.Destination, "\x00")
	})
}

func FuzzParseTmpfs(f *testing.F) {
	for _, s := range []string{"/tmp", "/run:size=1m,mode=1777", "/x:exec", "tmp", "/:ro", "/a:b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseTmpfs(s)
		if err != nil {
			return
		}
		require.True(t, filepath.IsAbs(m.Destination))
		require.NotEqual(t, "/", m.Destination)
		for _, o := range m.Options {
			require.NotEmpty(t, o)
			require.NotContains(t, o, ",")
		}
	})
}

func FuzzParseUlimit(f *testing.F) {
	for _, s := range []string{"nofile=1:2", "nproc=-1", "core=0", "x=1", "nofile=2:1", "stack=1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rl, err := ParseUlimit(s)
		if err != nil {
			return
		}
		require.True(t, strings.HasPrefix(rl.Type, "RLIMIT_"))
		require.LessOrEqual(t, rl.Soft, rl.Hard)
		_, known := rlimitResource[rl.Type]
		require.True(t, known, rl.Type)
	})
}

func FuzzParseSecurityOpt(f *testing.F) {
	for _, s := range []string{"no-new-privileges", "no-new-privileges=false", "seccomp=unconfined", "seccomp:/p.json", "label=x", "=", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sec Security
		if err := ParseSecurityOpt(s, &sec); err != nil {
			return
		}
		require.NotContains(t, sec.Seccomp, "\x00")
		require.Contains(t, []string{"", "unconfined"}, sec.SystemPaths)
	})
}
