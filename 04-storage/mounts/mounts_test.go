package mounts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/04-storage/engine"
)

func TestParseVolume(t *testing.T) {
	cwd, err := os.Getwd()
	require.NoError(t, err)
	tests := []struct {
		in   string
		want engine.Mount
		err  string
	}{
		{in: "/data", want: engine.Mount{Type: "volume", Target: "/data"}},
		{in: "/data/", want: engine.Mount{Type: "volume", Target: "/data"}},
		{in: "data:/srv", want: engine.Mount{Type: "volume", Source: "data", Target: "/srv"}},
		{in: "my-vol.1:/srv:ro", want: engine.Mount{Type: "volume", Source: "my-vol.1", Target: "/srv", ReadOnly: true}},
		{in: "data:/srv:nocopy,rw", want: engine.Mount{Type: "volume", Source: "data", Target: "/srv", VolumeNoCopy: true}},
		{in: "data:/srv:z", want: engine.Mount{Type: "volume", Source: "data", Target: "/srv"}},
		{in: "/host:/ctr", want: engine.Mount{Type: "bind", Source: "/host", Target: "/ctr"}},
		{in: "/host/:/ctr:ro,rslave", want: engine.Mount{Type: "bind", Source: "/host", Target: "/ctr", ReadOnly: true, BindPropagation: "rslave"}},
		{in: "./rel:/ctr", want: engine.Mount{Type: "bind", Source: filepath.Join(cwd, "rel"), Target: "/ctr"}},
		{in: "../up:/ctr", want: engine.Mount{Type: "bind", Source: filepath.Join(filepath.Dir(cwd), "up"), Target: "/ctr"}},
		{in: "data", err: "must be absolute"},
		{in: "/data:ro", err: "an anonymous volume takes none"},
		{in: "a:/srv", err: "invalid characters for a local volume name"},
		{in: "bad name:/srv", err: "invalid characters"},
		{in: "_x:/srv", err: "invalid characters"},
		{in: ":/srv", err: "empty"},
		{in: "data:srv", err: "must be absolute"},
		{in: "data:/", err: "cannot be '/'"},
		{in: "data:/srv:ro:x", err: "too many"},
		{in: "data:/srv:rx", err: `unknown mode "rx"`},
		{in: "data:/srv:ro,rw", err: "more than one of ro and rw"},
		{in: "/h:/srv:nocopy", err: "nocopy is for volumes"},
		{in: "data:/srv:rshared", err: "propagation is for a host directory"},
		{in: "", err: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Contains(t, err.Error(), "invalid volume specification: '"+tt.in+"'")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseMount(t *testing.T) {
	tests := []struct {
		in   string
		want engine.Mount
		err  string
	}{
		{in: "type=bind,source=/h,target=/c", want: engine.Mount{Type: "bind", Source: "/h", Target: "/c", BindNoCreate: true}},
		{in: "type=bind,src=/h/,dst=/c/,readonly,bind-propagation=rshared", want: engine.Mount{Type: "bind", Source: "/h", Target: "/c", ReadOnly: true, BindNoCreate: true, BindPropagation: "rshared"}},
		{in: "src=data,destination=/d", want: engine.Mount{Type: "volume", Source: "data", Target: "/d"}},
		{in: "type=volume,dst=/d,ro=true,volume-nocopy", want: engine.Mount{Type: "volume", Target: "/d", ReadOnly: true, VolumeNoCopy: true}},
		{in: "type=volume,dst=/d,readonly=false,volume-nocopy=0", want: engine.Mount{Type: "volume", Target: "/d"}},
		{in: "type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770", want: engine.Mount{Type: "tmpfs", Target: "/t", TmpfsSize: 64 << 20, TmpfsMode: 0o1770}},
		{in: `"type=bind","src=/a,b",dst=/c`, want: engine.Mount{Type: "bind", Source: "/a,b", Target: "/c", BindNoCreate: true}},
		{in: "type=volume,dst=/d,x=y", err: "unexpected key 'x' in 'x=y'"},
		{in: "type=nfs,dst=/d", err: "invalid mount type"},
		{in: "type=bind,dst=/d", err: "source is required"},
		{in: "type=bind,src=rel,dst=/d", err: "must be absolute"},
		{in: "type=volume,src=/abs,dst=/d", err: "invalid characters"},
		{in: "type=volume", err: "target is required"},
		{in: "type=volume,dst=d", err: "must be absolute"},
		{in: "type=volume,dst=/", err: "destination can't be '/'"},
		{in: "type=volume,dst=/d,readonly=maybe", err: "invalid value for readonly"},
		{in: "type=volume,dst=/d,tmpfs-size=1m", err: "cannot mix 'tmpfs-*'"},
		{in: "type=bind,src=/h,dst=/d,volume-nocopy", err: "cannot mix 'volume-*'"},
		{in: "type=volume,dst=/d,bind-propagation=shared", err: "cannot mix 'bind-*'"},
		{in: "type=bind,src=/h,dst=/d,bind-propagation=sideways", err: "invalid bind propagation"},
		{in: "type=tmpfs,dst=/t,tmpfs-size=lots", err: "invalid value for tmpfs-size"},
		{in: "type=tmpfs,dst=/t,tmpfs-mode=999", err: "invalid value for tmpfs-mode"},
		{in: "type=tmpfs,src=x,dst=/t", err: "must not be specified"},
		{in: "type=volume,dst=/d,target", err: "must be a key=value pair"},
		{in: `type="bind`, err: "--mount"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMount(tt.in)
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

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "512": 512, "1k": 1024, "64m": 64 << 20, "1.5g": 3 << 29, "2MiB": 2 << 20, "10b": 10} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "m", "-1", "1x", "1e400"} {
		_, err := ParseSize(in)
		assert.Error(t, err, in)
	}
}

func TestParseVolumesFrom(t *testing.T) {
	c, m, err := ParseVolumesFrom("web:ro")
	require.NoError(t, err)
	assert.Equal(t, []string{"web", "ro"}, []string{c, m})
	c, m, err = ParseVolumesFrom("0123abcd")
	require.NoError(t, err)
	assert.Equal(t, []string{"0123abcd", ""}, []string{c, m})
	for _, in := range []string{"", ":ro", "web:rx", "web:ro:rw"} {
		_, _, err := ParseVolumesFrom(in)
		assert.Error(t, err, in)
	}
}

func TestApply(t *testing.T) {
	var hc engine.HostConfig
	f := Flags{
		Volumes:     []string{"data:/data", "/h:/h:ro", "/anon"},
		Mounts:      []string{"type=tmpfs,dst=/scratch", "type=volume,src=logs,dst=/logs"},
		Tmpfs:       []string{"/run:size=1m", "/tmp"},
		VolumesFrom: []string{"other:ro"},
	}
	require.NoError(t, f.Apply(&hc))
	assert.Equal(t, f.Volumes, hc.Binds)
	assert.Equal(t, []engine.Mount{{Type: "tmpfs", Target: "/scratch"}, {Type: "volume", Source: "logs", Target: "/logs"}}, hc.Mounts)
	assert.Equal(t, map[string]string{"/run": "size=1m", "/tmp": ""}, hc.Tmpfs)
	assert.Equal(t, []string{"other:ro"}, hc.VolumesFrom)

	for name, f := range map[string]Flags{
		"-v twice":           {Volumes: []string{"a1:/data", "/h:/data/"}},
		"-v and --mount":     {Volumes: []string{"/data"}, Mounts: []string{"type=tmpfs,dst=/data"}},
		"--tmpfs and -v":     {Volumes: []string{"/data"}, Tmpfs: []string{"/data:size=1m"}},
		"--tmpfs twice":      {Tmpfs: []string{"/data", "/data/"}},
		"--mount twice":      {Mounts: []string{"dst=/data", "type=tmpfs,target=/data"}},
		"bad --volumes-from": {VolumesFrom: []string{"x:bad"}},
	} {
		t.Run(name, func(t *testing.T) {
			hc := engine.HostConfig{Binds: []string{"kept"}}
			err := f.Apply(&hc)
			require.Error(t, err)
			if name != "bad --volumes-from" {
				assert.Equal(t, "Duplicate mount point: /data", err.Error())
			}
			assert.Equal(t, []string{"kept"}, hc.Binds, "an error changes nothing")
		})
	}
}
