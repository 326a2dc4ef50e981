package rootfs_test

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/03-rootfs/rootfs"
)

func TestLookupUser(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	passwd := "# comment\nroot:x:0:0:root:/root:/bin/sh\nalice:x:1234:1234:Alice:/home/alice:/bin/sh\n\nbob:x:1300:100::/home/bob:/bin/sh\nbroken:x:notanumber:1::/:/bin/sh\n"
	group := "root:x:0:\nalice:x:1234:\nusers:x:100:\ndev:x:2000:alice,bob\nops:x:3000:bob,alice\nempty:x:4000:\n"
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644))

	for _, tc := range []struct {
		in   string
		want specs.User
		home string
		err  string
	}{
		{in: "root", want: specs.User{UID: 0, GID: 0}, home: "/root"},
		{in: "alice", want: specs.User{UID: 1234, GID: 1234, AdditionalGids: []uint32{2000, 3000}}, home: "/home/alice"},
		{in: "1234", want: specs.User{UID: 1234, GID: 1234, AdditionalGids: []uint32{2000, 3000}}, home: "/home/alice"},
		{in: "alice:ops", want: specs.User{UID: 1234, GID: 3000, AdditionalGids: []uint32{2000, 3000}}, home: "/home/alice"},
		{in: "bob:4000", want: specs.User{UID: 1300, GID: 4000, AdditionalGids: []uint32{2000, 3000}}, home: "/home/bob"},
		{in: "1000:1000", want: specs.User{UID: 1000, GID: 1000}, home: "/"},
		{in: "4242", want: specs.User{UID: 4242, GID: 0}, home: "/"},
		{in: "4242:dev", want: specs.User{UID: 4242, GID: 2000}, home: "/"},
		{in: "carol", err: "unable to find user carol"},
		{in: "alice:nogroup", err: "unable to find group nogroup"},
		{in: ":1", err: "invalid user"},
		{in: "alice:", err: "invalid user"},
		{in: "", err: "empty user"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, home, err := rootfs.LookupUser(root, tc.in)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, u)
			assert.Equal(t, tc.home, home)
		})
	}
}

func TestLookupUserReadsTheImageNotTheHost(t *testing.T) {
	// An image whose /etc/passwd is a symbolic link to the host's must not
	// make us read the host's file: the link is resolved inside the root.
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(root, "img"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "img/passwd"), []byte("daemon:x:777:777::/srv:/bin/sh\n"), 0o644))
	require.NoError(t, os.Symlink("/img/passwd", filepath.Join(root, "etc/passwd")))
	u, home, err := rootfs.LookupUser(root, "daemon")
	require.NoError(t, err)
	assert.Equal(t, uint32(777), u.UID)
	assert.Equal(t, "/srv", home)

	// Without any passwd file, numbers still work and names do not.
	empty := t.TempDir()
	u, home, err = rootfs.LookupUser(empty, "5:6")
	require.NoError(t, err)
	assert.Equal(t, specs.User{UID: 5, GID: 6}, u)
	assert.Equal(t, "/", home)
	_, _, err = rootfs.LookupUser(empty, "root")
	assert.Error(t, err)
}

func TestDefaultListsAreDockers(t *testing.T) {
	var dests []string
	for _, m := range rootfs.DefaultMounts() {
		dests = append(dests, m.Destination)
	}
	assert.Equal(t, []string{"/proc", "/dev", "/dev/pts", "/sys", "/dev/mqueue", "/dev/shm"}, dests)
	assert.Contains(t, rootfs.DefaultMaskedPaths(), "/proc/kcore")
	assert.Contains(t, rootfs.DefaultReadonlyPaths(), "/proc/sys")
	c := rootfs.CapabilitiesOf(rootfs.DefaultCapabilities())
	assert.Equal(t, c.Bounding, c.Effective)
	assert.Equal(t, c.Bounding, c.Permitted)
	assert.Empty(t, c.Inheritable)
	assert.Empty(t, c.Ambient)
}
