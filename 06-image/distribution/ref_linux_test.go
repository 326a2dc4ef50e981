package distribution

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/images"
)

func TestParseNamed(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in, wire, full, familiar string
		defaultTag               bool
		err                      string
	}{
		{in: "busybox", wire: "latest", full: "docker.io/library/busybox:latest", familiar: "busybox:latest", defaultTag: true},
		{in: "busybox:1.36", wire: "1.36", full: "docker.io/library/busybox:1.36", familiar: "busybox:1.36"},
		{in: "localhost:5000/app", wire: "latest", full: "localhost:5000/app:latest", familiar: "localhost:5000/app:latest", defaultTag: true},
		{in: "localhost:5000/app:v2", wire: "v2", full: "localhost:5000/app:v2", familiar: "localhost:5000/app:v2"},
		{in: "u/app@" + d, wire: d, full: "docker.io/u/app@" + d, familiar: "u/app@" + d},
		{in: "app@sha256:12", err: "invalid reference format"},
		{in: "App", err: "must be lowercase"},
		{in: "", err: "invalid reference format"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			n, err := parseNamed(tc.in)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wire, n.wire())
			assert.Equal(t, tc.full, n.full())
			assert.Equal(t, tc.familiar, n.familiar())
			assert.Equal(t, tc.defaultTag, n.defaultTag)
		})
	}
}

// FuzzParseNamed: never panics, and a name:tag that parses names itself
// again in its full form.
func FuzzParseNamed(f *testing.F) {
	for _, s := range []string{"busybox", "localhost:5000/a/b:v1", "u/app@sha256:" + strings.Repeat("0", 64), "a@b@c", ":x", "a:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseNamed(s)
		if err != nil {
			return
		}
		if n.digest != "" {
			if n.digest.Validate() != nil {
				t.Fatalf("%q: digest %q does not validate", s, n.digest)
			}
			return
		}
		r, err := images.ParseReference(n.full())
		if err != nil || r != n.ref {
			t.Fatalf("%q: full %q parses to %+v, %v; want %+v", s, n.full(), r, err, n.ref)
		}
	})
}
