package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseMountOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []string
		flags uintptr
		prop  []uintptr
		data  string
	}{
		{"empty", nil, 0, nil, ""},
		{"proc", []string{"nosuid", "noexec", "nodev"}, unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, nil, ""},
		{"tmpfs data", []string{"nosuid", "strictatime", "mode=755", "size=65536k"}, unix.MS_NOSUID | unix.MS_STRICTATIME, nil, "mode=755,size=65536k"},
		{"rbind ro", []string{"rbind", "ro"}, unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, nil, ""},
		{"later word wins", []string{"ro", "rw", "noexec", "exec", "suid", "nosuid"}, unix.MS_NOSUID, nil, ""},
		{"propagation", []string{"bind", "rprivate", "slave"}, unix.MS_BIND, []uintptr{unix.MS_PRIVATE | unix.MS_REC, unix.MS_SLAVE}, ""},
		{"devpts", []string{"newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}, 0, nil, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"defaults", []string{"defaults"}, 0, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := parseMountOptions(tc.in)
			assert.Equal(t, mountFlagNames(tc.flags), mountFlagNames(o.flags))
			assert.Equal(t, tc.prop, o.propagation)
			assert.Equal(t, tc.data, o.data)
		})
	}
}

func TestIsBind(t *testing.T) {
	assert.True(t, isBind("bind", 0))
	assert.True(t, isBind("", parseMountOptions([]string{"rbind"}).flags))
	assert.True(t, isBind("none", parseMountOptions([]string{"bind"}).flags))
	assert.False(t, isBind("tmpfs", parseMountOptions([]string{"nosuid"}).flags))
}

func TestMountErrorNamesEverything(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"bind", mountErr("mount", "/a", "/b", "", unix.MS_BIND|unix.MS_REC, ""), "mount MS_BIND|MS_REC /a on /b: permission denied"},
		{"fs", mountErr("mount", "proc", "/r/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""), "mount -t proc MS_NOSUID|MS_NODEV|MS_NOEXEC proc on /r/proc: permission denied"},
		{"data", mountErr("mount", "tmpfs", "/r/dev", "tmpfs", unix.MS_NOSUID, "mode=755"), "mount -t tmpfs MS_NOSUID -o mode=755 tmpfs on /r/dev: permission denied"},
		{"remount", mountErr("mount", "", "/r", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""), `mount MS_RDONLY|MS_REMOUNT|MS_BIND "" on /r: permission denied`},
		{"umount", &MountError{Op: "umount2", Target: ".", Flags: unix.MNT_DETACH, Err: unix.EPERM}, "umount2 MNT_DETACH .: operation not permitted"},
		{"pivot", &MountError{Op: "pivot_root", Source: ".", Target: ".", Err: unix.EINVAL}, "pivot_root new root ., old root to .: invalid argument"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.err.Error()) })
	}
	var me *MountError
	err := error(mountErr("mount", "/a", "/b", "", unix.MS_BIND, ""))
	assert.True(t, errors.As(err, &me))
	assert.ErrorIs(t, err, unix.EACCES, "the errno stays reachable through Unwrap")
}

func mountErr(op, src, dst, typ string, flags uintptr, data string) *MountError {
	return &MountError{Op: op, Source: src, Target: dst, FSType: typ, Flags: flags, Data: data, Err: unix.EACCES}
}

func TestMountFlagNamesUnknownBits(t *testing.T) {
	assert.Equal(t, "0", mountFlagNames(0))
	assert.Equal(t, "MS_RDONLY|0x40000000", mountFlagNames(unix.MS_RDONLY|1<<30))
}

func TestInRootNeverLeavesRoot(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "real/dir"), 0o755))
	for link, target := range map[string]string{
		"abs":     "/real",          // absolute: starts again at root
		"up":      "../../../../..", // climbs above root: stops at root
		"escape":  "/../../etc",
		"chain":   "abs/dir",
		"loop":    "loop",
		"dangles": "/nowhere/yet",
	} {
		require.NoError(t, os.Symlink(target, filepath.Join(root, link)))
	}
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/real/dir", "/real/dir"},
		{"/abs/dir", "/real/dir"},
		{"/up/real", "/real"},
		{"/escape/passwd", "/etc/passwd"},
		{"/chain", "/real/dir"},
		{"/real/../../../x", "/x"},
		{"/dangles/file", "/nowhere/yet/file"},
		{"relative/./path", "/relative/path"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := InRoot(root, tc.in)
			require.NoError(t, err)
			assert.Equal(t, filepath.Join(root, tc.want), got)
		})
	}
	_, err := InRoot(root, "/loop/x")
	assert.ErrorContains(t, err, "too many levels of symbolic links")
}

func TestCheckSysctls(t *testing.T) {
	ns := func(types ...specs.LinuxNamespaceType) []specs.LinuxNamespace {
		var out []specs.LinuxNamespace
		for _, t := range types {
			out = append(out, specs.LinuxNamespace{Type: t})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		sysctl string
		ns     []specs.LinuxNamespace
		err    string
	}{
		{"net in netns", "net.ipv4.ip_forward", ns(specs.NetworkNamespace), ""},
		{"net without netns", "net.ipv4.ip_forward", ns(specs.IPCNamespace), "shares with the host"},
		{"ipc", "kernel.shmmax", ns(specs.IPCNamespace), ""},
		{"mqueue prefix", "fs.mqueue.msg_max", ns(specs.IPCNamespace), ""},
		{"global", "kernel.panic", ns(specs.IPCNamespace, specs.NetworkNamespace), "not namespaced"},
		{"prefix is not a match", "kernel.shmmaxx", ns(specs.IPCNamespace), "not namespaced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &specs.Spec{Linux: &specs.Linux{Namespaces: tc.ns, Sysctl: map[string]string{tc.sysctl: "1"}}}
			err := checkSysctls(spec)
			if tc.err == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tc.err)
			}
		})
	}
}

func TestDefaultCapabilitiesAreKnown(t *testing.T) {
	for _, name := range DefaultCapabilities() {
		_, ok := capByName[name]
		assert.True(t, ok, name)
	}
	assert.Len(t, DefaultCapabilities(), 14)
}

func TestSetHomeKeepsAGivenHome(t *testing.T) {
	spec := &specs.Spec{Process: &specs.Process{Env: []string{"HOME=/x"}}}
	setHome(spec)
	assert.Equal(t, []string{"HOME=/x"}, spec.Process.Env)
}
