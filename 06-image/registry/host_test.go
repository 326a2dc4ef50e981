package registry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/images"
)

func TestHostOf(t *testing.T) {
	for _, tc := range []struct{ ref, host string }{
		{"busybox", HubHost},
		{"docker.io/library/busybox:1.36", HubHost},
		{"index.docker.io/u/app", HubHost},
		{"localhost:5000/app", "localhost:5000"},
		{"127.0.0.1:5000/a/b:v1", "127.0.0.1:5000"},
		{"registry.example.com/x", "registry.example.com"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			r, err := images.ParseReference(tc.ref)
			require.NoError(t, err)
			assert.Equal(t, tc.host, HostOf(r))
		})
	}
}

func TestAuthKey(t *testing.T) {
	for _, tc := range []struct{ server, key, login string }{
		{"", HubAuthKey, HubHost},
		{"docker.io", HubAuthKey, HubHost},
		{"index.docker.io", HubAuthKey, HubHost},
		{"registry-1.docker.io", HubAuthKey, HubHost},
		{"https://index.docker.io/v1/", HubAuthKey, HubHost},
		{"localhost:5000", "localhost:5000", "localhost:5000"},
		{"https://LocalHost:5000/v2/", "localhost:5000", "localhost:5000"},
		{"http://10.0.0.1:5000", "10.0.0.1:5000", "10.0.0.1:5000"},
		{"  reg.example.com ", "reg.example.com", "reg.example.com"},
	} {
		t.Run(tc.server, func(t *testing.T) {
			assert.Equal(t, tc.key, AuthKey(tc.server))
			assert.Equal(t, tc.login, LoginHost(tc.server))
		})
	}
}

func TestMayUseHTTP(t *testing.T) {
	insecure := []string{"reg.lan:5000", "10.0.0.0/8", "https://plain.example.com"}
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:5000", true},
		{"127.8.9.10", true},
		{"[::1]:5000", true},
		{"localhost:5000", true},
		{"localhost", true},
		{"reg.lan:5000", true},
		{"reg.lan:5001", false},
		{"10.1.2.3:5000", true},
		{"11.1.2.3:5000", false},
		{"192.168.1.1:5000", false}, // gcr would fall back to http here; Docker does not
		{"plain.example.com", true},
		{"registry-1.docker.io", false},
		{"localhost.example.com:5000", false},
	} {
		t.Run(tc.host, func(t *testing.T) { assert.Equal(t, tc.ok, mayUseHTTP(tc.host, insecure)) })
	}
}

func TestSplitRepo(t *testing.T) {
	for _, tc := range []struct{ repo, host, path, err string }{
		{"docker.io/library/busybox", HubHost, "library/busybox", ""},
		{"busybox", HubHost, "library/busybox", ""},
		{"127.0.0.1:5000/team/app", "127.0.0.1:5000", "team/app", ""},
		{"localhost:5000/app", "localhost:5000", "app", ""},
		{"app:v1", "", "", "has no tag"},
		{"app:latest", "", "", "has no tag"},
		{"App", "", "", "must be lowercase"},
		{"a@sha256:00", "", "", "invalid reference format"},
		{"", "", "", "invalid reference format"},
	} {
		t.Run(tc.repo, func(t *testing.T) {
			h, p, err := splitRepo(tc.repo)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.host, h)
			assert.Equal(t, tc.path, p)
		})
	}
}

// FuzzHostParsing: the host helpers never panic, AuthKey is a fixed point,
// and a repository that splits names a path with no host in it.
func FuzzHostParsing(f *testing.F) {
	for _, s := range []string{"", "docker.io", "https://index.docker.io/v1/", "localhost:5000/x", "[::1]:5000", "10.0.0.0/8", "a://b/c", "127.0.0.1:5000/team/app"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := AuthKey(s)
		if AuthKey(k) != k {
			t.Fatalf("AuthKey(%q) = %q, but AuthKey(%q) = %q", s, k, k, AuthKey(k))
		}
		_ = LoginHost(s)
		_ = mayUseHTTP(s, []string{s, "10.0.0.0/8"})
		if h, p, err := splitRepo(s); err == nil {
			if h == "" || p == "" || strings.HasPrefix(p, h+"/") {
				t.Fatalf("splitRepo(%q) = %q, %q", s, h, p)
			}
		}
	})
}
