package oci

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestCheckVersion(t *testing.T) {
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"1.0.0", true}, {"1.0.2-dev", true}, {"1.1.0", true}, {"1.2.0-rc.1", true}, {"1.3.0", true},
		{"", false}, {"0.9.0", false}, {"1.4.0", false}, {"2.0.0", false}, {"1.0", false}, {"invalid", false}, {"1.0.0 ", false},
	} {
		err := CheckVersion(tc.v)
		assert.Equal(t, tc.ok, err == nil, "%q: %v", tc.v, err)
	}
}

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"web", true}, {"a.b_c-d+e", true}, {"0e5a8c2f-uuid", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"../x", false}, {"a b", false}, {strings.Repeat("x", 1025), false},
	} {
		err := CheckID(tc.id)
		assert.Equal(t, tc.ok, err == nil, "%q: %v", tc.id, err)
	}
}

func TestParseConfig(t *testing.T) {
	good := `{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}}`
	spec, err := ParseConfig([]byte(good))
	require.NoError(t, err)
	assert.Equal(t, "rootfs", spec.Root.Path)
	assert.NotNil(t, spec.Linux, "an empty linux section is filled in")

	for _, tc := range []struct{ name, json, want string }{
		{"syntax", "{\n\"ociVersion\": \"1.0.0\",\n\"root\": {\n}},\n", "line 4"},
		{"version", `{"ociVersion":"9.9.9","root":{"path":"r"},"process":{"args":["sh"]}}`, "not supported"},
		{"no root", `{"ociVersion":"1.0.0","process":{"args":["sh"]}}`, "root.path"},
		{"no process", `{"ociVersion":"1.0.0","root":{"path":"r"}}`, "process is missing"},
		{"no args", `{"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":[]}}`, "process.args"},
		{"relative cwd", `{"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["sh"],"cwd":"tmp"}}`, "absolute"},
		{"wrong type", `{"ociVersion":1}`, "cannot unmarshal"},
	} {
		_, err := ParseConfig([]byte(tc.json))
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
	}{
		{"KILL", unix.SIGKILL}, {"SIGKILL", unix.SIGKILL}, {"kill", unix.SIGKILL}, {"9", unix.SIGKILL},
		{"TERM", unix.SIGTERM}, {"hup", unix.SIGHUP}, {"SIGUSR1", unix.SIGUSR1}, {"64", unix.Signal(64)},
	} {
		got, err := ParseSignal(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"", "0", "-9", "65", "NOPE", "SIG", "9x"} {
		_, err := ParseSignal(bad)
		assert.Error(t, err, bad)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}}`))
	f.Add([]byte("{\n\"ociVersion\": \"1.0.0\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseConfig(data)
		if err == nil {
			require.NotNil(t, spec.Root)
			require.NotEmpty(t, spec.Process.Args)
			require.NotNil(t, spec.Linux)
		}
	})
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"KILL", "9", "sigterm", "0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err == nil {
			require.True(t, sig >= 1 && sig <= 64, "%q gave %d", s, sig)
		}
	})
}

func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"web", "..", "a/b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if CheckID(id) == nil {
			require.NotContains(t, id, "/")
			require.NotEqual(t, "..", id)
			require.NotEqual(t, ".", id)
		}
	})
}
