package build

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr(s string) *string { return &s }

func TestParseBuildArgs(t *testing.T) {
	env := map[string]string{"FROM_ENV": "env-value", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name  string
		flags []string
		want  map[string]*string
		err   string
	}{
		{"none", nil, map[string]*string{}, ""},
		{"key=value", []string{"A=1"}, map[string]*string{"A": ptr("1")}, ""},
		{"an empty value", []string{"A="}, map[string]*string{"A": ptr("")}, ""},
		{"= inside the value", []string{"A=b=c"}, map[string]*string{"A": ptr("b=c")}, ""},
		{"a key alone takes the environment's value", []string{"FROM_ENV"}, map[string]*string{"FROM_ENV": ptr("env-value")}, ""},
		{"an empty environment value", []string{"EMPTY"}, map[string]*string{"EMPTY": ptr("")}, ""},
		{"a key not in the environment has no value", []string{"NOPE"}, map[string]*string{"NOPE": nil}, ""},
		{"the last flag wins", []string{"A=1", "A=2"}, map[string]*string{"A": ptr("2")}, ""},
		{"spaces in the value", []string{"A=a b"}, map[string]*string{"A": ptr("a b")}, ""},
		{"an empty key", []string{"=x"}, nil, `invalid argument "=x" for "--build-arg" flag: the key is empty`},
		{"nothing at all", []string{""}, nil, "the key is empty"},
		{"a space in the key", []string{"A B=1"}, nil, "white space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBuildArgs(tt.flags, lookup)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	got, err := ParseBuildArgs([]string{"FROM_ENV"}, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]*string{"FROM_ENV": nil}, got, "no lookup: no value")
}

func TestParseLabels(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  map[string]string
		err   string
	}{
		{"key=value", []string{"a=b"}, map[string]string{"a": "b"}, ""},
		{"a key alone is empty", []string{"a"}, map[string]string{"a": ""}, ""},
		{"dotted keys and = in the value", []string{"org.x.y=1=2"}, map[string]string{"org.x.y": "1=2"}, ""},
		{"the last wins", []string{"a=1", "a=2"}, map[string]string{"a": "2"}, ""},
		{"an empty key", []string{"=b"}, nil, `invalid argument "=b" for "--label" flag`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLabels(tt.flags)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestExposedPorts(t *testing.T) {
	got, err := exposedPorts([]string{"80", "53/UDP", "7-9/tcp", "132/sctp"})
	require.NoError(t, err)
	assert.Equal(t, []string{"80/tcp", "53/udp", "7/tcp", "8/tcp", "9/tcp", "132/sctp"}, got)
	for _, bad := range []string{"x", "80/icmp", "9-7", "70000", ""} {
		_, err := exposedPorts([]string{bad})
		assert.Error(t, err, bad)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 512: "512B", 2048: "2.048kB", 1500000: "1.5MB", 999: "999B", 1000: "1kB"} {
		assert.Equal(t, want, humanSize(n), n)
	}
}

// FuzzParseBuildArgs: never panics; every key it returns was a flag's
// text before the first "=", and its value the rest.
func FuzzParseBuildArgs(f *testing.F) {
	for _, s := range []string{"A=1", "A", "=x", "A=b=c", "", "A B=1", "\x00=1", "HTTP_PROXY=http://x"} {
		f.Add(s, "B=2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := ParseBuildArgs([]string{a, b}, func(string) (string, bool) { return "env", true })
		if err != nil {
			return
		}
		for k, v := range got {
			require.NotEmpty(t, k)
			require.NotContains(t, k, "=")
			require.NotNil(t, v, "the lookup always has a value")
			if !strings.HasPrefix(a, k+"=") && !strings.HasPrefix(b, k+"=") {
				require.Equal(t, "env", *v)
			}
		}
	})
}

// FuzzParseLabels: never panics; a label's key has no "=" and key=value
// gives back one of the flags.
func FuzzParseLabels(f *testing.F) {
	for _, s := range []string{"a=b", "a", "=b", "a=b=c", "", "a\tb=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseLabels([]string{s})
		if err != nil {
			return
		}
		require.Len(t, got, 1)
		for k, v := range got {
			require.NotContains(t, k, "=")
			if strings.Contains(s, "=") {
				require.Equal(t, s, k+"="+v)
			} else {
				require.Equal(t, s, k)
			}
		}
	})
}
