package runflags

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/03-rootfs/rootfs"
)

// These tests need no root: Apply only reads files and fills the spec.

func baseSpec() *specs.Spec {
	return &specs.Spec{
		Hostname:    "box",
		Process:     &specs.Process{Args: []string{"sh"}, Env: []string{"HOST_SECRET=1"}, Cwd: "/home/caller"},
		Linux:       &specs.Linux{},
		Annotations: map[string]string{},
	}
}

func testRootfs(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nalice:x:1500:1600:Alice:/home/alice:/bin/sh\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\nalice:x:1600:\nstaff:x:50:alice\n"), 0o644))
	return dir
}

func TestApplyDefaults(t *testing.T) {
	dir := testRootfs(t)
	spec := baseSpec()
	require.NoError(t, (&Flags{Rootfs: dir}).Apply(spec))
	assert.Equal(t, &specs.Root{Path: dir}, spec.Root)
	assert.Equal(t, []string{"PATH=" + DefaultPath, "HOSTNAME=box"}, spec.Process.Env, "no host environment")
	assert.Equal(t, "/", spec.Process.Cwd)
	assert.Equal(t, rootfs.DefaultMounts(), spec.Mounts)
	assert.Equal(t, rootfs.DefaultMaskedPaths(), spec.Linux.MaskedPaths)
	assert.Equal(t, rootfs.DefaultReadonlyPaths(), spec.Linux.ReadonlyPaths)
	assert.Equal(t, rootfs.CapabilitiesOf(rootfs.DefaultCapabilities()), spec.Process.Capabilities)
	assert.False(t, spec.Process.NoNewPrivileges)
	require.NotNil(t, spec.Linux.Seccomp, "Docker's default profile")
	assert.Equal(t, specs.ActErrno, spec.Linux.Seccomp.DefaultAction)
}

func TestApplyOptions(t *testing.T) {
	dir := testRootfs(t)
	vol := t.TempDir()
	envFile := filepath.Join(t.TempDir(), "env")
	require.NoError(t, os.WriteFile(envFile, []byte("FROM_FILE=f\nA=file\n"), 0o644))
	profile := filepath.Join(t.TempDir(), "p.json")
	require.NoError(t, os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}`), 0o644))
	t.Setenv("RUNFLAGS_TEST_VAR", "passed")
	f := &Flags{
		Rootfs: dir, EnvFiles: []string{envFile}, Env: []string{"A=flag", "RUNFLAGS_TEST_VAR", "PATH=/bin"},
		Workdir: "/work/", User: "alice", ReadOnly: true, CapDrop: []string{"net_raw"},
		SecurityOpt: []string{"no-new-privileges", "seccomp=" + profile}, Ulimits: []string{"nofile=100:200", "nofile=50:100"},
		Volumes: []string{vol + ":/data/x:ro", vol + ":/data"}, Tmpfs: []string{"/tmp:size=1m"}, TTY: true,
	}
	spec := baseSpec()
	require.NoError(t, f.Apply(spec))
	assert.Equal(t, []string{"PATH=/bin", "HOSTNAME=box", "TERM=xterm", "FROM_FILE=f", "A=flag", "RUNFLAGS_TEST_VAR=passed"}, spec.Process.Env)
	assert.Equal(t, "/work", spec.Process.Cwd)
	assert.Equal(t, specs.User{UID: 1500, GID: 1600, AdditionalGids: []uint32{50}}, spec.Process.User)
	assert.True(t, spec.Root.Readonly)
	assert.True(t, spec.Process.Terminal)
	assert.NotContains(t, spec.Process.Capabilities.Effective, "CAP_NET_RAW")
	assert.Contains(t, spec.Process.Capabilities.Effective, "CAP_CHOWN")
	assert.True(t, spec.Process.NoNewPrivileges)
	require.NotNil(t, spec.Linux.Seccomp)
	assert.Equal(t, specs.ActAllow, spec.Linux.Seccomp.DefaultAction)
	assert.Equal(t, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 50, Hard: 100}}, spec.Process.Rlimits)
	user := spec.Mounts[len(rootfs.DefaultMounts()):]
	require.Len(t, user, 3)
	assert.Equal(t, []string{"/data", "/tmp", "/data/x"}, []string{user[0].Destination, user[1].Destination, user[2].Destination}, "parents first")
}

func TestApplyPrivileged(t *testing.T) {
	spec := baseSpec()
	require.NoError(t, (&Flags{Rootfs: testRootfs(t), Privileged: true, CapDrop: []string{"ALL"}}).Apply(spec))
	assert.Equal(t, rootfs.CapabilitiesOf(rootfs.AllCapabilities()), spec.Process.Capabilities)
	assert.Empty(t, spec.Linux.MaskedPaths)
	assert.Empty(t, spec.Linux.ReadonlyPaths)
	assert.Nil(t, spec.Linux.Seccomp, "--privileged runs unconfined")
	for _, m := range spec.Mounts {
		switch m.Destination {
		case "/dev":
			assert.Equal(t, specs.Mount{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind", "nosuid"}}, m)
		case "/sys":
			assert.NotContains(t, m.Options, "ro")
		}
	}
}

func TestApplyErrors(t *testing.T) {
	dir := testRootfs(t)
	tests := []struct {
		name string
		f    Flags
		err  string
	}{
		{"no rootfs", Flags{}, "--rootfs is required"},
		{"missing rootfs", Flags{Rootfs: filepath.Join(dir, "nope")}, "no such directory"},
		{"unknown user", Flags{Rootfs: dir, User: "bob"}, "unable to find user bob: no matching entries in passwd file"},
		{"unknown group", Flags{Rootfs: dir, User: "alice:wheel"}, "unable to find group wheel"},
		{"bad user", Flags{Rootfs: dir, User: "a:b:c"}, "invalid user"},
		{"relative workdir", Flags{Rootfs: dir, Workdir: "work"}, "absolute"},
		{"bad env", Flags{Rootfs: dir, Env: []string{"=x"}}, "invalid environment variable"},
		{"missing env file", Flags{Rootfs: dir, EnvFiles: []string{filepath.Join(dir, "nope.env")}}, "--env-file"},
		{"unknown cap", Flags{Rootfs: dir, CapAdd: []string{"FLY"}}, "unknown capability"},
		{"bad volume", Flags{Rootfs: dir, Volumes: []string{"data:/data"}}, "invalid volume specification"},
		{"missing volume source", Flags{Rootfs: dir, Volumes: []string{filepath.Join(dir, "nope") + ":/data"}}, "bind source path does not exist"},
		{"duplicate mount", Flags{Rootfs: dir, Volumes: []string{dir + ":/data"}, Tmpfs: []string{"/data"}}, "duplicate mount point"},
		{"bad tmpfs", Flags{Rootfs: dir, Tmpfs: []string{"tmp"}}, "invalid --tmpfs"},
		{"bad ulimit", Flags{Rootfs: dir, Ulimits: []string{"nofile=2:1"}}, "soft limit"},
		{"ulimit above ours", Flags{Rootfs: dir, Ulimits: []string{"nofile=1:18446744073709551614"}}, ""},
		{"bad security opt", Flags{Rootfs: dir, SecurityOpt: []string{"apparmor=x"}}, "not supported"},
		{"missing seccomp profile", Flags{Rootfs: dir, SecurityOpt: []string{"seccomp=" + filepath.Join(dir, "nope.json")}}, "no such profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Apply(baseSpec())
			if tt.err == "" { // depends on the machine: CAP_SYS_RESOURCE may let it pass
				if err != nil {
					assert.Contains(t, err.Error(), "CAP_SYS_RESOURCE")
				}
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
}
