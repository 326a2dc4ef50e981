package runflags

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fakeEnv(key string) (string, bool) {
	switch key {
	case "FROM_HOST":
		return "host value", true
	case "EMPTY":
		return "", true
	}
	return "", false
}

func TestParseEnv(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
		err      string
	}{
		{in: "A=1", want: "A=1", ok: true},
		{in: "A=", want: "A=", ok: true},
		{in: "A=b=c", want: "A=b=c", ok: true},
		{in: "A= spaced ", want: "A= spaced ", ok: true},
		{in: "FROM_HOST", want: "FROM_HOST=host value", ok: true},
		{in: "EMPTY", want: "EMPTY=", ok: true},
		{in: "NOT_ON_HOST", ok: false},
		{in: "=1", err: "no name"},
		{in: "", err: "no name"},
		{in: "A=\x00", err: "NUL"},
		{in: "A B", err: "whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok, err := ParseEnv(tt.in, fakeEnv)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseEnvFile(t *testing.T) {
	file := "# a comment\n\n  A=1\nB=\"quoted\"\nC=trailing  \nFROM_HOST\nNOT_ON_HOST\n\t# indented comment\nD==x\n"
	got, err := ParseEnvFile("test.env", strings.NewReader(file), fakeEnv)
	require.NoError(t, err)
	assert.Equal(t, []string{"A=1", `B="quoted"`, "C=trailing  ", "FROM_HOST=host value", "D==x"}, got)

	for name, bad := range map[string]string{
		"no variable name": "A=1\n=2\n",
		"whitespace":       "MY VAR=1\n",
		"UTF-8":            "A=\xff\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseEnvFile("bad.env", strings.NewReader(bad), fakeEnv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "bad.env, line")
			assert.Contains(t, err.Error(), name)
		})
	}
}

func TestMergeEnv(t *testing.T) {
	got := MergeEnv([]string{"PATH=/bin", "HOSTNAME=h"}, "A=1", "PATH=/x", "A=2", "AB=3")
	assert.Equal(t, []string{"PATH=/x", "HOSTNAME=h", "A=2", "AB=3"}, got)
}

func TestParseUser(t *testing.T) {
	tests := []struct {
		in, user, group, err string
	}{
		{in: "root", user: "root"},
		{in: "1000", user: "1000"},
		{in: "1000:1000", user: "1000", group: "1000"},
		{in: "www-data:adm", user: "www-data", group: "adm"},
		{in: "0:0", user: "0", group: "0"},
		{in: "4294967294", user: "4294967294"},
		{in: "", err: "no user"},
		{in: ":1", err: "no user"},
		{in: "1:", err: "no group"},
		{in: "a:b:c", err: "more than one"},
		{in: "a b", err: "whitespace"},
		{in: "4294967295", err: "out of range"},
		{in: "1:99999999999", err: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, g, err := ParseUser(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.user, u)
			assert.Equal(t, tt.group, g)
		})
	}
}

func TestNormalizeCapability(t *testing.T) {
	for in, want := range map[string]string{
		"NET_ADMIN": "CAP_NET_ADMIN", "net_admin": "CAP_NET_ADMIN", "CAP_NET_ADMIN": "CAP_NET_ADMIN",
		"cap_sys_admin": "CAP_SYS_ADMIN", "Chown": "CAP_CHOWN", "all": "ALL", "ALL": "ALL",
	} {
		got, err := NormalizeCapability(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "CAP_", "NET_ADMINS", "CAP_ALL", "sudo"} {
		_, err := NormalizeCapability(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "unknown capability")
	}
}

func TestTweakCapabilities(t *testing.T) {
	base := []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"}
	all := []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"}
	tests := []struct {
		name      string
		add, drop []string
		want      []string
		err       string
	}{
		{name: "nothing", want: base},
		{name: "drop one", drop: []string{"net_raw"}, want: []string{"CAP_CHOWN", "CAP_KILL"}},
		{name: "add one", add: []string{"NET_ADMIN"}, want: []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL", "CAP_NET_ADMIN"}},
		{name: "add twice", add: []string{"NET_ADMIN", "cap_net_admin", "CHOWN"}, want: []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL", "CAP_NET_ADMIN"}},
		{name: "add all", add: []string{"all"}, drop: []string{"SYS_ADMIN"}, want: []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL", "CAP_NET_ADMIN"}},
		{name: "drop all", drop: []string{"ALL"}, add: []string{"KILL"}, want: []string{"CAP_KILL"}},
		{name: "drop all only", drop: []string{"ALL"}, want: []string{}},
		{name: "unknown", add: []string{"FLY"}, err: `unknown capability: "FLY"`},
		{name: "unknown drop", drop: []string{"x"}, err: "unknown capability"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TweakCapabilities(base, all, tt.add, tt.drop)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in   string
		want specs.Mount
		err  string
	}{
		{in: "/srv:/data", want: specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "rw", "rprivate"}}},
		{in: "/srv/:/data/:ro", want: specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro", "rprivate"}}},
		{in: "/srv:/data:ro,rslave,z", want: specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro", "rslave"}}},
		{in: "/srv:/data:rw", want: specs.Mount{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "rw", "rprivate"}}},
		{in: "/data", err: "anonymous volumes"},
		{in: "name:/data", err: "not an absolute host path"},
		{in: "./rel:/data", err: "not an absolute host path"},
		{in: ":/data", err: "host path is empty"},
		{in: "/srv:", err: "container path is empty"},
		{in: "/srv:data", err: "must be absolute"},
		{in: "/srv:/", err: "cannot be '/'"},
		{in: "/srv:/data:ro:x", err: "too many"},
		{in: "/srv:/data:rx", err: `unknown mode "rx"`},
		{in: "/srv:/data:ro,rw", err: "more than one of ro and rw"},
		{in: "/srv:/data:shared,slave", err: "more than one propagation"},
		{in: "/srv:/data:nocopy", err: "nocopy"},
		{in: "/srv:/data:", err: `unknown mode ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Contains(t, err.Error(), "invalid volume specification")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "/tmp", want: []string{"noexec", "nosuid", "nodev"}},
		{in: "/run:size=64m,mode=1777", want: []string{"noexec", "nosuid", "nodev", "size=64m", "mode=1777"}},
		{in: "/run:exec,uid=1000", want: []string{"noexec", "nosuid", "nodev", "exec", "uid=1000"}},
		{in: "/run:tmpcopyup", err: "unknown option"},
		{in: "/run:tmpcopyup=1", want: []string{"noexec", "nosuid", "nodev"}},
		{in: "tmp", err: "absolute"},
		{in: "", err: "no directory"},
		{in: "/", err: "cannot be '/'"},
		{in: "/tmp:", err: "no options"},
		{in: "/tmp:size=", err: "unknown option"},
		{in: "/tmp:bogus", err: `unknown option "bogus"`},
		{in: "/tmp:size=1m,,ro", err: `unknown option ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTmpfs(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "tmpfs", got.Type)
			assert.Equal(t, tt.want, got.Options)
		})
	}
}

func TestParseUlimit(t *testing.T) {
	tests := []struct {
		in   string
		want specs.POSIXRlimit
		err  string
	}{
		{in: "nofile=512:1024", want: specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}},
		{in: "nproc=100", want: specs.POSIXRlimit{Type: "RLIMIT_NPROC", Soft: 100, Hard: 100}},
		{in: "core=0", want: specs.POSIXRlimit{Type: "RLIMIT_CORE"}},
		{in: "core=-1", want: specs.POSIXRlimit{Type: "RLIMIT_CORE", Soft: Unlimited, Hard: Unlimited}},
		{in: "stack=8192:-1", want: specs.POSIXRlimit{Type: "RLIMIT_STACK", Soft: 8192, Hard: Unlimited}},
		{in: "nofile", err: "NAME=SOFT[:HARD]"},
		{in: "files=1", err: `unknown name "files"`},
		{in: "NOFILE=1", err: "unknown name"},
		{in: "nofile=", err: "is not a limit"},
		{in: "nofile=a", err: "is not a limit"},
		{in: "nofile=-2", err: "is not a limit"},
		{in: "nofile=1:2:3", err: "at most two"},
		{in: "nofile=2048:1024", err: "soft limit 2048 is above the hard limit 1024"},
		{in: "nofile=-1:1024", err: "soft limit unlimited"},
		{in: "nofile=18446744073709551615", err: "is not a limit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseUlimit(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseSecurityOpt(t *testing.T) {
	tests := []struct {
		in   []string
		want Security
		err  string
	}{
		{in: []string{"no-new-privileges"}, want: Security{NoNewPrivileges: true}},
		{in: []string{"no-new-privileges=true"}, want: Security{NoNewPrivileges: true}},
		{in: []string{"no-new-privileges:true"}, want: Security{NoNewPrivileges: true}},
		{in: []string{"no-new-privileges", "no-new-privileges=false"}, want: Security{}},
		{in: []string{"seccomp=unconfined"}, want: Security{Seccomp: "unconfined"}},
		{in: []string{"seccomp=/etc/profile.json"}, want: Security{Seccomp: "/etc/profile.json"}},
		{in: []string{"seccomp:./p.json"}, want: Security{Seccomp: "./p.json"}},
		{in: []string{"systempaths=unconfined"}, want: Security{SystemPaths: "unconfined"}},
		{in: []string{"no-new-privileges=maybe"}, err: "true or false"},
		{in: []string{"seccomp="}, err: "seccomp takes"},
		{in: []string{"systempaths=x"}, err: "only unconfined"},
		{in: []string{"apparmor=unconfined"}, err: "not supported"},
		{in: []string{"label=disable"}, err: "not supported"},
		{in: []string{"bogus"}, err: "invalid --security-opt"},
		{in: []string{"bogus=1"}, err: `unknown option "bogus"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			var sec Security
			var err error
			for _, s := range tt.in {
				if err = ParseSecurityOpt(s, &sec); err != nil {
					break
				}
			}
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, sec)
		})
	}
}
