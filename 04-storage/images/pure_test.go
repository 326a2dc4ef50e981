package images

import (
	"strings"
	"testing"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReference(t *testing.T) {
	tests := []struct{ in, full, familiar, err string }{
		{in: "busybox", full: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "busybox:1.36", full: "docker.io/library/busybox:1.36", familiar: "busybox:1.36"},
		{in: "library/busybox", full: "docker.io/library/busybox:latest", familiar: "busybox:latest"},
		{in: "docker.io/library/busybox:x", full: "docker.io/library/busybox:x", familiar: "busybox:x"},
		{in: "index.docker.io/u/app", full: "docker.io/u/app:latest", familiar: "u/app:latest"},
		{in: "u/app:v1.0-rc_2", full: "docker.io/u/app:v1.0-rc_2", familiar: "u/app:v1.0-rc_2"},
		{in: "localhost/app", full: "localhost/app:latest", familiar: "localhost/app:latest"},
		{in: "localhost:5000/a/b:t", full: "localhost:5000/a/b:t", familiar: "localhost:5000/a/b:t"},
		{in: "reg.example.com/x__y/a-b.c", full: "reg.example.com/x__y/a-b.c:latest", familiar: "reg.example.com/x__y/a-b.c:latest"},
		{in: "a--b", full: "docker.io/library/a--b:latest", familiar: "a--b:latest"},
		{in: "Busybox", err: "must be lowercase"},
		{in: "", err: "invalid reference format"},
		{in: "busybox:", err: "invalid reference format"},
		{in: "busybox:-x", err: "invalid reference format"},
		{in: "-busybox", err: "invalid reference format"},
		{in: "a//b", err: "invalid reference format"},
		{in: "a/b/", err: "invalid reference format"},
		{in: "a..b", err: "invalid reference format"},
		{in: "a@sha256:00", err: "invalid reference format"},
		{in: "reg:x/a", err: "invalid reference format"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseReference(tt.in)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.full, r.String())
			assert.Equal(t, tt.familiar, r.FamiliarString())
		})
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "a/b:c", "localhost:5000/x", "X", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		again, err := ParseReference(r.String())
		require.NoError(t, err, r.String())
		require.Equal(t, r, again, "the full form is a fixed point")
		again, err = ParseReference(r.FamiliarString())
		require.NoError(t, err)
		require.Equal(t, r, again, "so is the familiar one")
	})
}

func TestApplyChanges(t *testing.T) {
	cfg := imagespec.ImageConfig{Env: []string{"PATH=/bin", "A=old"}, Cmd: []string{"sh"}, WorkingDir: "/srv"}
	require.NoError(t, ApplyChanges(&cfg, []string{
		`CMD ["echo", "hi there"]`,
		`ENV A=new B="two words" C=x\ y`,
		`env D 4 and more`,
		`WORKDIR app`,
		`USER 1000:1000`,
		`VOLUME ["/data", "/logs"]`,
		`VOLUME /cache`,
		`EXPOSE 80 53/udp`,
		`LABEL maintainer="me <me@x>" version=1`,
		`STOPSIGNAL SIGINT`,
	}))
	assert.Equal(t, []string{"echo", "hi there"}, cfg.Cmd)
	assert.Equal(t, []string{"PATH=/bin", "A=new", "B=two words", "C=x y", "D=4 and more"}, cfg.Env)
	assert.Equal(t, "/srv/app", cfg.WorkingDir)
	assert.Equal(t, "1000:1000", cfg.User)
	assert.Equal(t, map[string]struct{}{"/data": {}, "/logs": {}, "/cache": {}}, cfg.Volumes)
	assert.Equal(t, map[string]struct{}{"80/tcp": {}, "53/udp": {}}, cfg.ExposedPorts)
	assert.Equal(t, map[string]string{"maintainer": "me <me@x>", "version": "1"}, cfg.Labels)
	assert.Equal(t, "SIGINT", cfg.StopSignal)

	require.NoError(t, ApplyChanges(&cfg, []string{"ENTRYPOINT top -b"}))
	assert.Equal(t, []string{"/bin/sh", "-c", "top -b"}, cfg.Entrypoint)
	assert.Nil(t, cfg.Cmd, "ENTRYPOINT resets CMD")
	require.NoError(t, ApplyChanges(&cfg, []string{`CMD echo "a b"`}))
	assert.Equal(t, []string{"/bin/sh", "-c", `echo "a b"`}, cfg.Cmd)

	for in, want := range map[string]string{
		"RUN echo":         "RUN is not a valid change command",
		"FROM x":           "FROM is not a valid change command",
		"CMD":              "CMD requires at least one argument",
		`ENV A="x`:         "unmatched quote",
		"ENV A":            "without a value",
		"LABEL x":          "want KEY=VALUE",
		"EXPOSE 99999":     "invalid port",
		"EXPOSE 80/ip":     "invalid port",
		`VOLUME ["/a", 1]`: "JSON list",
		"":                 "empty change",
	} {
		t.Run(in, func(t *testing.T) {
			before := cfg
			assert.ErrorContains(t, applyChange(&cfg, in), want)
			assert.Equal(t, before.Cmd, cfg.Cmd)
		})
	}
}

func TestFilter(t *testing.T) {
	tagged := Summary{RepoTags: []string{"busybox:latest", "localhost:5000/team/app:v1"}, Labels: map[string]string{"team": "blue", "empty": ""}}
	dangling := Summary{}
	tests := []struct {
		args         []string
		tagged, dang bool
		err          string
	}{
		{args: nil, tagged: true, dang: true},
		{args: []string{"dangling=true"}, dang: true},
		{args: []string{"dangling=false"}, tagged: true},
		{args: []string{"reference=busybox"}, tagged: true},
		{args: []string{"reference=busy*"}, tagged: true},
		{args: []string{"reference=busybox:latest"}, tagged: true},
		{args: []string{"reference=busybox:1.36"}},
		{args: []string{"reference=localhost:5000/team/*"}, tagged: true},
		{args: []string{"reference=localhost:5000/*"}}, // * stops at a slash, as Docker's
		{args: []string{"reference=*:v1"}},
		{args: []string{"reference=*/*/app:v1"}, tagged: true},
		{args: []string{"reference=nope", "reference=busybox"}, tagged: true},
		{args: []string{"label=team"}, tagged: true},
		{args: []string{"label=team=blue"}, tagged: true},
		{args: []string{"label=team=red"}},
		{args: []string{"label=empty="}, tagged: true},
		{args: []string{"label=team", "label=other"}},
		{args: []string{"dangling=maybe"}, err: "invalid filter 'dangling=maybe'"},
		{args: []string{"reference=[a"}, err: "invalid filter 'reference=[a'"},
		{args: []string{"colour=red"}, err: "invalid filter 'colour'"},
		{args: []string{"dangling"}, err: "bad format of filter"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, ","), func(t *testing.T) {
			f, err := ParseFilter(tt.args)
			if tt.err != "" {
				assert.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.tagged, f.Match(tagged), "tagged")
			assert.Equal(t, tt.dang, f.Match(dangling), "dangling")
		})
	}
}
