package doctor

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Canned /proc/self/mountinfo excerpts for the three cgroup layouts.
const (
	// CentOS 7 / old Debian: v1 only, joint cpu,cpuacct mount, a named
	// systemd hierarchy, no cgroup2 anywhere.
	mountinfoV1 = `19 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
22 19 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
25 19 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
31 25 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,net_cls,net_prio
32 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids
`
	// This dev machine: v1 controllers plus an empty cgroup2 at unified.
	mountinfoHybrid = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	// Ubuntu 24.04: cgroup2 at /sys/fs/cgroup, nothing else.
	mountinfoV2 = `25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
)

func TestParseCgroupMountinfo(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		wantV1 []string
		wantV2 []string
	}{
		{
			name:   "v1",
			text:   mountinfoV1,
			wantV1: []string{"cpu", "cpuacct", "memory", "net_cls", "net_prio", "pids"},
		},
		{
			name:   "hybrid",
			text:   mountinfoHybrid,
			wantV1: []string{"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"},
			wantV2: []string{"/sys/fs/cgroup/unified"},
		},
		{
			name:   "v2",
			text:   mountinfoV2,
			wantV2: []string{"/sys/fs/cgroup"},
		},
		{
			name: "bind mounted twice, escaped path, junk lines",
			text: "31 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n" +
				"90 19 0:28 / /mnt/cpu rw shared:1 master:2 - cgroup cgroup rw,cpu\n" +
				"91 19 0:37 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw\n" +
				"- cgroup cgroup rw,memory\n" +
				"92 19 0:38 / /x rw - cgroup\n" +
				"\n",
			wantV1: []string{"cpu"},
			wantV2: []string{"/mnt/my cgroup"},
		},
		{name: "empty", text: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseCgroupMountinfo(tt.text)
			assert.Equal(t, tt.wantV1, got.v1, "v1 controllers")
			assert.Equal(t, tt.wantV2, got.v2, "cgroup2 mount points")
		})
	}
}

func TestKernelRelease(t *testing.T) {
	tests := []struct {
		release string
		want    kernelVersion
		wantErr bool
		status  Status
	}{
		{release: "6.1.0-18-amd64", want: kernelVersion{6, 1, 0}, status: OK},
		{release: "5.4.0", want: kernelVersion{5, 4, 0}, status: Warn},
		{release: "4.15.0-generic", want: kernelVersion{4, 15, 0}, status: Fail},
		{release: "6.18.44-fc-v782", want: kernelVersion{6, 18, 44}, status: OK},
		{release: "5.8.0", want: kernelVersion{5, 8, 0}, status: OK},
		{release: "5.7.0", want: kernelVersion{5, 7, 0}, status: Warn},
		{release: "5.6.19", want: kernelVersion{5, 6, 19}, status: Warn},
		{release: "4.18", want: kernelVersion{4, 18, 0}, status: Warn},
		{release: "4.17.19", want: kernelVersion{4, 17, 19}, status: Fail},
		{release: "6.8.0-rc1+", want: kernelVersion{6, 8, 0}, status: OK},
		{release: "garbage", wantErr: true, status: Warn},
		{release: "", wantErr: true, status: Warn},
		{release: "6", wantErr: true, status: Warn},
		{release: "6.x", wantErr: true, status: Warn},
		{release: "99999999999999999999.1", wantErr: true, status: Warn},
	}
	for _, tt := range tests {
		t.Run(tt.release, func(t *testing.T) {
			v, err := parseKernelRelease(tt.release)
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.want, v)
			}
			r := kernelResult(tt.release)
			assert.Equal(t, tt.status, r.Status, r.Detail)
			assert.Contains(t, r.Detail, tt.release)
			if r.Status != OK {
				assert.NotEmpty(t, r.Fix)
			}
		})
	}
}

func TestRunOutput(t *testing.T) {
	checks := []Check{
		{Name: "kernel", Run: func() Result { return Result{Status: OK, Detail: "6.1.0 (need >= 5.4)"} }},
		{Name: "root", Run: func() Result { return Result{Status: Fail, Detail: "effective uid 1000", Fix: "run it with sudo"} }},
		{Name: "tool: make", Run: func() Result {
			return Result{Status: Warn, Detail: "not found on PATH", Fix: "sudo apt-get install make"}
		}},
		{Name: "ok-with-fix", Run: func() Result { return Result{Status: OK, Detail: "fine", Fix: "never printed"} }},
		{Name: "panics", Run: func() Result { panic("boom") }},
		{Name: "no run"},
		{Name: "two lines", Run: func() Result { return Result{Status: Fail, Detail: "a\nb"} }},
	}
	var out strings.Builder
	failed := Run(&out, checks)
	assert.Equal(t, 4, failed)
	want := `OK    kernel       6.1.0 (need >= 5.4)
FAIL  root         effective uid 1000
      fix: run it with sudo
WARN  tool: make   not found on PATH
      fix: sudo apt-get install make
OK    ok-with-fix  fine
FAIL  panics       check panicked: boom (a bug in the doctor)
FAIL  no run       check has no Run func (a bug in the doctor)
FAIL  two lines    a
      b
doctor: 2 OK, 1 warning, 4 failed
`
	assert.Equal(t, want, out.String())

	out.Reset()
	assert.Zero(t, Run(&out, nil))
	assert.Equal(t, "doctor: 0 OK, 0 warnings, 0 failed\n", out.String())
}

func TestToolCheck(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		r := ToolCheck("minibox-doctor-no-such-tool", "needed for testing", "install it").Run()
		assert.Equal(t, Warn, r.Status)
		assert.Contains(t, r.Detail, "needed for testing")
		assert.Equal(t, "install it", r.Fix)
	})
	t.Run("present", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "minibox-doctor-fake-tool")
		require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755))
		t.Setenv("PATH", dir)
		c := ToolCheck("minibox-doctor-fake-tool", "why", "fix")
		assert.Equal(t, "tool: minibox-doctor-fake-tool", c.Name)
		r := c.Run()
		assert.Equal(t, OK, r.Status)
		assert.Equal(t, path, r.Detail)
	})
}

func TestFileSystemCheck(t *testing.T) {
	list := filepath.Join(t.TempDir(), "filesystems")
	require.NoError(t, os.WriteFile(list, []byte("nodev\tsysfs\nnodev\tcgroup2\n\text4\nnodev\toverlay\n"), 0o644))

	r := fileSystemCheck(list, "overlay", "modprobe").Run()
	assert.Equal(t, OK, r.Status, r.Detail)
	r = fileSystemCheck(list, "ext4", "modprobe").Run()
	assert.Equal(t, OK, r.Status, r.Detail)

	r = fileSystemCheck(list, "btrfs", "sudo modprobe btrfs").Run()
	assert.Equal(t, Fail, r.Status)
	assert.Equal(t, "sudo modprobe btrfs", r.Fix)

	r = fileSystemCheck(filepath.Join(t.TempDir(), "missing"), "overlay", "x").Run()
	assert.Equal(t, Fail, r.Status)

	assert.False(t, hasFilesystem("nodev\toverlayfs\n", "overlay"), "no prefix matches")
}

func TestCgroupResult(t *testing.T) {
	all := []string{"cpu", "memory", "pids"}
	tests := []struct {
		name        string
		version     int
		controllers []string
		err         error
		want        Status
		wantMissing string
	}{
		{name: "v2 all", version: 2, controllers: []string{"cpuset", "cpu", "io", "memory", "pids"}, want: OK},
		{name: "v1 all", version: 1, controllers: all, want: OK},
		{name: "v1 no pids", version: 1, controllers: []string{"cpu", "memory"}, want: Warn, wantMissing: "missing: pids"},
		{name: "v2 none", version: 2, want: Warn, wantMissing: "missing: memory, cpu, pids"},
		{name: "nothing mounted", err: errNoCgroup, want: Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cgroupResult(tt.version, tt.controllers, "layout", tt.err)
			assert.Equal(t, tt.want, r.Status)
			if tt.wantMissing != "" {
				assert.Contains(t, r.Detail, tt.wantMissing)
				assert.Contains(t, r.Fix, "systemd.unified_cgroup_hierarchy=1")
			}
			if tt.want != OK {
				assert.NotEmpty(t, r.Fix)
			}
		})
	}
}

func TestUserNSResult(t *testing.T) {
	denied := errors.New("operation not permitted")
	none := userNSKnobs{apparmorRestrict: -1, maxUserNS: -1, unprivClone: -1}
	ubuntu := userNSKnobs{apparmorRestrict: 1, maxUserNS: 63000, unprivClone: -1}
	tests := []struct {
		name       string
		probeErr   error
		uid        int
		knobs      userNSKnobs
		want       Status
		wantDetail string
		wantFix    string
	}{
		{name: "root ok", knobs: none, want: OK, wantDetail: "created one"},
		{name: "ubuntu root ok with note", knobs: ubuntu, want: OK, wantDetail: "restricted by AppArmor"},
		{name: "ubuntu user denied", probeErr: denied, uid: 1000, knobs: ubuntu, want: Warn,
			wantDetail: "restricted by AppArmor", wantFix: "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"},
		{name: "debian clone off", probeErr: denied, uid: 1000, knobs: userNSKnobs{-1, 15000, 0}, want: Warn,
			wantDetail: "unprivileged_userns_clone=0", wantFix: "sudo sysctl kernel.unprivileged_userns_clone=1"},
		{name: "max zero", probeErr: denied, knobs: userNSKnobs{-1, 0, -1}, want: Fail,
			wantFix: "sudo sysctl user.max_user_namespaces=15000"},
		{name: "root denied", probeErr: denied, knobs: none, want: Fail, wantDetail: "operation not permitted", wantFix: "CONFIG_USER_NS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := userNSResult(tt.probeErr, tt.uid, tt.knobs)
			assert.Equal(t, tt.want, r.Status, r.Detail)
			assert.Contains(t, r.Detail, tt.wantDetail)
			assert.Contains(t, r.Fix, tt.wantFix)
			if r.Status == OK {
				assert.Empty(t, r.Fix)
			}
		})
	}
}

func FuzzParseKernelRelease(f *testing.F) {
	for _, s := range []string{"6.1.0-18-amd64", "5.4.0", "4.15.0-generic", "6.18.44-fc-v782", "garbage", "", "1.", "1.2.", "9999999999.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, release string) {
		v, err := parseKernelRelease(release)
		r := kernelResult(release)
		if err != nil {
			if r.Status != Warn {
				t.Fatalf("unparsable %q judged %v", release, r.Status)
			}
			return
		}
		again, err := parseKernelRelease(v.String())
		if err != nil || again != v {
			t.Fatalf("%q: %v does not round-trip: %v, %v", release, v, again, err)
		}
	})
}

func FuzzParseCgroupMountinfo(f *testing.F) {
	for _, s := range []string{mountinfoV1, mountinfoHybrid, mountinfoV2, "", "- cgroup", "1 2 3 4 \\0 6 - cgroup2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m := parseCgroupMountinfo(text)
		if !slices.IsSorted(m.v1) || len(slices.Compact(slices.Clone(m.v1))) != len(m.v1) {
			t.Fatalf("v1 controllers not sorted and unique: %v", m.v1)
		}
		for _, c := range m.v1 {
			if !slices.Contains(v1Controllers, c) {
				t.Fatalf("unknown controller %q", c)
			}
		}
	})
}
