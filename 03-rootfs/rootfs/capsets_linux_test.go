package rootfs

import (
	"testing"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCapabilitySets checks wantSets on a made-up kernel: it knows
// capabilities up to last, and the runtime holds all but CAP_SYS_RESOURCE.
func TestCapabilitySets(t *testing.T) {
	known := map[string]capability.Cap{
		"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12,
		"CAP_NET_RAW": 13, "CAP_SYS_ADMIN": 21, "CAP_SYS_RESOURCE": 24, "CAP_CHECKPOINT_RESTORE": 40,
	}
	byName := func(n string) (capability.Cap, bool) { c, ok := known[n]; return c, ok }
	const last = capability.Cap(39) // CAP_CHECKPOINT_RESTORE (40) is newer than this kernel
	held := func(c capability.Cap) bool { return c != 24 }
	want := func(lc *specs.LinuxCapabilities) capSets {
		t.Helper()
		s, err := wantSets(lc, byName, last, held)
		require.NoError(t, err)
		return s
	}

	t.Run("each list is its own mask", func(t *testing.T) {
		s := want(&specs.LinuxCapabilities{
			Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
			Effective:   []string{"CAP_KILL"},
			Permitted:   []string{"CAP_KILL", "CAP_NET_RAW"},
			Inheritable: []string{"CAP_NET_ADMIN"},
		})
		assert.Equal(t, capSets{Bounding: 1<<0 | 1<<5 | 1<<13, Effective: 1 << 5, Permitted: 1<<5 | 1<<13, Inheritable: 1 << 12}, s)
	})
	t.Run("docker's default", func(t *testing.T) {
		all := map[string]capability.Cap{}
		for _, c := range capability.ListKnown() {
			all[capName(c)] = c
		}
		s, err := wantSets(CapabilitiesOf(DefaultCapabilities()), func(n string) (capability.Cap, bool) { c, ok := all[n]; return c, ok },
			capability.Cap(40), func(capability.Cap) bool { return true })
		require.NoError(t, err)
		// The CapEff of `docker run` (capsh --decode=00000000a80425fb).
		assert.Equal(t, capSets{Bounding: 0xa80425fb, Effective: 0xa80425fb, Permitted: 0xa80425fb}, s)
	})
	t.Run("an empty spec has empty sets", func(t *testing.T) {
		assert.Equal(t, capSets{}, want(&specs.LinuxCapabilities{}))
	})
	t.Run("ambient only where permitted and inheritable", func(t *testing.T) {
		s := want(&specs.LinuxCapabilities{
			Permitted:   []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_KILL"},
			Inheritable: []string{"CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_KILL"},
			Ambient:     []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_CHOWN", "CAP_SYS_ADMIN"},
		})
		assert.Equal(t, uint64(1<<10), s.Ambient, "NET_RAW is not inheritable, CHOWN not permitted, SYS_ADMIN neither; KILL is not asked for")
		assert.Equal(t, uint64(1<<10|1<<13|1<<5), s.Permitted, "the other sets keep what they list")
	})
	t.Run("newer than the kernel: skipped", func(t *testing.T) {
		s := want(&specs.LinuxCapabilities{Bounding: []string{"CAP_CHECKPOINT_RESTORE", "CAP_CHOWN"}})
		assert.Equal(t, capSets{Bounding: 1}, s)
	})
	t.Run("errors", func(t *testing.T) {
		_, err := wantSets(&specs.LinuxCapabilities{Effective: []string{"CAP_CHOWN", "CAP_FLY"}}, byName, last, held)
		assert.ErrorContains(t, err, `unknown capability "CAP_FLY"`)
		_, err = wantSets(&specs.LinuxCapabilities{Permitted: []string{"CAP_SYS_RESOURCE"}}, byName, last, held)
		assert.ErrorContains(t, err, "CAP_SYS_RESOURCE (permitted set) is not in the runtime's own bounding set")
		_, err = wantSets(&specs.LinuxCapabilities{Ambient: []string{"CAP_SYS_RESOURCE"}}, byName, last, held)
		assert.ErrorContains(t, err, "CAP_SYS_RESOURCE (ambient set)")
	})
}
