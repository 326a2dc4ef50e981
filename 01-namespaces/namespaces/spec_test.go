package namespaces

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func nsList(types ...specs.LinuxNamespaceType) *specs.Spec {
	s := &specs.Spec{Linux: &specs.Linux{}}
	for _, t := range types {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
	return s
}

func TestCloneFlags(t *testing.T) {
	tests := []struct {
		name    string
		spec    *specs.Spec
		want    uintptr
		wantErr string
	}{
		{"no linux section", &specs.Spec{}, 0, ""},
		{"none", nsList(), 0, ""},
		{"pid only", nsList(specs.PIDNamespace), unix.CLONE_NEWPID, ""},
		{"network and mount", nsList(specs.NetworkNamespace, specs.MountNamespace), unix.CLONE_NEWNET | unix.CLONE_NEWNS, ""},
		{"all seven", nsList(specs.PIDNamespace, specs.UTSNamespace, specs.IPCNamespace, specs.MountNamespace,
			specs.NetworkNamespace, specs.CgroupNamespace, specs.UserNamespace),
			unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNS | unix.CLONE_NEWNET |
				unix.CLONE_NEWCGROUP | unix.CLONE_NEWUSER, ""},
		{"uts and ipc", nsList(specs.UTSNamespace, specs.IPCNamespace), unix.CLONE_NEWUTS | unix.CLONE_NEWIPC, ""},
		{"cgroup", nsList(specs.CgroupNamespace), unix.CLONE_NEWCGROUP, ""},
		{"unknown type", nsList("bogus"), 0, `"bogus": not supported`},
		{"time is not cloneable", nsList(specs.TimeNamespace), 0, "not supported"},
		{"listed twice", nsList(specs.PIDNamespace, specs.PIDNamespace), 0, "listed twice"},
		{"join by path: no flag", &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.NetworkNamespace, Path: "/run/netns/x"}}}}, 0, ""},
		{"create some, join others", &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/run/netns/x"},
			{Type: specs.MountNamespace}, {Type: specs.UTSNamespace, Path: "/proc/1/ns/uts"}}}},
			unix.CLONE_NEWPID | unix.CLONE_NEWNS, ""},
		{"created and joined", &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.NetworkNamespace}, {Type: specs.NetworkNamespace, Path: "/run/netns/x"}}}}, 0, `"network": listed twice`},
		{"unknown type with a path", &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: "bogus", Path: "/run/netns/x"}}}}, 0, `"bogus": not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cloneFlags(tt.spec)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, FlagNames(tt.want), FlagNames(got))
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNewSpec(t *testing.T) {
	s, err := NewSpec(Config{Args: []string{"sh"}, Hostname: "box-1"})
	require.NoError(t, err)
	assert.Equal(t, "box-1", s.Hostname)
	assert.Equal(t, []string{"sh"}, s.Process.Args)
	assert.Equal(t, "/", s.Process.Cwd)
	flags, err := cloneFlags(s)
	require.NoError(t, err)
	assert.Equal(t, uintptr(unix.CLONE_NEWPID|unix.CLONE_NEWUTS|unix.CLONE_NEWIPC|unix.CLONE_NEWNS|unix.CLONE_NEWNET|unix.CLONE_NEWCGROUP), flags)
	assert.Empty(t, s.Linux.UIDMappings)
	assert.Empty(t, s.Annotations[InitAnnotation])

	s, err = NewSpec(Config{Args: []string{"sh"}, Init: true, UserNS: &IDMap{0, 200000, 1000}})
	require.NoError(t, err)
	assert.Len(t, s.Hostname, 12, "a random 12-digit ID when no hostname is given")
	assert.Equal(t, "true", s.Annotations[InitAnnotation])
	assert.Equal(t, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 1000}}, s.Linux.UIDMappings)
	assert.Equal(t, s.Linux.UIDMappings, s.Linux.GIDMappings)
	assert.True(t, HasNamespace(s, specs.UserNamespace))

	_, err = NewSpec(Config{})
	assert.ErrorContains(t, err, "no command")
	_, err = NewSpec(Config{Args: []string{"sh"}, Hostname: "a b"})
	assert.ErrorContains(t, err, "invalid hostname")
}

func TestValidateHostname(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"box", true}, {"web-1", true}, {"a.b.c", true}, {"A1", true}, {strings.Repeat("a", 63), true},
		{"", false}, {strings.Repeat("a", 64), false}, {"-box", false}, {"box-", false}, {"a..b", false},
		{"a_b", false}, {"a b", false}, {"é", false}, {"a/b", false}, {".", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateHostname(tt.in)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, "invalid hostname")
			}
		})
	}
}

func TestParseIDMap(t *testing.T) {
	tests := []struct {
		in      string
		want    IDMap
		wantErr bool
	}{
		{"100000:65536", IDMap{0, 100000, 65536}, false},
		{"200000", IDMap{0, 200000, 65536}, false},
		{"0:300000:10", IDMap{0, 300000, 10}, false},
		{"1:300000:10", IDMap{1, 300000, 10}, false},
		{"", IDMap{}, true},
		{"x", IDMap{}, true},
		{"1:2:3:4", IDMap{}, true},
		{"100000:0", IDMap{}, true},
		{"-1", IDMap{}, true},
		{"4294967295:2", IDMap{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseIDMap(tt.in)
			if tt.wantErr {
				assert.ErrorContains(t, err, "invalid user namespace mapping")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestExitCode(t *testing.T) {
	// A wait status packs the exit code in bits 8-15, or the signal in bits 0-6.
	exited := func(code int) unix.WaitStatus { return unix.WaitStatus(code << 8) }
	signaled := func(sig unix.Signal) unix.WaitStatus { return unix.WaitStatus(sig) }
	tests := []struct {
		name string
		ws   unix.WaitStatus
		want int
	}{
		{"success", exited(0), 0},
		{"exit 1", exited(1), 1},
		{"exit 42", exited(42), 42},
		{"exit 255", exited(255), 255},
		{"SIGKILL", signaled(unix.SIGKILL), 137},
		{"SIGTERM", signaled(unix.SIGTERM), 143},
		{"SIGINT", signaled(unix.SIGINT), 130},
		{"SIGSEGV with core dump", unix.WaitStatus(int(unix.SIGSEGV) | 0x80), 139},
		{"SIGUSR2", signaled(unix.SIGUSR2), 140},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ExitCode(tt.ws))
		})
	}
}

func TestLookPath(t *testing.T) {
	p, code, err := LookPath("sh", []string{"PATH=/nonexistent:/bin:/usr/bin"})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Contains(t, p, "/sh")

	_, code, err = LookPath("no-such-command-here", []string{"PATH=/bin"})
	assert.Equal(t, 127, code)
	assert.ErrorContains(t, err, "executable file not found in $PATH")

	_, code, err = LookPath("/etc/passwd", nil)
	assert.Equal(t, 126, code)
	assert.ErrorContains(t, err, "permission denied")

	_, code, err = LookPath("/etc", nil)
	assert.Equal(t, 126, code)
	assert.ErrorContains(t, err, "is a directory")

	_, code, err = LookPath("/no/such/file", nil)
	assert.Equal(t, 127, code)
	assert.ErrorContains(t, err, "no such file")
}

func FuzzValidateHostname(f *testing.F) {
	for _, s := range []string{"box", "a.b", "-x", "", "a_b", strings.Repeat("z", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateHostname(s) != nil {
			return
		}
		// Whatever we accept, the kernel must accept too.
		if len(s) > 64 || len(s) == 0 || strings.ContainsAny(s, " /_\x00") {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzParseIDMap(f *testing.F) {
	for _, s := range []string{"100000:65536", "1", "0:1:1", "::", "-1", "4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseIDMap(s)
		if err != nil {
			return
		}
		if m.Size == 0 || uint64(m.HostID)+uint64(m.Size) >= 1<<32 {
			t.Fatalf("accepted %q as %+v", s, m)
		}
	})
}

func TestSplitJoins(t *testing.T) {
	spec := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/run/netns/blue"},
		{Type: specs.MountNamespace}, {Type: specs.UTSNamespace, Path: "/proc/1/ns/uts"},
	}}}
	created, joins, err := splitJoins(spec)
	require.NoError(t, err)
	assert.Equal(t, []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}}, created.Linux.Namespaces)
	require.Len(t, joins, 2)
	assert.Equal(t, "/run/netns/blue", joins[0].path)
	assert.Len(t, spec.Linux.Namespaces, 4, "the caller's spec is not changed")
	assert.True(t, HasNamespace(spec, specs.NetworkNamespace))
	assert.Equal(t, "/run/netns/blue", findNamespace(spec, specs.NetworkNamespace).Path, "joined, not new")
	assert.Nil(t, findNamespace(spec, specs.UserNamespace))

	same, joins, err := splitJoins(&specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}}}})
	require.NoError(t, err)
	assert.Empty(t, joins)
	assert.Len(t, same.Linux.Namespaces, 1)

	for _, typ := range []specs.LinuxNamespaceType{specs.MountNamespace, specs.UserNamespace} {
		_, _, err := splitJoins(&specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: typ, Path: "/proc/1/ns/x"}}}})
		assert.ErrorContains(t, err, "single-threaded", string(typ))
	}
}
