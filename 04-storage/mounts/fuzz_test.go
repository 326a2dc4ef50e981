package mounts

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkMount holds for every Mount the parsers accept.
func checkMount(t *testing.T, typ, source, target string, volumeName bool) {
	require.True(t, filepath.IsAbs(target), target)
	require.Equal(t, filepath.Clean(target), target)
	require.NotEqual(t, "/", target)
	require.NotContains(t, source+target, "\x00")
	switch typ {
	case "bind":
		require.True(t, filepath.IsAbs(source))
	case "volume":
		if source != "" && volumeName {
			require.NotContains(t, source, "/")
		}
	case "tmpfs":
		require.Empty(t, source)
	default:
		t.Fatalf("type %q", typ)
	}
}

func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/a", "v1:/b", "v1:/b:ro,nocopy", "/a:/b:ro,rslave,z", "./a:/b", "a:/b", "/a:/", "v1:/b:c:d", "/a:rw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseVolume(s)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "invalid volume specification: "), err.Error())
			return
		}
		checkMount(t, m.Type, m.Source, m.Target, true)
		if m.Type == "bind" {
			require.False(t, m.VolumeNoCopy)
		}
	})
}

func FuzzParseMount(f *testing.F) {
	for _, s := range []string{"type=bind,src=/a,dst=/b", "dst=/d,ro", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700", `"src=a,b",dst=/c`, "x=y", "type=volume,src=v1,dst=/d,volume-nocopy=true"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMount(s)
		if err != nil {
			return
		}
		checkMount(t, m.Type, m.Source, m.Target, true)
		require.Equal(t, m.Type == "bind", m.BindNoCreate)
		require.LessOrEqual(t, m.TmpfsMode, uint32(0o7777))
		require.GreaterOrEqual(t, m.TmpfsSize, int64(0))
	})
}
