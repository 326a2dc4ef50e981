package doctor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"minibox/internal/testkit"
)

func TestBaseOnThisMachine(t *testing.T) {
	testkit.RequireRoot(t)

	checks := Base()
	require.NotEmpty(t, checks)
	mustBeOK := map[string]bool{
		"root": true, "kernel": true, "cgroups": true, "filesystem: overlay": true,
		"namespace: pid": true, "namespace: uts": true, "namespace: ipc": true, "namespace: mnt": true,
		"namespace: net": true, "namespace: cgroup": true, "namespace: user": true,
	}
	seen := map[string]bool{}
	fails := 0
	for _, c := range checks {
		assert.False(t, seen[c.Name], "duplicate check %q", c.Name)
		seen[c.Name] = true
		r := c.Run()
		if r.Status == Fail {
			fails++
		}
		t.Logf("%-5s %-18s %s", r.Status, c.Name, r.Detail)
		if mustBeOK[c.Name] {
			assert.Equal(t, OK, r.Status, "%s: %s (fix: %s)", c.Name, r.Detail, r.Fix)
		}
		if r.Status != OK {
			assert.NotEmpty(t, r.Fix, "%s: a warning or failure must say how to fix it", c.Name)
		}
	}
	for name := range mustBeOK {
		assert.True(t, seen[name], "Base() has no %q check", name)
	}

	// Run prints one line per check (plus fix lines) and the summary.
	var out strings.Builder
	failed := Run(&out, checks)
	assert.Contains(t, out.String(), "doctor: ")
	assert.Equal(t, fails, failed, out.String())
	assert.Equal(t, len(checks), strings.Count(out.String(), "\n")-strings.Count(out.String(), "fix: ")-1)
}

func TestCgroupLayoutOnThisMachine(t *testing.T) {
	version, controllers, detail, err := CgroupLayout()
	require.NoError(t, err)
	assert.Contains(t, []int{1, 2}, version)
	assert.NotEmpty(t, controllers)
	assert.NotEmpty(t, detail)
	t.Logf("version %d, controllers %v: %s", version, controllers, detail)
}
