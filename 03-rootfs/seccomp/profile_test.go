package seccomp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeProfile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func TestLoadValid(t *testing.T) {
	path := writeProfile(t, `{
		"defaultAction": "SCMP_ACT_ALLOW",
		"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
		            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
		"syscalls": [
			{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "no new directories"},
			{"name": "keyctl", "action": "SCMP_ACT_KILL_PROCESS"},
			{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_NE"}]},
			{"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
			{"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_BOOT"]}},
			{"names": ["s390_runtime_instr"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["s390x"]}},
			{"names": ["arch_prctl"], "action": "SCMP_ACT_LOG", "includes": {"arches": ["amd64"], "minKernel": "3.0"}},
			{"names": ["fanotify_init"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "999.0"}}
		]
	}`)
	s, err := Load(path)
	require.NoError(t, err)
	thirteen := uint(13)
	want := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &thirteen},
			{Names: []string{"keyctl"}, Action: specs.ActKillProcess},
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpNotEqual}}},
			{Names: []string{"mount"}, Action: specs.ActErrno},
			{Names: []string{"arch_prctl"}, Action: specs.ActLog},
		},
	}
	if kernelVersion()[0] == 0 {
		want.Syscalls = want.Syscalls[:4] // minKernel cannot hold
	}
	assert.Equal(t, want, s)

	// With CAP_SYS_ADMIN and CAP_SYS_BOOT: mount's rule goes, reboot's comes.
	s, err = LoadFor(path, []string{"CAP_SYS_ADMIN", "CAP_SYS_BOOT"})
	require.NoError(t, err)
	var names []string
	for _, sc := range s.Syscalls {
		names = append(names, sc.Names[0])
	}
	assert.Contains(t, names, "reboot")
	assert.NotContains(t, names, "mount")
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, json, err string
	}{
		{"empty file", ``, "not valid JSON"},
		{"syntax error", "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [}\n", "line 3, column"},
		{"wrong type", `{"defaultAction": 1}`, "field defaultAction"},
		{"no default action", `{"syscalls": []}`, `"defaultAction" is missing`},
		{"unknown default action", `{"defaultAction": "SCMP_ACT_MAYBE"}`, `defaultAction: unknown action "SCMP_ACT_MAYBE"`},
		{"errnoRet with allow", `{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}`, "only meaningful"},
		{"errnoRet too big", `{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000}`, "not an errno"},
		{"both arch forms", `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`, `both "architectures" and "archMap"`},
		{"unknown arch", `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}`, `unknown architecture "x86_64"`},
		{"unknown sub-arch", `{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_Z80"]}]}`, `archMap[0]: unknown architecture "SCMP_ARCH_Z80"`},
		{"unknown flag", `{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["LOG"]}`, `unknown flag "LOG"`},
		{"no names", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}`, "syscalls[0]: no syscall names"},
		{"name and names", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]}`, `syscalls[0] ("a"): both "name" and "names"`},
		{"empty name", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", ""], "action": "SCMP_ACT_ERRNO"}]}`, `bad syscall name ""`},
		{"no action", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"]}]}`, `syscalls[0] ("mkdir"): "action" is missing`},
		{"unknown action", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_LOG"}, {"names": ["mkdir"], "action": "DENY"}]}`, `syscalls[1] ("mkdir"): unknown action "DENY"`},
		{"bad index", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}`, "args[0]: index 6"},
		{"unknown op", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "=="}]}]}`, `args[0]: unknown op "=="`},
		{"negative value", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}`, "cannot use a JSON number"},
		{"bad minKernel", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "four"}}]}`, `minKernel "four"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeProfile(t, tc.json)
			_, err := Load(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "seccomp: profile "+path+": ", "the error names the file")
			assert.Contains(t, err.Error(), tc.err)
		})
	}
	_, err := Load(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "missing.json")
}

// TestDefaultProfileRoundTrip: the built-in profile, written as Docker's
// JSON and loaded back, is the same profile; so Load reads the format that
// Default is written in.
func TestDefaultProfileRoundTrip(t *testing.T) {
	b, err := json.MarshalIndent(DefaultProfile(), "", "\t")
	require.NoError(t, err)
	s, err := Load(writeProfile(t, string(b)))
	require.NoError(t, err)
	assert.Equal(t, Default(), s)
}

func TestDefaultResolution(t *testing.T) {
	has := func(s *specs.LinuxSeccomp, name string, act specs.LinuxSeccompAction) bool {
		for _, sc := range s.Syscalls {
			for _, n := range sc.Names {
				if n == name && sc.Action == act && len(sc.Args) == 0 {
					return true
				}
			}
		}
		return false
	}
	def := Default()
	assert.Equal(t, specs.ActErrno, def.DefaultAction)
	require.NotNil(t, def.DefaultErrnoRet)
	assert.Equal(t, uint(1), *def.DefaultErrnoRet)
	assert.Equal(t, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}, def.Architectures)
	assert.True(t, has(def, "chroot", specs.ActAllow), "CAP_SYS_CHROOT is a default capability")
	assert.True(t, has(def, "arch_prctl", specs.ActAllow))
	assert.False(t, has(def, "mount", specs.ActAllow))
	assert.False(t, has(def, "keyctl", specs.ActAllow))
	assert.False(t, has(def, "s390_runtime_instr", specs.ActAllow))

	admin := DefaultFor(append(DockerDefaultCapabilities(), "CAP_SYS_ADMIN"))
	assert.True(t, has(admin, "mount", specs.ActAllow))
	assert.True(t, has(admin, "clone", specs.ActAllow), "with CAP_SYS_ADMIN clone is allowed whatever its flags")
	assert.False(t, has(admin, "clone3", specs.ActErrno))
}

// FuzzParse: no input makes the parser, the resolver or the compiler
// panic, and whatever Parse accepts resolves.
func FuzzParse(f *testing.F) {
	b, _ := json.Marshal(DefaultProfile())
	f.Add(b)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_TRAP","archMap":[{"architecture":"SCMP_ARCH_X86_64"}],"syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","includes":{"minKernel":"4.8","caps":["CAP_X"]}}]}`))
	f.Add([]byte(`{"defaultAction":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		s, err := p.Resolve(Env{Arch: "amd64", Caps: DockerDefaultCapabilities(), Kernel: [2]int{6, 1}})
		require.NoError(t, err, "a profile that parses must resolve")
		prog, err := Compile(s)
		if err == nil {
			assert.NotEmpty(t, prog.Instructions)
		}
	})
}
